/* Workload control and the inside of the mesh: `meshlab chaos`, `kill`, `restart`, `scale`,
 * `logs` and `exec` (contracts in ../shared/CLI.md, design in docs/lab.md).
 *
 * chaos, kill, restart and scale are requests to the lab API (mesh/lab_control.c does the
 * work and renders the lines printed here). logs and exec only ask the lab which replica a
 * name stands for (GET /v1/resolve), then work from the replica's folder: its log files, and
 * the `outbound` file naming its sidecar's outbound listener, which exec hands to the command
 * as `http_proxy`, the way a pod's traffic leaves through its Envoy.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/labcli.h"
#include "mesh/labdir.h"

#define CONTROL_TIMEOUT_MS 15000
/* How often `logs -f` looks for new lines. */
#define LOGS_POLL_MS 200

/* The flags every command here takes, and its positional arguments. */
struct control_args {
  const char *dir, *ns, *container, *replicas;
  const char *latency, *jitter, *error_rate, *code, *slow_start, *forwarding;
  int hang, crash, clear, follow, proxy_log;
  const char *pos[2];
  int npos;
};

/* Parses argv[1..argc) into c; `allowed` lists the flags the command takes beyond --lab-dir
 * and -n: 'c' -c, 'r' --replicas, 'x' the chaos knobs, 'f' -f and --proxy-log. Returns 0 or
 * the usage exit code (2). */
static int parse_args(int argc, char **argv, const char *allowed, struct control_args *c) {
  memset(c, 0, sizeof *c);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    int rc = 0;
    if (a[0] != '-') {
      if (c->npos == 1) return args_usage_error(argv[0], "unexpected argument \"%s\"", a);
      c->pos[c->npos++] = a;
      continue;
    }
#define FLAG(letter, name, short_name, field)                                                                      \
  if ((letter == '*' || strchr(allowed, letter)) && (rc = args_flag(argc, argv, &i, name, short_name, &v)) != 0) { \
    if (rc < 0) return 2;                                                                                          \
    c->field = v;                                                                                                  \
    continue;                                                                                                      \
  }
    FLAG('*', "lab-dir", NULL, dir)
    FLAG('*', "namespace", "-n", ns)
    FLAG('c', "container", "-c", container)
    FLAG('r', "replicas", NULL, replicas)
    FLAG('x', "latency", NULL, latency)
    FLAG('x', "jitter", NULL, jitter)
    FLAG('x', "error-rate", NULL, error_rate)
    FLAG('x', "code", NULL, code)
    FLAG('x', "slow-start", NULL, slow_start)
    FLAG('x', "headers-forwarding", NULL, forwarding)
#undef FLAG
    if (strchr(allowed, 'x') && strcmp(a, "--hang") == 0) c->hang = 1;
    else if (strchr(allowed, 'x') && strcmp(a, "--crash") == 0) c->crash = 1;
    else if (strchr(allowed, 'x') && strcmp(a, "--clear") == 0) c->clear = 1;
    else if (strchr(allowed, 'f') && (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0)) c->follow = 1;
    else if (strchr(allowed, 'f') && strcmp(a, "--proxy-log") == 0) c->proxy_log = 1;
    else return args_usage_error(argv[0], "unknown flag \"%s\"", a);
  }
  if (c->npos != 1) return args_usage_error(argv[0], "which workload? the form is: meshlab %s WORKLOAD ...", argv[0]);
  if (c->container && strcmp(c->container, "app") != 0 && strcmp(c->container, "sidecar") != 0)
    return args_usage_error(argv[0], "-c takes app or sidecar, not \"%s\"", c->container);
  return 0;
}

/* POSTs to a control endpoint of the lab for c->pos[0] and prints the lab's lines. */
static int control_post(const char *cmd, const struct control_args *c, const char *path, const char *extra_key,
                        const char *extra_value, const char *body) {
  char dir[4096];
  int rc = labcli_find(c->dir, dir, sizeof dir);
  if (rc) return rc;
  struct buf target = {0};
  buf_append_str(&target, path);
  labcli_query_add(&target, "workload", c->pos[0]);
  if (c->ns) labcli_query_add(&target, "ns", c->ns);
  if (extra_key) labcli_query_add(&target, extra_key, extra_value);
  struct labcli_reply rep;
  rc = labcli_call(dir, "POST", buf_cstr(&target), body ? "content-type: application/json\r\n" : NULL, body ? body : "",
                   body ? strlen(body) : 0, CONTROL_TIMEOUT_MS, &rep);
  buf_free(&target);
  return rc ? labcli_failed(cmd, rc) : labcli_print_console(cmd, &rep);
}

/* ---- chaos ------------------------------------------------------------------------------------ */

void cmd_chaos_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab chaos WORKLOAD [--latency 2s] [--jitter 100ms] [--error-rate 0.5 --code 503]\n"
          "                     [--hang] [--crash] [--slow-start 5s] [--headers-forwarding on|off]\n"
          "                     [--clear] [-n NS] [--lab-dir DIR]\n\n"
          "Turns on an app's chaos knobs at runtime. WORKLOAD is a Deployment (every replica) or a\n"
          "replica (reviews-v2-0: that one). Knobs not named keep their value; --clear turns all off.\n"
          "One line per replica changed. See docs/apps.md for what each knob does.\n\n"
          "  --latency D      add D before answering (500ms, 2s)\n"
          "  --jitter D       vary the latency uniformly within +-D\n"
          "  --error-rate F   answer this share of requests (0 to 1) with --code (default 503)\n"
          "  --code N         the status of injected errors (200 to 599)\n"
          "  --hang           accept requests and never answer them\n"
          "  --crash          the app exits at once (the lab restarts it with backoff)\n"
          "  --slow-start D   answer 503 for D, as an app still starting\n"
          "  --headers-forwarding on|off\n"
          "                   copy trace headers and end-user onto the app's calls (default on);\n"
          "                   off, the trace falls apart at this hop\n"
          "  --clear          every knob off, header forwarding on; hung requests are served\n");
}

static void json_ms(struct buf *b, const char *key, uint64_t ms) {
  buf_appendf(b, "%s\"%s\":%llu", b->len > 1 ? "," : "", key, (unsigned long long)ms);
}

int cmd_chaos(int argc, char **argv) {
  struct control_args c;
  int rc = parse_args(argc, argv, "x", &c);
  if (rc) return rc;
  int knobs = c.latency || c.jitter || c.error_rate || c.code || c.slow_start || c.forwarding || c.hang || c.crash;
  if (c.clear && knobs) return args_usage_error(argv[0], "--clear turns every knob off; give it alone");
  if (!c.clear && !knobs)
    return args_usage_error(argv[0],
                            "nothing to change: give --latency, --jitter, --error-rate, --code, --hang, "
                            "--crash, --slow-start, --headers-forwarding or --clear");
  struct buf body = {0};
  buf_append_str(&body, "{");
  struct {
    const char *flag, *value, *key;
  } durations[] = {{"--latency", c.latency, "latency_ms"},
                   {"--jitter", c.jitter, "jitter_ms"},
                   {"--slow-start", c.slow_start, "slow_start_ms"}};
  for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
    uint64_t ms;
    if (!durations[i].value) continue;
    if (args_duration_ms(durations[i].value, &ms) != 0) {
      buf_free(&body);
      return args_usage_error(argv[0], "%s takes a duration such as 300ms, 2s or 1m30s, not \"%s\"", durations[i].flag,
                              durations[i].value);
    }
    json_ms(&body, durations[i].key, ms);
  }
  if (c.error_rate) {
    char *end;
    errno = 0;
    double rate = strtod(c.error_rate, &end);
    if (errno || end == c.error_rate || *end || !(rate >= 0 && rate <= 1)) {
      buf_free(&body);
      return args_usage_error(argv[0], "--error-rate takes a share from 0 to 1 such as 0.5, not \"%s\"", c.error_rate);
    }
    buf_appendf(&body, "%s\"error_rate\":%.6g", body.len > 1 ? "," : "", rate);
  }
  if (c.code) {
    char *end;
    long code = strtol(c.code, &end, 10);
    if (end == c.code || *end || code < 200 || code > 599) {
      buf_free(&body);
      return args_usage_error(argv[0], "--code takes an HTTP status from 200 to 599 such as 503, not \"%s\"", c.code);
    }
    buf_appendf(&body, "%s\"error_code\":%ld", body.len > 1 ? "," : "", code);
  }
  if (c.forwarding) {
    int on = strcmp(c.forwarding, "on") == 0;
    if (!on && strcmp(c.forwarding, "off") != 0) {
      buf_free(&body);
      return args_usage_error(argv[0], "--headers-forwarding takes on or off, not \"%s\"", c.forwarding);
    }
    buf_appendf(&body, "%s\"headers_forwarding\":%s", body.len > 1 ? "," : "", on ? "true" : "false");
  }
  if (c.hang) buf_appendf(&body, "%s\"hang\":true", body.len > 1 ? "," : "");
  if (c.crash) buf_appendf(&body, "%s\"crash\":true", body.len > 1 ? "," : "");
  buf_append_str(&body, "}");
  rc = control_post(argv[0], &c, "/v1/chaos", c.clear ? "clear" : NULL, "1", c.clear ? NULL : buf_cstr(&body));
  buf_free(&body);
  return rc;
}

/* ---- kill, restart, scale ------------------------------------------------------------------------ */

void cmd_kill_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab kill REPLICA [-c app|sidecar] [-n NS] [--lab-dir DIR]\n\n"
          "Sends SIGKILL to the replica's app (or its sidecar with -c sidecar, or when it runs no\n"
          "app). The lab restarts it with backoff (0.5 s doubling to 10 s); `meshlab status` counts\n"
          "the restart. A Deployment's name kills every replica of it.\n");
}

void cmd_restart_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab restart REPLICA [-n NS] [--lab-dir DIR]\n\n"
          "Restarts the replica's app and sidecar gracefully: SIGTERM (the sidecar drains, the app\n"
          "answers what it holds), then a start at once, without backoff and without counting a\n"
          "restart. Chaos knobs are lost (a new process). A Deployment's name restarts every replica.\n");
}

void cmd_scale_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab scale DEPLOYMENT --replicas N [-n NS] [--lab-dir DIR]\n\n"
          "Sets the Deployment's replica count (0 to 1000), as applying it with spec.replicas: N\n"
          "would: replicas <deployment>-<index> start or stop, and every sidecar's endpoints follow.\n"
          "A later apply of the original manifest scales it back, as with kubectl.\n");
}

int cmd_kill(int argc, char **argv) {
  struct control_args c;
  int rc = parse_args(argc, argv, "c", &c);
  return rc ? rc : control_post(argv[0], &c, "/v1/kill", c.container ? "c" : NULL, c.container, NULL);
}

int cmd_restart(int argc, char **argv) {
  struct control_args c;
  int rc = parse_args(argc, argv, "", &c);
  return rc ? rc : control_post(argv[0], &c, "/v1/restart", NULL, NULL, NULL);
}

int cmd_scale(int argc, char **argv) {
  struct control_args c;
  int rc = parse_args(argc, argv, "r", &c);
  if (rc) return rc;
  char *end = NULL;
  long n = c.replicas ? strtol(c.replicas, &end, 10) : -1;
  if (!c.replicas || end == c.replicas || *end || n < 0 || n > 1000)
    return args_usage_error(argv[0], "--replicas N is required, N a whole number from 0 to 1000%s%s%s",
                            c.replicas ? " (not \"" : "", c.replicas ? c.replicas : "", c.replicas ? "\")" : "");
  return control_post(argv[0], &c, "/v1/scale", "replicas", c.replicas, NULL);
}

/* ---- logs, exec: from the replica's folder --------------------------------------------------------- */

/* Asks the lab which replica `workload` means (the first, for a Deployment; -n as every
 * command takes it) into replica, its folder into rdir, and the state folder into dir.
 * Returns 0, or the exit code after printing why. */
static int resolve_first(const char *cmd, const struct control_args *c, char *dir, size_t dlen, char *replica,
                         size_t rlen, char *rdir, size_t rdlen) {
  int rc = labcli_find(c->dir, dir, dlen);
  if (rc) return rc;
  struct buf target = {0};
  buf_append_str(&target, "/v1/resolve");
  labcli_query_add(&target, "workload", c->pos[0]);
  if (c->ns) labcli_query_add(&target, "ns", c->ns);
  struct labcli_reply rep;
  rc = labcli_call(dir, "GET", buf_cstr(&target), NULL, NULL, 0, CONTROL_TIMEOUT_MS, &rep);
  buf_free(&target);
  if (rc) return labcli_failed(cmd, rc);
  if (rep.exit_code != 0 || rep.status != 200) return labcli_print_console(cmd, &rep);
  /* The first line: NS/REPLICA. */
  size_t out = rep.stdout_length >= 0 && (size_t)rep.stdout_length <= rep.body.len ? (size_t)rep.stdout_length : 0;
  size_t n = strcspn(rep.body.data ? rep.body.data : "", "\n");
  if (n > out) n = out;
  const char *slash = n ? memchr(rep.body.data, '/', n) : NULL;
  char ns[256];
  size_t nslen = slash ? (size_t)(slash - rep.body.data) : 0;
  size_t rnlen = slash ? n - nslen - 1 : 0;
  if (!slash || nslen >= sizeof ns || rnlen == 0 || rnlen >= rlen) {
    buf_free(&rep.body);
    fprintf(stderr, "meshlab %s: the lab named no replica for \"%s\"\n", cmd, c->pos[0]);
    return 1;
  }
  memcpy(ns, rep.body.data, nslen);
  ns[nslen] = '\0';
  memcpy(replica, slash + 1, rnlen);
  replica[rnlen] = '\0';
  buf_free(&rep.body);
  char rel[1024];
  if (labdir_replica_rel(rel, sizeof rel, ns, replica) != 0 || labdir_path(rdir, rdlen, dir, rel) != 0) {
    fprintf(stderr, "meshlab %s: the folder of %s/%s is too long a path\n", cmd, ns, replica);
    return 1;
  }
  return 0;
}

void cmd_logs_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab logs REPLICA [-c app|sidecar] [-f] [--proxy-log] [-n NS] [--lab-dir DIR]\n\n"
          "Prints a log from the replica's folder (<lab dir>/replicas/<replica>/, or\n"
          "<replica>.<namespace>/ outside the default namespace):\n"
          "  -c app       the app's output (app.log); the default when the replica runs an app\n"
          "  -c sidecar   the sidecar's access log (access.log): one line per request in Istio's\n"
          "               default access-log format, response flags included\n"
          "  --proxy-log  with -c sidecar: the sidecar process's own messages (sidecar.log) instead\n"
          "  -f           follow: keep printing new lines until Ctrl-C (or the lab stops)\n"
          "A Deployment's name means its first replica. Without -n the default namespace is\n"
          "searched first, then the one other namespace holding that name (else: ambiguous).\n");
}

static volatile sig_atomic_t logs_stop;
static void on_logs_signal(int sig) {
  (void)sig;
  logs_stop = 1;
}

/* Copies path from *offset to its end onto stdout; a file that shrank (rotated, recreated by
 * `up`) is read again from the start. */
static void copy_from(const char *path, long *offset) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  if (size < *offset) *offset = 0;
  fseek(f, *offset, SEEK_SET);
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    fwrite(chunk, 1, n, stdout);
    *offset += (long)n;
  }
  fclose(f);
  fflush(stdout);
}

int cmd_logs(int argc, char **argv) {
  struct control_args c;
  int rc = parse_args(argc, argv, "cf", &c);
  if (rc) return rc;
  if (c.proxy_log && c.container && strcmp(c.container, "sidecar") != 0)
    return args_usage_error(argv[0], "--proxy-log goes with -c sidecar");
  char dir[4096], replica[256], path[8192], rdir[4400];
  if ((rc = resolve_first(argv[0], &c, dir, sizeof dir, replica, sizeof replica, rdir, sizeof rdir)) != 0) return rc;
  /* The lab writes app.log only for a replica that runs an app. */
  snprintf(path, sizeof path, "%s/app.log", rdir);
  struct stat st;
  bool has_app = stat(path, &st) == 0;
  const char *container = c.container ? c.container : c.proxy_log || !has_app ? "sidecar" : "app";
  if (strcmp(container, "app") == 0 && !has_app) {
    fprintf(stderr, "meshlab logs: %s runs no app (the ingress gateway, or a client-only image); try -c sidecar\n",
            replica);
    return 1;
  }
  const char *file = strcmp(container, "app") == 0 ? "app.log" : c.proxy_log ? "sidecar.log" : "access.log";
  snprintf(path, sizeof path, "%s/%s", rdir, file);
  long offset = 0;
  copy_from(path, &offset);
  if (!c.follow) return 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_logs_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  while (!logs_stop) {
    usleep(LOGS_POLL_MS * 1000);
    copy_from(path, &offset);
    /* Nothing more will come once the lab is gone. */
    if (!labcli_pid(dir)) break;
  }
  return 0;
}

void cmd_exec_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab exec WORKLOAD [-n NS] [--lab-dir DIR] -- CMD [ARG ...]\n\n"
          "Runs CMD as an in-mesh client of WORKLOAD (Istio's kubectl exec ... -- curl): http_proxy\n"
          "and HTTP_PROXY point at the sidecar's outbound listener of its (first) replica, no_proxy\n"
          "is unset, stdio is inherited and CMD's exit code is meshlab's. So\n"
          "  meshlab exec productpage-v1 -- curl -s http://reviews:9080/reviews/0\n"
          "goes through productpage's sidecar: its routes, retries and policies apply, and the\n"
          "request leaves as productpage. Exit 127 when CMD cannot be found.\n");
}

int cmd_exec(int argc, char **argv) {
  int dash = 0;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--") == 0) {
      dash = i;
      break;
    }
  if (!dash || dash + 1 >= argc)
    return args_usage_error(argv[0], "the form is: meshlab exec WORKLOAD -- CMD [ARG ...]");
  struct control_args c;
  int rc = parse_args(dash, argv, "", &c);
  if (rc) return rc;
  char dir[4096], replica[256], rdir[4400], outbound[256];
  if ((rc = resolve_first(argv[0], &c, dir, sizeof dir, replica, sizeof replica, rdir, sizeof rdir)) != 0) return rc;
  if (labdir_read(rdir, "outbound", outbound, sizeof outbound) != 0 || !outbound[0]) {
    fprintf(stderr, "meshlab exec: %s has no sidecar outbound listener (%s/outbound is missing); is it stopping?\n",
            replica, rdir);
    return 1;
  }
  char proxy[300];
  snprintf(proxy, sizeof proxy, "http://%s", outbound);
  /* curl reads http_proxy (lowercase only, for http:// URLs); other tools read HTTP_PROXY. */
  setenv("http_proxy", proxy, 1);
  setenv("HTTP_PROXY", proxy, 1);
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
  setenv("MESHLAB_REPLICA", replica, 1);
  fflush(stdout);
  execvp(argv[dash + 1], argv + dash + 1);
  int err = errno;
  fprintf(stderr, "meshlab exec: cannot run %s: %s\n", argv[dash + 1], strerror(err));
  return err == ENOENT ? 127 : 126;
}
