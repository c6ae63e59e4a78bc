/* `meshlab app KIND`: runs one sample application (services/) as its own process, the way the
 * lab starts each replica's app beside its sidecar. One libuv loop until SIGINT/SIGTERM, then
 * every handle closed and exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "services/app.h"

void cmd_app_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab app KIND [flags]\n\n"
          "Runs a sample application: productpage, details, reviews, ratings (Bookinfo), httpbin\n"
          "or external. Once listening it prints 'listening on ADDR' (and 'control on ADDR');\n"
          "SIGINT/SIGTERM close everything and exit 0. See docs/apps.md.\n\n"
          "Flags:\n"
          "  --listen ADDR              where the app serves (HOST:PORT or unix:/path; port 0 picks\n"
          "                             one; default 127.0.0.1:9080, httpbin 127.0.0.1:8000)\n"
          "  --control ADDR             chaos and header-forwarding control endpoint (default none)\n"
          "  --proxy HOST:PORT          the sidecar's outbound listener, used as an explicit HTTP proxy\n"
          "                             for calls to details:9080, reviews:9080, ratings:9080\n"
          "                             (default: $http_proxy; without either, calls go direct)\n"
          "  --upstream-details ADDR    call details here directly (also -reviews, -ratings)\n"
          "  --version vN               v1 (default), v2, v3: reviews' behaviour\n"
          "  --name REPLICA             replica name (reviews reports it as podname)\n"
          "  -n, --namespace NS         namespace (default \"default\")\n"
          "  --seed N                   seed for error rolls, jitter and random bytes\n"
          "  --slow-start D             answer 503 for D after start (500ms, 2s)\n"
          "  --headers-forwarding on|off  forward trace headers and end-user (default on)\n"
          "  --time-scale F             multiply productpage's and reviews' call timeouts by F\n"
          "                             (default 1: Istio's 3s, 10s, 2.5s; tests use less)\n");
}

struct app_run {
  uv_loop_t loop;
  struct app app;
  uv_signal_t sigint, sigterm;
};

static void on_stopped(struct app *a) { (void)a; }

static void stop(struct app_run *r) {
  if (uv_is_closing((uv_handle_t *)&r->sigint)) return;
  uv_close((uv_handle_t *)&r->sigint, NULL);
  uv_close((uv_handle_t *)&r->sigterm, NULL);
  app_stop(&r->app, on_stopped);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  stop(s->data);
}

/* http_proxy is "http://HOST:PORT" or "HOST:PORT", maybe with a trailing slash. */
static const char *proxy_from_env(char *out, size_t n) {
  const char *v = getenv("http_proxy");
  if (!v || !*v) v = getenv("HTTP_PROXY");
  if (!v || !*v) return NULL;
  if (strncmp(v, "http://", 7) == 0) v += 7;
  snprintf(out, n, "%s", v);
  size_t len = strlen(out);
  if (len && out[len - 1] == '/') out[len - 1] = '\0';
  return out;
}

int cmd_app(int argc, char **argv) {
  struct app_options o = {0};
  const char *kind = NULL, *slow = NULL, *seed = NULL, *fwd = NULL, *scale = NULL;
  o.ns = "default";
  for (int i = 1; i < argc; i++) {
    static const struct {
      const char *flag, *short_flag;
      size_t offset;
    } strs[] = {
        {"listen", NULL, offsetof(struct app_options, listen)},
        {"control", NULL, offsetof(struct app_options, control)},
        {"proxy", NULL, offsetof(struct app_options, proxy)},
        {"version", NULL, offsetof(struct app_options, version)},
        {"name", NULL, offsetof(struct app_options, name)},
        {"namespace", "-n", offsetof(struct app_options, ns)},
        {"upstream-details", NULL, offsetof(struct app_options, upstream[APP_SVC_DETAILS])},
        {"upstream-reviews", NULL, offsetof(struct app_options, upstream[APP_SVC_REVIEWS])},
        {"upstream-ratings", NULL, offsetof(struct app_options, upstream[APP_SVC_RATINGS])},
    };
    const char *v;
    int rc, matched = 0;
    if (argv[i][0] != '-') {
      if (kind) return args_usage_error(argv[0], "one KIND only (got \"%s\" and \"%s\")", kind, argv[i]);
      kind = argv[i];
      continue;
    }
    for (size_t k = 0; k < sizeof strs / sizeof strs[0] && !matched; k++) {
      if (!(rc = args_flag(argc, argv, &i, strs[k].flag, strs[k].short_flag, &v))) continue;
      if (rc < 0) return 2;
      matched = 1;
      *(const char **)((char *)&o + strs[k].offset) = v;
    }
    static const char *const extra[] = {"slow-start", "seed", "headers-forwarding", "time-scale"};
    const char **dst[] = {&slow, &seed, &fwd, &scale};
    for (size_t k = 0; k < 4 && !matched; k++) {
      if (!(rc = args_flag(argc, argv, &i, extra[k], NULL, &v))) continue;
      if (rc < 0) return 2;
      matched = 1;
      *dst[k] = v;
    }
    if (!matched) return args_usage_error(argv[0], "unknown flag \"%s\"", argv[i]);
  }
  if (!kind)
    return args_usage_error(argv[0], "KIND is required: productpage, details, reviews, ratings, httpbin, external");
  if (app_kind_parse(kind, &o.kind) != 0)
    return args_usage_error(argv[0], "unknown app \"%s\": productpage, details, reviews, ratings, httpbin, external",
                            kind);
  if (!o.listen) o.listen = o.kind == APP_HTTPBIN ? "127.0.0.1:8000" : "127.0.0.1:9080";
  if (o.version && strcmp(o.version, "v1") != 0 && strcmp(o.version, "v2") != 0 && strcmp(o.version, "v3") != 0)
    return args_usage_error(argv[0], "--version \"%s\": v1, v2 or v3", o.version);
  if (slow && args_duration_ms(slow, &o.slow_start_ms) != 0)
    return args_usage_error(argv[0], "--slow-start: \"%s\" is not a duration with a unit (500ms, 2s)", slow);
  if (seed) {
    char *end;
    o.seed = strtoull(seed, &end, 10);
    if (!*seed || *end) return args_usage_error(argv[0], "--seed: \"%s\" is not a whole number", seed);
    o.seeded = 1;
  }
  if (fwd) {
    if (strcmp(fwd, "on") == 0) o.no_forwarding = 0;
    else if (strcmp(fwd, "off") == 0) o.no_forwarding = 1;
    else return args_usage_error(argv[0], "--headers-forwarding: \"%s\" is not on or off", fwd);
  }
  if (scale) {
    char *end;
    o.time_scale = strtod(scale, &end);
    if (!*scale || *end || !(o.time_scale > 0) || o.time_scale > 100)
      return args_usage_error(argv[0], "--time-scale: \"%s\" is not a number above 0 (1 = Istio's timings)", scale);
  }
  static const char *const names[] = {"--listen",           "--control",          "--proxy",
                                      "--upstream-details", "--upstream-reviews", "--upstream-ratings"};
  const char *values[] = {o.listen, o.control, o.proxy, o.upstream[0], o.upstream[1], o.upstream[2]};
  for (int k = 0; k < 6; k++) {
    struct conn_addr a;
    if (values[k] && conn_addr_parse(&a, values[k]) != 0)
      return args_usage_error(argv[0], "%s \"%s\" is not HOST:PORT (numeric IP or localhost) or unix:/path", names[k],
                              values[k]);
  }
  char env_proxy[160];
  if (!o.proxy) o.proxy = proxy_from_env(env_proxy, sizeof env_proxy);

  signal(SIGPIPE, SIG_IGN);
  struct app_run *r = calloc(1, sizeof *r);
  if (!r) return 1;
  uv_loop_init(&r->loop);
  uv_signal_init(&r->loop, &r->sigint);
  uv_signal_init(&r->loop, &r->sigterm);
  r->sigint.data = r->sigterm.data = r;
  char err[512] = "";
  int rc = app_start(&r->app, &r->loop, &o, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "meshlab app %s: %s\n", kind, err);
    stop(r);
  } else {
    printf("listening on %s\n", app_address(&r->app));
    if (o.control) printf("control on %s\n", app_control_address(&r->app));
    fflush(stdout);
    uv_signal_start(&r->sigint, on_signal, SIGINT);
    uv_signal_start(&r->sigterm, on_signal, SIGTERM);
  }
  uv_run(&r->loop, UV_RUN_DEFAULT);
  app_free(&r->app);
  int closed = uv_loop_close(&r->loop);
  free(r);
  if (closed != 0) {
    fprintf(stderr, "meshlab app %s: event loop closed with handles open (%s)\n", kind, uv_strerror(closed));
    return 1;
  }
  return rc ? 1 : 0;
}
