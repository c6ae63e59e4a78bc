/* `meshlab proxy`: a one-hop reverse proxy in front of one upstream, and `meshlab demo`,
 * which starts a small origin with a proxy in front of it so a newcomer can watch the headers a
 * proxy adds. Both run one libuv loop until SIGINT/SIGTERM, then drain and exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "mesh/admin.h"
#include "mesh/server.h"
#include "mesh/sidecar.h"

void cmd_proxy_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab proxy --listen HOST:PORT --upstream HOST:PORT [flags]\n\n"
          "A one-hop HTTP/1.1 reverse proxy: keep-alive both sides, pooled upstream connections,\n"
          "x-forwarded-for, x-forwarded-proto and x-request-id added, Envoy response flags.\n"
          "Port 0 binds a free port. Once ready it prints 'listening on HOST:PORT' (and\n"
          "'admin on HOST:PORT') as its first lines. SIGINT/SIGTERM drain and exit 0.\n\n"
          "Flags:\n"
          "  --listen HOST:PORT         where clients connect (or unix:/path)\n"
          "  --upstream HOST:PORT       where requests go (or unix:/path)\n"
          "  --admin HOST:PORT          admin listener (/ready, /stats/prometheus, /clusters, ...)\n"
          "  --access-log FILE|-        access log (default: none; - is stdout)\n"
          "  --access-log-format F      envoy (default), istio or json\n"
          "  --connect-timeout D        upstream connect timeout (default 10s; 503 UF after)\n"
          "  --request-timeout D        route timeout (default 0 = off, as Istio; 504 UT after)\n"
          "  --header-timeout D         time to receive a request head (default 10s; 408 after)\n"
          "  --idle-timeout D           keep-alive idle timeout (default 300s)\n"
          "  --stream-idle-timeout D    a request with no progress either side (default 300s;\n"
          "                             408 or 504 SI, a reset once the response started)\n"
          "  --drain-timeout D          grace for in-flight requests on SIGTERM (default 5s)\n"
          "  --max-header-bytes N       request head limit (default 60KiB; 431 above)\n"
          "  --max-body-bytes N         request body limit (default unlimited; 413 above)\n"
          "Durations take units: 500ms, 2s, 1m.\n");
}

void cmd_demo_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab demo [--listen HOST:PORT]\n\n"
          "Starts a small origin and 'meshlab proxy' in front of it (default 127.0.0.1:8080),\n"
          "sends one request through it, prints what the origin received, and keeps serving\n"
          "with an access log on stdout until Ctrl-C. Try: curl -v http://127.0.0.1:8080/\n");
}

struct run {
  uv_loop_t loop;
  struct sidecar sc;
  uv_signal_t sigint, sigterm;
  int stopping;
  struct conn_env origin_env; /* demo only */
  struct http_server origin;
  int have_origin;
};

static void on_stopped(struct sidecar *sc) { (void)sc; }

static void stop(struct run *r) {
  if (r->stopping) return;
  r->stopping = 1;
  uv_close((uv_handle_t *)&r->sigint, NULL);
  uv_close((uv_handle_t *)&r->sigterm, NULL);
  if (r->have_origin) server_close(&r->origin, NULL);
  sidecar_stop(&r->sc, on_stopped);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  stop(s->data);
}

static void on_quit(struct admin *a) { stop(a->data); }

static void join_args(int argc, char **argv, char *out, size_t n) {
  size_t len = 0;
  out[0] = '\0';
  for (int i = 0; i < argc && len + 1 < n; i++) {
    int w = snprintf(out + len, n - len, "%s%s", i ? " " : "meshlab ", argv[i]);
    if (w < 0) break;
    len += (size_t)w;
  }
}

/* Runs the loop until the sidecar has drained and every handle is closed; returns the exit
 * code: 1 when setup failed (setup_rc) or a handle was left open, else 0. */
static int run_until_stopped(struct run *r, const char *cmd, int setup_rc) {
  uv_run(&r->loop, UV_RUN_DEFAULT);
  sidecar_free(&r->sc);
  int closed = uv_loop_close(&r->loop);
  if (closed != 0) {
    fprintf(stderr, "meshlab %s: event loop closed with handles open (%s)\n", cmd, uv_strerror(closed));
    return 1;
  }
  return setup_rc ? 1 : 0;
}

/* Starts the sidecar described by b, prints its ready lines (proxy_lines: the `meshlab proxy`
 * contract's "listening on" form), runs until a signal or /quitquitquit, and returns the exit
 * code: 0 after a clean drain. */
static int run_sidecar(struct run *r, const struct bootstrap *b, const char *cmd, const char *command_line,
                       int proxy_lines) {
  char err[512] = "";
  uv_signal_init(&r->loop, &r->sigint);
  uv_signal_init(&r->loop, &r->sigterm);
  r->sigint.data = r->sigterm.data = r;
  int rc = sidecar_start(&r->sc, &r->loop, b, command_line, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "meshlab %s: %s\n", cmd, err);
    stop(r);
  } else {
    r->sc.admin.on_quit = on_quit;
    r->sc.admin.data = r;
    /* The handlers go in before the ready lines: a script that sends SIGTERM as soon as it has
     * read them gets a drain, never the default action (death with requests in flight). */
    uv_signal_start(&r->sigint, on_signal, SIGINT);
    uv_signal_start(&r->sigterm, on_signal, SIGTERM);
    if (proxy_lines) {
      printf("listening on %s\n", r->sc.inbound[0]->address);
    } else {
      for (size_t i = 0; i < r->sc.ninbound; i++) printf("inbound on %s\n", r->sc.inbound[i]->address);
      if (r->sc.outbound) printf("outbound on %s\n", r->sc.outbound->address);
    }
    if (r->sc.has_admin) printf("admin on %s\n", r->sc.admin.srv.address);
    fflush(stdout);
  }
  return run_until_stopped(r, cmd, rc);
}

struct proxy_opts {
  const char *listen, *upstream, *admin, *access_log, *access_log_format;
  struct proxy_limits limits;
};

static int parse_opts(int argc, char **argv, struct proxy_opts *o) {
  proxy_limits_default(&o->limits);
  for (int i = 1; i < argc; i++) {
    static const struct args_string_flag strs[] = {
        {"listen", offsetof(struct proxy_opts, listen)},
        {"upstream", offsetof(struct proxy_opts, upstream)},
        {"admin", offsetof(struct proxy_opts, admin)},
        {"access-log", offsetof(struct proxy_opts, access_log)},
        {"access-log-format", offsetof(struct proxy_opts, access_log_format)},
    };
    static const struct {
      const char *flag;
      size_t offset;
      int is_size;
    } num[] = {
        {"connect-timeout", offsetof(struct proxy_limits, connect_timeout_ms), 0},
        {"request-timeout", offsetof(struct proxy_limits, request_timeout_ms), 0},
        {"header-timeout", offsetof(struct proxy_limits, header_timeout_ms), 0},
        {"idle-timeout", offsetof(struct proxy_limits, idle_timeout_ms), 0},
        {"stream-idle-timeout", offsetof(struct proxy_limits, stream_idle_timeout_ms), 0},
        {"drain-timeout", offsetof(struct proxy_limits, drain_timeout_ms), 0},
        {"max-header-bytes", offsetof(struct proxy_limits, max_head_bytes), 1},
        {"max-body-bytes", offsetof(struct proxy_limits, max_request_body), 1},
    };
    const char *v;
    int rc = args_string_flags(argc, argv, &i, strs, sizeof strs / sizeof strs[0], o);
    if (rc < 0) return 2;
    int matched = rc > 0;
    for (size_t k = 0; k < sizeof num / sizeof num[0] && !matched; k++) {
      if (!(rc = args_flag(argc, argv, &i, num[k].flag, NULL, &v))) continue;
      if (rc < 0) return 2;
      matched = 1;
      uint64_t n;
      if (num[k].is_size ? args_size(v, &n) : args_duration_ms(v, &n))
        return args_usage_error(argv[0], "--%s: \"%s\" is not a %s", num[k].flag, v,
                                num[k].is_size ? "size (65536, 64KiB, 1MiB)" : "duration with a unit (500ms, 2s, 1m)");
      char *field = (char *)&o->limits + num[k].offset;
      if (num[k].offset == offsetof(struct proxy_limits, max_head_bytes)) *(size_t *)field = (size_t)n;
      else *(uint64_t *)field = n;
    }
    if (!matched) return args_usage_error(argv[0], "unknown flag \"%s\"", argv[i]);
  }
  return 0;
}

int cmd_proxy(int argc, char **argv) {
  struct proxy_opts o = {0};
  int rc = parse_opts(argc, argv, &o);
  if (rc != 0) return rc;
  if (!o.listen || !o.upstream) return args_usage_error(argv[0], "--listen and --upstream are required");
  static const char *const names[] = {"--listen", "--upstream", "--admin"};
  const char *values[] = {o.listen, o.upstream, o.admin};
  for (int k = 0; k < 3; k++) {
    struct conn_addr a;
    if (values[k] && conn_addr_parse(&a, values[k]) != 0)
      return args_usage_error(argv[0], "%s \"%s\" is not HOST:PORT (numeric IP or localhost) or unix:/path", names[k],
                              values[k]);
  }
  struct bootstrap b;
  char err[512];
  if (bootstrap_for_proxy(&b, o.listen, o.upstream, o.admin, &o.limits, o.access_log, o.access_log_format, err,
                          sizeof err) != 0) {
    bootstrap_free(&b);
    return args_usage_error(argv[0], "%s", err);
  }
  signal(SIGPIPE, SIG_IGN);
  struct run *r = calloc(1, sizeof *r);
  if (!r) return 1;
  uv_loop_init(&r->loop);
  char command_line[1024];
  join_args(argc, argv, command_line, sizeof command_line);
  rc = run_sidecar(r, &b, argv[0], command_line, 1);
  bootstrap_free(&b);
  free(r);
  return rc;
}

void cmd_sidecar_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab sidecar --config FILE\n"
          "       meshlab sidecar --xds HOST:PORT --node NS/REPLICA --address IP --outbound HOST:PORT\n"
          "                       [--admin HOST:PORT] [--gateway-port PORT=HOST:PORT ...]\n"
          "                       [--inbound-port PORT=HOST:PORT ...]\n"
          "                       [--access-log FILE|-] [--access-log-format envoy|istio|json]\n"
          "                       [--cert FILE --ca FILE]\n\n"
          "A workload's sidecar: inbound listeners on its service ports in front of its app, an\n"
          "outbound listener the app uses as http_proxy, and an admin listener.\n\n"
          "--config FILE   a static bootstrap (JSON, see docs/sidecar.md): no control plane.\n"
          "--xds HOST:PORT the lab API: the sidecar long-polls its config there, acknowledges each\n"
          "                version it installs and refuses (NACK) one it cannot, keeping the last\n"
          "                good one. Inbound ports are bound on --address as the config names them;\n"
          "                a gateway binds its Gateway server ports where --gateway-port maps them,\n"
          "                and --inbound-port serves an inbound port elsewhere (the lab's port\n"
          "                blocks): the listener still routes as PORT.\n"
          "--cert FILE     the workload's certificate and key (PEM, the lab writes and rotates it),\n"
          "--ca FILE       the root it trusts: with both, mTLS (docs/security.md); the file is\n"
          "                re-read when it changes, for new connections.\n"
          "Prints 'inbound on', 'outbound on', 'gateway on' and 'admin on' lines once ready;\n"
          "SIGINT/SIGTERM drain and exit 0.\n");
}

static void print_ready(struct sidecar *sc) {
  for (size_t i = 0; i < sc->ninbound; i++) printf("inbound on %s\n", sc->inbound[i]->address);
  if (sc->outbound) printf("outbound on %s\n", sc->outbound->address);
  for (size_t i = 0; i < sc->ngateways; i++) printf("gateway on %s\n", sc->gateways[i]->address);
  if (sc->has_admin) printf("admin on %s\n", sc->admin.srv.address);
  printf("config version %llu\n", (unsigned long long)proxy_config_version(&sc->px));
  fflush(stdout);
}

static int run_sidecar_xds(struct run *r, const struct sidecar_xds_options *o, const char *command_line) {
  char err[512] = "";
  uv_signal_init(&r->loop, &r->sigint);
  uv_signal_init(&r->loop, &r->sigterm);
  r->sigint.data = r->sigterm.data = r;
  r->sc.on_ready = print_ready;
  int rc = sidecar_start_xds(&r->sc, &r->loop, o, command_line, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "meshlab sidecar: %s\n", err);
    stop(r);
  } else {
    r->sc.admin.on_quit = on_quit;
    r->sc.admin.data = r;
    uv_signal_start(&r->sigint, on_signal, SIGINT);
    uv_signal_start(&r->sigterm, on_signal, SIGTERM);
  }
  return run_until_stopped(r, "sidecar", rc);
}

int cmd_sidecar(int argc, char **argv) {
  const char *config = NULL;
  struct sidecar_xds_options o;
  memset(&o, 0, sizeof o);
  proxy_limits_default(&o.limits);
  for (int i = 1; i < argc; i++) {
    static const struct args_string_flag strs[] = {
        {"xds", offsetof(struct sidecar_xds_options, xds)},
        {"node", offsetof(struct sidecar_xds_options, node)},
        {"address", offsetof(struct sidecar_xds_options, address)},
        {"admin", offsetof(struct sidecar_xds_options, admin)},
        {"outbound", offsetof(struct sidecar_xds_options, outbound)},
        {"access-log", offsetof(struct sidecar_xds_options, access_log)},
        {"access-log-format", offsetof(struct sidecar_xds_options, access_log_format)},
        {"cert", offsetof(struct sidecar_xds_options, cert)},
        {"ca", offsetof(struct sidecar_xds_options, ca)},
    };
    const char *v;
    int rc;
    if ((rc = args_flag(argc, argv, &i, "config", "-c", &v))) {
      if (rc < 0) return 2;
      config = v;
      continue;
    }
    if ((rc = args_flag(argc, argv, &i, "gateway-port", NULL, &v))) {
      if (rc < 0) return 2;
      char *eq = strchr(v, '=');
      char *end;
      unsigned long port = strtoul(v, &end, 10);
      if (!eq || end != eq || port == 0 || port > 65535 || o.ngateway == SIDECAR_MAX_GATEWAY_PORTS ||
          conn_addr_parse(&o.gateway[o.ngateway].addr, eq + 1) != 0)
        return args_usage_error(argv[0], "--gateway-port \"%s\": expected PORT=HOST:PORT, e.g. 80=127.0.0.1:8080", v);
      o.gateway[o.ngateway++].port = (uint32_t)port;
      continue;
    }
    if ((rc = args_flag(argc, argv, &i, "inbound-port", NULL, &v))) {
      if (rc < 0) return 2;
      char *eq = strchr(v, '=');
      char *end;
      unsigned long port = strtoul(v, &end, 10);
      if (!eq || end != eq || port == 0 || port > 65535 || o.ninbound_at == SIDECAR_MAX_INBOUND ||
          conn_addr_parse(&o.inbound_at[o.ninbound_at].addr, eq + 1) != 0)
        return args_usage_error(argv[0], "--inbound-port \"%s\": expected PORT=HOST:PORT, e.g. 9080=127.0.0.1:20004",
                                v);
      o.inbound_at[o.ninbound_at++].port = (uint32_t)port;
      continue;
    }
    if ((rc = args_string_flags(argc, argv, &i, strs, sizeof strs / sizeof strs[0], &o)) < 0) return 2;
    if (rc == 0) return args_usage_error(argv[0], "unknown flag \"%s\"", argv[i]);
  }
  signal(SIGPIPE, SIG_IGN);
  char command_line[1024];
  join_args(argc, argv, command_line, sizeof command_line);
  if (o.xds) {
    if (config) return args_usage_error(argv[0], "--config and --xds exclude each other");
    if (!o.node || !o.address || !o.outbound)
      return args_usage_error(argv[0], "--xds needs --node NS/REPLICA, --address IP and --outbound HOST:PORT");
    struct run *r = calloc(1, sizeof *r);
    if (!r) return 1;
    uv_loop_init(&r->loop);
    int rc = run_sidecar_xds(r, &o, command_line);
    free(r);
    return rc;
  }
  if (!config) return args_usage_error(argv[0], "--config FILE or --xds HOST:PORT is required");
  struct bootstrap b;
  char err[512];
  if (bootstrap_load(&b, config, err, sizeof err) != 0) {
    fprintf(stderr, "meshlab sidecar: %s\n", err);
    bootstrap_free(&b);
    return 1;
  }
  struct run *r = calloc(1, sizeof *r);
  if (!r) return 1;
  uv_loop_init(&r->loop);
  int rc = run_sidecar(r, &b, argv[0], command_line, 0);
  bootstrap_free(&b);
  free(r);
  return rc;
}

/* ---- demo ------------------------------------------------------------------------------ */

/* The demo origin answers with the request it received, so the proxy's work shows. */
static void on_origin_request(struct server_request *req) {
  struct buf out = {0};
  buf_append_str(&out, "Hello from the origin behind meshlab's proxy.\n\nThe origin received:\n  ");
  buf_append_slice(&out, req->head->method);
  buf_append(&out, " ", 1);
  buf_append_slice(&out, req->head->target);
  buf_appendf(&out, " HTTP/1.%d\n", req->head->minor);
  for (size_t i = 0; i < req->head->nheaders; i++) {
    buf_append_str(&out, "  ");
    buf_append_slice(&out, req->head->headers[i].name);
    buf_append_str(&out, ": ");
    buf_append_slice(&out, req->head->headers[i].value);
    buf_append(&out, "\n", 1);
  }
  buf_append_str(&out,
                 "\nx-forwarded-for, x-forwarded-proto and x-request-id were added by the proxy;\n"
                 "hop-by-hop headers (Connection, Keep-Alive, TE, ...) were removed.\n");
  server_respond(req, 200, "text/plain", out.data, out.len, NULL);
  buf_free(&out);
}

int cmd_demo(int argc, char **argv) {
  const char *listen = "127.0.0.1:8080";
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc = args_flag(argc, argv, &i, "listen", NULL, &v);
    if (rc < 0) return 2;
    if (rc == 0) return args_usage_error(argv[0], "unknown flag \"%s\"", argv[i]);
    listen = v;
  }
  signal(SIGPIPE, SIG_IGN);
  struct run *r = calloc(1, sizeof *r);
  if (!r) return 1;
  uv_loop_init(&r->loop);
  conn_env_init(&r->origin_env, &r->loop, 16384);
  struct conn_addr origin_addr;
  conn_addr_parse(&origin_addr, "127.0.0.1:0");
  int rc = server_listen(&r->origin, &r->origin_env, &origin_addr, on_origin_request, NULL);
  r->have_origin = 1;
  struct proxy_limits limits;
  proxy_limits_default(&limits);
  struct bootstrap b;
  char err[512] = "";
  if (rc == 0) rc = bootstrap_for_proxy(&b, listen, r->origin.address, NULL, &limits, "-", "envoy", err, sizeof err);
  else snprintf(err, sizeof err, "cannot start the demo origin: %s", uv_strerror(rc));
  if (rc != 0) {
    fprintf(stderr, "meshlab demo: %s\n", err);
    server_close(&r->origin, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);
    conn_env_free(&r->origin_env);
    free(r);
    return 1;
  }
  printf(
      "meshlab demo: an origin on %s, and meshlab's proxy in front of it.\n"
      "Try: curl -v http://%s/hello   (Ctrl-C stops)\n"
      "The access log below shows each request in Envoy's format: code, response flags, bytes,\n"
      "duration, request id. The origin's reply shows the headers the proxy added and removed.\n\n",
      r->origin.address, listen);
  fflush(stdout);
  rc = run_sidecar(r, &b, argv[0], "meshlab demo", 1);
  bootstrap_free(&b);
  conn_env_free(&r->origin_env);
  free(r);
  return rc;
}
