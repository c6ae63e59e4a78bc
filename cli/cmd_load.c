/* `meshlab load`: fortio's `load` for the lab. Sends HTTP/1.1 requests at a fixed rate (open
 * loop, latency from each request's intended send time) or as fast as possible (--qps 0), then
 * prints a fortio-style summary ending in one `Code N : count (pct %)` line per status and one
 * `Flag XX : count (pct %)` line per Envoy response flag, or the same as JSON (-o json). The
 * output and flags are pinned in ../shared/CLI.md; the engine is mesh/loadgen.c.
 *
 * Where requests go: straight to the URL's address, through an explicit proxy (--proxy), or
 * through a workload's sidecar (--from WORKLOAD: its outbound listener, read from the lab's
 * state folder), so that workload's client-side policies apply, as when Istio's
 * circuit-breaking task runs `fortio load` inside the fortio pod.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "mesh/labdir.h"
#include "mesh/loadgen.h"

#define MAX_HEADERS 64

void cmd_load_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab load URL [flags]\n\n"
          "Sends HTTP/1.1 GET requests (or -X METHOD) to URL over keep-alive connections and\n"
          "reports the achieved rate, latency percentiles, and counts by status code and by\n"
          "Envoy response flag, like fortio. At a fixed --qps each connection keeps its own\n"
          "schedule and latency is measured from each request's intended send time, so a\n"
          "stalled server shows up in the percentiles instead of slowing the generator down.\n"
          "Requests that get no response (refused, reset, timed out) count as code -1.\n\n"
          "Flags:\n"
          "  --qps N              total requests per second (default 8; 0 = as fast as possible)\n"
          "  -c, --connections C  keep-alive connections (default 4)\n"
          "  -t, --duration D     how long to run (default 5s)\n"
          "  -n, --requests N     send exactly N requests instead of running for a duration\n"
          "  -H \"name: value\"     add a request header (repeatable; Host overrides the URL's)\n"
          "  -X METHOD            request method (default GET)\n"
          "  --from WORKLOAD      send through that workload's sidecar (a deployment: its first\n"
          "                       replica; or a replica name), so its client policies apply\n"
          "  --namespace NS       the namespace of --from (default: default, else the one\n"
          "                       namespace holding that replica name)\n"
          "  --proxy HOST:PORT    send through an explicit HTTP proxy (absolute-form targets)\n"
          "  --timeout D          per connect and per request (default 10s; then code -1)\n"
          "  --spin-us N          busy-wait the last N microseconds before each send: sends on time\n"
          "                       to a few microseconds, at the cost of CPU (benchmarks; default 0)\n"
          "  --lab-dir DIR        the lab's state folder (for --from; default $MESHLAB_HOME,\n"
          "                       else $XDG_STATE_HOME/meshlab, else ~/.local/state/meshlab)\n"
          "  -o json              print the result as JSON\n\n"
          "Without --from or --proxy the URL's host must be a numeric IP or localhost; service\n"
          "names are resolved by a sidecar. Durations take units: 500ms, 2s, 1m.\n"
          "Exit codes: 0 the run completed (whatever the status codes), 1 no connection could\n"
          "be made, 2 bad flags, 3 --from without a running lab.\n");
}

struct load_opts {
  const char *url, *method, *from, *proxy, *lab_dir, *output;
  const char *ns; /* --namespace of --from (no -n: that is --requests, as in fortio) */
  const char *headers[MAX_HEADERS];
  size_t nheaders;
  double qps;
  uint64_t connections, duration_ms, requests, timeout_ms, spin_us;
  int duration_set;
};

/* Parses a whole decimal number in [min, max]. */
static int parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  char *end;
  if (!s || !*s || strspn(s, "0123456789") != strlen(s)) return -EINVAL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || v < min || v > max) return -EINVAL;
  *out = v;
  return 0;
}

static int parse_opts(int argc, char **argv, struct load_opts *o) {
  const char *cmd = argv[0];
  o->method = "GET";
  o->qps = 8; /* fortio's defaults: 8 qps, 4 connections, 5 s */
  o->connections = 4;
  o->duration_ms = 5000;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc;
#define FLAG(name, short_name) ((rc = args_flag(argc, argv, &i, name, short_name, &v)) != 0)
    if (FLAG("qps", "-qps")) {
      if (rc < 0) return 2;
      char *end;
      o->qps = strtod(v, &end);
      if (!*v || *end || !isfinite(o->qps) || o->qps < 0 || o->qps > 1e7)
        return args_usage_error(cmd,
                                "--qps: \"%s\" is not a rate (requests per second, e.g. 100 or 0.5; 0 = as fast "
                                "as possible)",
                                v);
    } else if (FLAG("connections", "-c")) {
      if (rc < 0) return 2;
      if (parse_count(v, 1, 10000, &o->connections))
        return args_usage_error(cmd, "--connections: \"%s\" is not a number of connections (1 to 10000)", v);
    } else if (FLAG("duration", "-t")) {
      if (rc < 0) return 2;
      if (args_duration_ms(v, &o->duration_ms) || o->duration_ms == 0)
        return args_usage_error(cmd, "--duration: \"%s\" is not a duration with a unit (500ms, 2s, 1m)", v);
      o->duration_set = 1;
    } else if (FLAG("requests", "-n")) {
      if (rc < 0) return 2;
      if (parse_count(v, 1, UINT64_C(1000000000), &o->requests))
        return args_usage_error(cmd, "--requests: \"%s\" is not a number of requests (1 or more)", v);
    } else if (FLAG("header", "-H")) {
      if (rc < 0) return 2;
      if (o->nheaders == MAX_HEADERS) return args_usage_error(cmd, "-H: at most %d headers", MAX_HEADERS);
      o->headers[o->nheaders++] = v;
    } else if (FLAG("method", "-X")) {
      if (rc < 0) return 2;
      o->method = v;
    } else if (FLAG("from", NULL)) {
      if (rc < 0) return 2;
      o->from = v;
    } else if (FLAG("proxy", NULL)) {
      if (rc < 0) return 2;
      o->proxy = v;
    } else if (FLAG("namespace", NULL)) {
      if (rc < 0) return 2;
      o->ns = v;
    } else if (FLAG("lab-dir", NULL)) {
      if (rc < 0) return 2;
      o->lab_dir = v;
    } else if (FLAG("timeout", NULL)) {
      if (rc < 0) return 2;
      if (args_duration_ms(v, &o->timeout_ms) || o->timeout_ms == 0)
        return args_usage_error(cmd, "--timeout: \"%s\" is not a duration with a unit (500ms, 2s, 1m)", v);
    } else if (FLAG("spin-us", NULL)) {
      if (rc < 0) return 2;
      if (parse_count(v, 0, 10000, &o->spin_us))
        return args_usage_error(cmd, "--spin-us: \"%s\" is not a number of microseconds (0 to 10000)", v);
    } else if (FLAG("output", "-o")) {
      if (rc < 0) return 2;
      if (strcmp(v, "json") != 0) return args_usage_error(cmd, "-o: \"%s\" is not an output format (json)", v);
      o->output = v;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      return args_usage_error(cmd, "unknown flag \"%s\"", argv[i]);
    } else if (o->url) {
      return args_usage_error(cmd, "one URL only (got \"%s\" and \"%s\")", o->url, argv[i]);
    } else {
      o->url = argv[i];
    }
#undef FLAG
  }
  if (!o->url) return args_usage_error(cmd, "a URL is required: meshlab load http://HOST:PORT/PATH");
  if (o->duration_set && o->requests)
    return args_usage_error(cmd, "--duration and --requests exclude each other: run for a time, or for a count");
  if (o->from && o->proxy)
    return args_usage_error(cmd, "--from and --proxy exclude each other (--from uses the workload's sidecar as proxy)");
  return 0;
}

/* Nonzero when name is `<workload>-<index>`. */
static int replica_of(const char *name, const char *workload, long *index) {
  size_t n = strlen(workload);
  if (strncmp(name, workload, n) != 0 || name[n] != '-' || !name[n + 1]) return 0;
  const char *digits = name + n + 1;
  if (strspn(digits, "0123456789") != strlen(digits)) return 0;
  *index = strtol(digits, NULL, 10);
  return 1;
}

/* --from: the outbound listener of the workload's sidecar, from the lab's state folder
 * (<replica folder>/outbound holds HOST:PORT, labdir.h). A replica name picks that replica; a
 * workload name its lowest-numbered replica, in --namespace (default: default). Returns an exit
 * code: 0 with *addr and replica set. */
static int resolve_from(const struct load_opts *o, struct conn_addr *addr, char *replica, size_t n) {
  char dir[4096];
  if (labdir_resolve(o->lab_dir, dir, sizeof dir) != 0 || !labdir_running(dir)) {
    fprintf(stderr, "%s\n", LABDIR_NO_LAB);
    return LABDIR_EXIT_NO_LAB;
  }
  char rel[1024], text[256];
  snprintf(replica, n, "%s", o->from);
  char folder[600];
  int rc = o->ns ? labdir_replica_rel(folder, sizeof folder, o->ns, o->from)
                 : labdir_replica_find(dir, o->from, folder, sizeof folder);
  if (rc == 0) {
    snprintf(rel, sizeof rel, "%s/outbound", folder);
    rc = labdir_read(dir, rel, text, sizeof text);
  }
  if (rc != 0) {
    char replicas[4200];
    labdir_path(replicas, sizeof replicas, dir, "replicas");
    DIR *d = opendir(replicas);
    long best = -1, index;
    struct dirent *e;
    /* Folders of that namespace: "<replica>" in default, "<replica>.<ns>" elsewhere. */
    bool other_ns = o->ns && *o->ns && strcmp(o->ns, "default") != 0;
    while (d && (e = readdir(d))) {
      char name[256];
      snprintf(name, sizeof name, "%s", e->d_name);
      char *dot = strchr(name, '.');
      if (other_ns ? !dot || strcmp(dot + 1, o->ns) != 0 : dot != NULL) continue;
      if (dot) *dot = '\0';
      if (replica_of(name, o->from, &index) && (best < 0 || index < best)) {
        best = index;
        snprintf(replica, n, "%s", name);
      }
    }
    if (d) closedir(d);
    if (best >= 0 && labdir_replica_rel(folder, sizeof folder, o->ns, replica) == 0) {
      snprintf(rel, sizeof rel, "%s/outbound", folder);
      rc = labdir_read(dir, rel, text, sizeof text);
    }
  }
  if (rc != 0) {
    fprintf(stderr,
            "meshlab load: --from %s: no such workload or replica with a sidecar in the lab at %s "
            "(see: meshlab status)\n",
            o->from, dir);
    return 1;
  }
  if (conn_addr_parse(addr, text) != 0) {
    fprintf(stderr, "meshlab load: --from %s: %s/%s holds \"%s\", not HOST:PORT\n", o->from, dir, rel, text);
    return 1;
  }
  return 0;
}

/* ---- output ---- */

static void json_string(struct buf *b, const char *s) {
  buf_append(b, "\"", 1);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') buf_appendf(b, "\\%c", ch);
    else if (ch < 0x20) buf_appendf(b, "\\u%04x", ch);
    else buf_append(b, s, 1);
  }
  buf_append(b, "\"", 1);
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

static double pct(uint64_t n, uint64_t total) { return total ? 100.0 * (double)n / (double)total : 0; }

static void print_json(const struct load_opts *o, const struct loadgen_result *r) {
  struct buf b = {0};
  const struct hist *l = &r->latency;
  buf_append_str(&b, "{\"url\": ");
  json_string(&b, o->url);
  buf_appendf(&b,
              ", \"target_qps\": %g, \"connections\": %llu, \"requests\": %llu, \"errors\": %llu, \"qps\": %.1f, "
              "\"duration_s\": %.3f, \"sockets\": %llu,\n \"latency_ms\": {\"p50\": %.3f, \"p90\": %.3f, "
              "\"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f, \"mean\": %.3f},\n ",
              o->qps, (unsigned long long)o->connections, (unsigned long long)r->requests,
              (unsigned long long)r->errors, r->qps, r->duration_s, (unsigned long long)r->sockets,
              ms(hist_quantile(l, 0.5)), ms(hist_quantile(l, 0.9)), ms(hist_quantile(l, 0.99)),
              ms(hist_quantile(l, 0.999)), ms(hist_max(l)), hist_mean(l) / 1e6);
  const struct hist *late = &r->lateness;
  if (o->qps > 0)
    buf_appendf(&b, "\"lateness_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f},\n \"codes\": {",
                ms(hist_quantile(late, 0.5)), ms(hist_quantile(late, 0.99)), ms(hist_max(late)));
  else buf_append_str(&b, "\"codes\": {");
  const char *sep = "";
  if (r->errors) {
    buf_appendf(&b, "\"-1\": %llu", (unsigned long long)r->errors);
    sep = ", ";
  }
  for (int code = 0; code < LOADGEN_MAX_STATUS; code++)
    if (r->codes[code]) {
      buf_appendf(&b, "%s\"%d\": %llu", sep, code, (unsigned long long)r->codes[code]);
      sep = ", ";
    }
  buf_append_str(&b, "}, \"flags\": {");
  sep = "";
  for (unsigned bit = 0; bit < FLAG_COUNT; bit++)
    if (r->flags[bit]) {
      buf_appendf(&b, "%s\"%s\": %llu", sep, flag_name(1u << bit), (unsigned long long)r->flags[bit]);
      sep = ", ";
    }
  buf_append_str(&b, "}}\n");
  fwrite(b.data, 1, b.len, stdout);
  buf_free(&b);
}

static void print_start(const struct load_opts *o, const char *via) {
  printf("meshlab load: %s", o->url);
  if (o->qps > 0) printf(" at %g qps (open loop)", o->qps);
  else printf(" at max qps (closed loop)");
  printf(", %llu connection%s, ", (unsigned long long)o->connections, o->connections == 1 ? "" : "s");
  if (o->requests) printf("%llu requests\n", (unsigned long long)o->requests);
  else printf("for %.3g s\n", (double)o->duration_ms / 1000.0);
  if (via[0]) printf("Sending through %s\n", via);
  fflush(stdout);
}

/* fortio's tail: the summary, then `Code` lines (sorted, -1 first) and `Flag` lines. */
static void print_text(const struct load_opts *o, const struct loadgen_result *r) {
  const struct hist *l = &r->latency;
  char target[32] = "max";
  if (o->qps > 0) snprintf(target, sizeof target, "%g", o->qps);
  printf("Ended after %.3f s : %llu calls. qps=%.1f (target %s)%s\n", r->duration_s, (unsigned long long)r->requests,
         r->qps, target, r->interrupted ? ", interrupted" : "");
  printf("Latency ms (%s): p50 %.3f, p90 %.3f, p99 %.3f, p99.9 %.3f, max %.3f\n",
         o->qps > 0 ? "from each request's intended send time" : "round trip", ms(hist_quantile(l, 0.5)),
         ms(hist_quantile(l, 0.9)), ms(hist_quantile(l, 0.99)), ms(hist_quantile(l, 0.999)), ms(hist_max(l)));
  if (o->qps > 0 && r->lateness.count)
    printf("Send lateness ms (the generator's own delay, intended -> actual send): p50 %.3f, p99 %.3f, max %.3f\n",
           ms(hist_quantile(&r->lateness, 0.5)), ms(hist_quantile(&r->lateness, 0.99)), ms(hist_max(&r->lateness)));
  printf("Sockets used: %llu (for perfect keep-alive, would be %llu)\n", (unsigned long long)r->sockets,
         (unsigned long long)o->connections);
  if (r->errors) printf("Code %3d : %llu (%.1f %%)\n", -1, (unsigned long long)r->errors, pct(r->errors, r->requests));
  for (int code = 0; code < LOADGEN_MAX_STATUS; code++)
    if (r->codes[code])
      printf("Code %3d : %llu (%.1f %%)\n", code, (unsigned long long)r->codes[code], pct(r->codes[code], r->requests));
  for (unsigned bit = 0; bit < FLAG_COUNT; bit++)
    if (r->flags[bit])
      printf("Flag %s : %llu (%.1f %%)\n", flag_name(1u << bit), (unsigned long long)r->flags[bit],
             pct(r->flags[bit], r->requests));
}

/* ---- the run ---- */

struct load_run {
  uv_loop_t loop;
  uv_signal_t sigint;
  struct loadgen lg;
  int status;
};

static void on_load_done(struct loadgen *lg, int status) {
  struct load_run *run = lg->data;
  run->status = status;
  uv_close((uv_handle_t *)&run->sigint, NULL);
}

static void on_sigint(uv_signal_t *s, int signum) {
  struct load_run *run = s->data;
  (void)signum;
  loadgen_stop(&run->lg);
}

int cmd_load(int argc, char **argv) {
  struct load_opts o;
  memset(&o, 0, sizeof o);
  int rc = parse_opts(argc, argv, &o);
  if (rc != 0) return rc;
  const char *cmd = argv[0];

  struct loadgen_url url;
  if (loadgen_url_parse(&url, o.url) != 0)
    return args_usage_error(cmd, "URL \"%s\" is not http://HOST[:PORT][/PATH] (https is not supported)", o.url);

  struct loadgen_opts lo;
  memset(&lo, 0, sizeof lo);
  char via[512] = "", where[512] = "", replica[256];
  int through_proxy = 0;
  if (o.proxy) {
    if (conn_addr_parse(&lo.addr, o.proxy) != 0 || lo.addr.kind != CONN_TCP)
      return args_usage_error(cmd, "--proxy \"%s\" is not HOST:PORT (numeric IP or localhost)", o.proxy);
    snprintf(via, sizeof via, "the proxy at %s", lo.addr.text);
    snprintf(where, sizeof where, "the --proxy");
    through_proxy = 1;
  } else if (o.from) {
    if ((rc = resolve_from(&o, &lo.addr, replica, sizeof replica)) != 0) return rc;
    snprintf(via, sizeof via, "the sidecar of %s (outbound %s)", replica, lo.addr.text);
    snprintf(where, sizeof where, "the outbound listener of %s's sidecar; see: meshlab status", replica);
    through_proxy = 1;
  } else {
    char hostport[300];
    snprintf(hostport, sizeof hostport, strchr(url.host, ':') ? "[%s]:%d" : "%s:%d", url.host, url.port);
    if (conn_addr_parse(&lo.addr, hostport) != 0)
      return args_usage_error(cmd,
                              "URL host \"%s\" is not a numeric IP or localhost; names are resolved by a sidecar: "
                              "add --from WORKLOAD (or --proxy HOST:PORT)",
                              url.host);
  }

  struct buf request = {0};
  int bad_header;
  if (loadgen_request_build(&request, o.method, &url, through_proxy, o.headers, o.nheaders, &bad_header) != 0) {
    buf_free(&request);
    if (bad_header < 0) return args_usage_error(cmd, "-X: \"%s\" is not a method name (GET, POST, ...)", o.method);
    return args_usage_error(cmd, "-H: \"%s\" is not a header in the form \"name: value\"", o.headers[bad_header]);
  }
  lo.request = (struct slice){request.data, request.len};
  lo.head = strcmp(o.method, "HEAD") == 0;
  lo.qps = o.qps;
  lo.connections = (unsigned)o.connections;
  lo.duration_ms = o.requests ? 0 : o.duration_ms;
  lo.requests = o.requests;
  lo.timeout_ms = o.timeout_ms;
  lo.spin_ns = o.spin_us * 1000;

  signal(SIGPIPE, SIG_IGN);
  struct load_run *run = calloc(1, sizeof *run);
  if (!run) {
    buf_free(&request);
    fprintf(stderr, "meshlab load: out of memory\n");
    return 1;
  }
  uv_loop_init(&run->loop);
  uv_signal_init(&run->loop, &run->sigint);
  run->sigint.data = run;
  run->lg.data = run;
  if (!o.output) print_start(&o, via);
  rc = loadgen_start(&run->lg, &run->loop, &lo, on_load_done);
  if (rc != 0) {
    fprintf(stderr, "meshlab load: cannot start: %s\n", uv_strerror(rc));
    uv_close((uv_handle_t *)&run->sigint, NULL);
  } else {
    uv_signal_start(&run->sigint, on_sigint, SIGINT);
  }
  uv_run(&run->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&run->loop) != 0) fprintf(stderr, "meshlab load: event loop closed with handles open\n");
  buf_free(&request);

  int exit_code = 0;
  if (rc != 0) {
    exit_code = 1;
  } else if (run->status != 0) {
    fprintf(stderr, "meshlab load: %s%s%s%s\n", run->lg.error[0] ? run->lg.error : uv_strerror(run->status),
            where[0] ? " (" : "", where, where[0] ? ")" : "");
    exit_code = 1;
  } else {
    if (o.output) print_json(&o, &run->lg.result);
    else print_text(&o, &run->lg.result);
    if (run->lg.result.errors && run->lg.error[0])
      fprintf(stderr, "meshlab load: %llu request%s got no response (first failure: %s)\n",
              (unsigned long long)run->lg.result.errors, run->lg.result.errors == 1 ? "" : "s", run->lg.error);
  }
  free(run);
  return exit_code;
}
