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
#include "mesh/proxy.h"
#include "mesh/server.h"

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
  struct proxy px;
  struct admin admin;
  struct route_table routes;
  struct accesslog log;
  uv_signal_t sigint, sigterm;
  int have_admin;
  int stopping;
  struct http_server origin; /* demo only */
  int have_origin;
};

static void on_proxy_closed(struct proxy *px) { (void)px; }

static void stop(struct run *r) {
  if (r->stopping) return;
  r->stopping = 1;
  uv_close((uv_handle_t *)&r->sigint, NULL);
  uv_close((uv_handle_t *)&r->sigterm, NULL);
  if (r->have_admin) admin_close(&r->admin, NULL);
  if (r->have_origin) server_close(&r->origin, NULL);
  proxy_shutdown(&r->px, on_proxy_closed);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  stop(s->data);
}

static void on_quit(struct admin *a) { stop(a->data); }

struct proxy_opts {
  const char *listen, *upstream, *admin, *access_log, *access_log_format;
  struct proxy_limits limits;
};

static int parse_opts(int argc, char **argv, struct proxy_opts *o) {
  proxy_limits_default(&o->limits);
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc;
    uint64_t n;
    if ((rc = args_flag(argc, argv, &i, "listen", NULL, &v))) {
      if (rc < 0) return 2;
      o->listen = v;
    } else if ((rc = args_flag(argc, argv, &i, "upstream", NULL, &v))) {
      if (rc < 0) return 2;
      o->upstream = v;
    } else if ((rc = args_flag(argc, argv, &i, "admin", NULL, &v))) {
      if (rc < 0) return 2;
      o->admin = v;
    } else if ((rc = args_flag(argc, argv, &i, "access-log", NULL, &v))) {
      if (rc < 0) return 2;
      o->access_log = v;
    } else if ((rc = args_flag(argc, argv, &i, "access-log-format", NULL, &v))) {
      if (rc < 0) return 2;
      o->access_log_format = v;
    } else {
      static const struct {
        const char *flag;
        size_t offset;
        int is_size;
      } num[] = {
          {"connect-timeout", offsetof(struct proxy_limits, connect_timeout_ms), 0},
          {"request-timeout", offsetof(struct proxy_limits, request_timeout_ms), 0},
          {"header-timeout", offsetof(struct proxy_limits, header_timeout_ms), 0},
          {"idle-timeout", offsetof(struct proxy_limits, idle_timeout_ms), 0},
          {"drain-timeout", offsetof(struct proxy_limits, drain_timeout_ms), 0},
          {"max-header-bytes", offsetof(struct proxy_limits, max_head_bytes), 1},
          {"max-body-bytes", offsetof(struct proxy_limits, max_request_body), 1},
      };
      int matched = 0;
      for (size_t k = 0; k < sizeof num / sizeof num[0] && !matched; k++) {
        if (!(rc = args_flag(argc, argv, &i, num[k].flag, NULL, &v))) continue;
        if (rc < 0) return 2;
        matched = 1;
        if (num[k].is_size ? args_size(v, &n) : args_duration_ms(v, &n))
          return args_usage_error(argv[0], "--%s: \"%s\" is not a %s", num[k].flag, v,
                                  num[k].is_size ? "size (65536, 64KiB, 1MiB)" : "duration with a unit (500ms, 2s, 1m)");
        char *field = (char *)&o->limits + num[k].offset;
        if (num[k].is_size && num[k].offset == offsetof(struct proxy_limits, max_head_bytes)) *(size_t *)field = (size_t)n;
        else *(uint64_t *)field = n;
      }
      if (!matched) return args_usage_error(argv[0], "unknown flag \"%s\"", argv[i]);
    }
  }
  return 0;
}

/* Builds the proxy, its listener and admin on r->loop; prints the ready lines. */
static int run_setup(struct run *r, const struct proxy_opts *o, const char *cmd, const char *command_line) {
  struct conn_addr listen_addr, upstream_addr, admin_addr;
  if (conn_addr_parse(&listen_addr, o->listen) != 0)
    return args_usage_error(cmd, "--listen \"%s\" is not HOST:PORT or unix:/path", o->listen);
  if (conn_addr_parse(&upstream_addr, o->upstream) != 0)
    return args_usage_error(cmd, "--upstream \"%s\" is not HOST:PORT or unix:/path", o->upstream);
  if (o->admin && conn_addr_parse(&admin_addr, o->admin) != 0)
    return args_usage_error(cmd, "--admin \"%s\" is not HOST:PORT", o->admin);
  if (o->access_log_format && accesslog_format_parse(o->access_log_format, &r->log.format) != 0)
    return args_usage_error(cmd, "--access-log-format \"%s\": use envoy, istio or json", o->access_log_format);
  if (o->access_log) {
    r->log.out = strcmp(o->access_log, "-") == 0 ? stdout : fopen(o->access_log, "a");
    if (!r->log.out) {
      fprintf(stderr, "meshlab %s: cannot open access log %s: %s\n", cmd, o->access_log, strerror(errno));
      return 1;
    }
  }
  int rc = proxy_init(&r->px, &r->loop, &o->limits);
  if (rc != 0) return 1;
  if (r->log.out) r->px.log = &r->log;
  struct cluster *c = route_add_cluster(&r->routes, upstream_addr.text, 1);
  const char *any[] = {"*"};
  if (!c || route_add_endpoint(c, &r->px.env, &upstream_addr, &r->px.live_handles, 1) != 0 ||
      route_add_vhost(&r->routes, any, 1, c) != 0)
    return 1;
  struct proxy_listener *l;
  rc = proxy_listen(&r->px, &listen_addr, &r->routes, "proxy", &l);
  if (rc != 0) {
    fprintf(stderr, "meshlab %s: cannot listen on %s: %s\n", cmd, o->listen, uv_strerror(rc));
    return 1;
  }
  printf("listening on %s\n", l->address);
  if (o->admin) {
    char config[512];
    snprintf(config, sizeof config,
             "{\"configs\":[{\"@type\":\"meshlab.proxy\",\"listener\":\"%s\",\"upstream\":\"%s\","
             "\"connect_timeout_ms\":%llu,\"request_timeout_ms\":%llu,\"header_timeout_ms\":%llu,"
             "\"idle_timeout_ms\":%llu}]}",
             l->address, upstream_addr.text, (unsigned long long)o->limits.connect_timeout_ms,
             (unsigned long long)o->limits.request_timeout_ms, (unsigned long long)o->limits.header_timeout_ms,
             (unsigned long long)o->limits.idle_timeout_ms);
    rc = admin_start(&r->admin, &r->px, &admin_addr, config, command_line);
    r->have_admin = 1;
    r->admin.on_quit = on_quit;
    r->admin.data = r;
    if (rc != 0) {
      fprintf(stderr, "meshlab %s: cannot listen on admin %s: %s\n", cmd, o->admin, uv_strerror(rc));
      return 1;
    }
    printf("admin on %s\n", r->admin.srv.address);
  }
  fflush(stdout);
  uv_signal_init(&r->loop, &r->sigint);
  uv_signal_init(&r->loop, &r->sigterm);
  r->sigint.data = r->sigterm.data = r;
  uv_signal_start(&r->sigint, on_signal, SIGINT);
  uv_signal_start(&r->sigterm, on_signal, SIGTERM);
  return 0;
}

static int run_loop(struct run *r) {
  uv_run(&r->loop, UV_RUN_DEFAULT);
  proxy_free(&r->px);
  route_table_free(&r->routes);
  accesslog_free(&r->log);
  if (r->log.out && r->log.out != stdout) fclose(r->log.out);
  int rc = uv_loop_close(&r->loop);
  if (rc != 0) {
    fprintf(stderr, "meshlab: event loop closed with handles open (%s)\n", uv_strerror(rc));
    return 1;
  }
  return 0;
}

static void join_args(int argc, char **argv, char *out, size_t n) {
  size_t len = 0;
  out[0] = '\0';
  for (int i = 0; i < argc && len + 1 < n; i++) {
    int w = snprintf(out + len, n - len, "%s%s", i ? " " : "meshlab ", argv[i]);
    if (w < 0) break;
    len += (size_t)w;
  }
}

int cmd_proxy(int argc, char **argv) {
  struct proxy_opts o = {0};
  int rc = parse_opts(argc, argv, &o);
  if (rc != 0) return rc;
  if (!o.listen || !o.upstream) return args_usage_error(argv[0], "--listen and --upstream are required");
  signal(SIGPIPE, SIG_IGN);
  struct run *r = calloc(1, sizeof *r);
  if (!r) return 1;
  uv_loop_init(&r->loop);
  char command_line[1024];
  join_args(argc, argv, command_line, sizeof command_line);
  rc = run_setup(r, &o, argv[0], command_line);
  if (rc != 0) {
    /* Close what was opened so the loop ends cleanly, then report the setup error. */
    if (!r->stopping) {
      uv_signal_init(&r->loop, &r->sigint);
      uv_signal_init(&r->loop, &r->sigterm);
      stop(r);
    }
    run_loop(r);
    free(r);
    return rc;
  }
  rc = run_loop(r);
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
  buf_append_str(&out, "\nx-forwarded-for, x-forwarded-proto and x-request-id were added by the proxy;\n"
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
  struct conn_env env;
  conn_env_init(&env, &r->loop, 16384);
  struct conn_addr origin_addr;
  conn_addr_parse(&origin_addr, "127.0.0.1:0");
  int rc = server_listen(&r->origin, &env, &origin_addr, on_origin_request, NULL);
  r->have_origin = 1;
  struct proxy_opts o = {0};
  proxy_limits_default(&o.limits);
  o.listen = listen;
  o.upstream = r->origin.address;
  o.access_log = "-";
  o.access_log_format = "envoy";
  printf("meshlab demo: an origin on %s, and meshlab's proxy in front of it.\n", r->origin.address);
  if (rc == 0) rc = run_setup(r, &o, argv[0], "meshlab demo");
  if (rc != 0) {
    if (!r->stopping) {
      if (!r->sigint.loop) {
        uv_signal_init(&r->loop, &r->sigint);
        uv_signal_init(&r->loop, &r->sigterm);
      }
      stop(r);
    }
    run_loop(r);
    conn_env_free(&env);
    free(r);
    return rc ? rc : 1;
  }
  printf("\nTry it:\n  curl -v http://%s/hello\n\nThe access log below shows each request in Envoy's format"
         " (code, response flags, bytes, duration, request id). Ctrl-C stops.\n\n",
         r->px.listeners->address);
  fflush(stdout);
  rc = run_loop(r);
  conn_env_free(&env);
  free(r);
  return rc;
}
