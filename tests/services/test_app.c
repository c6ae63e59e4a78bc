/* The app runner: every chaos knob through the control endpoint (in-process), the knobs'
 * validation, and `meshlab app` as a process: its ready lines, unix sockets, SIGTERM → exit 0,
 * crash → non-zero exit, usage errors → 2. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app_fixture.h"
#include "support/test.h"

static void post_chaos(struct appfix *f, int i, const char *json, int want_status, struct client_response *out) {
  struct client_response r;
  if (http_do(f->control_ports[i], "POST", "/chaos", NULL, json, &r) != 0) {
    test_fail(__FILE__, __LINE__, "POST /chaos: no answer");
    return;
  }
  if (r.status != want_status)
    test_fail(__FILE__, __LINE__, "POST /chaos %s: %d, wanted %d (%s)", json, r.status, want_status,
              r.body.data ? r.body.data : "");
  if (out) *out = r;
  else client_response_free(&r);
}

static int start_one(struct appfix *f, enum app_kind kind) {
  appfix_init(f);
  int i = appfix_add(f, kind, "v1", 0, 0, 0, 0, 1);
  appfix_run(f);
  return i;
}

static int timed_get(int port, const char *path, int *status) {
  struct client_response r;
  double t0 = now_ms_test();
  if (http_do(port, "GET", path, NULL, NULL, &r) != 0) return -1;
  *status = r.status;
  client_response_free(&r);
  return (int)(now_ms_test() - t0);
}

static void knobs_default_off(void) {
  struct appfix f;
  int i = start_one(&f, APP_RATINGS);
  ASSERT(i >= 0);
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.control_ports[i], "GET", "/chaos", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_EQ(r.body.data,
                "{\"latency_ms\":0,\"jitter_ms\":0,\"error_rate\":0,\"error_code\":503,\"hang\":false,"
                "\"crash\":false,\"slow_start_ms\":0,\"ready\":true,\"hung_requests\":0,"
                "\"headers_forwarding\":true}\n");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.control_ports[i], "GET", "/nope", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 404);
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.control_ports[i], "PUT", "/chaos", NULL, "{}", &r), 0);
  EXPECT_INT_EQ(r.status, 405);
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.control_ports[i], "GET", "/info", NULL, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"kind\":\"ratings\",\"version\":\"v1\"");
  client_response_free(&r);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void latency_fixed_and_jittered(void) {
  struct appfix f;
  int i = start_one(&f, APP_RATINGS);
  ASSERT(i >= 0);
  int status = 0;
  post_chaos(&f, i, "{\"latency_ms\":300}", 200, NULL);
  int ms = timed_get(f.ports[i], "/ratings/0", &status);
  EXPECT_INT_EQ(status, 200);
  EXPECT_INT_GE(ms, 295);
  EXPECT_INT_LE(ms, 3000);
  /* health checks are not delayed */
  ms = timed_get(f.ports[i], "/health", &status);
  EXPECT_INT_LE(ms, 250);
  post_chaos(&f, i, "{\"latency_ms\":200,\"jitter_ms\":180}", 200, NULL);
  int lo = 1 << 30, hi = 0;
  for (int k = 0; k < 8; k++) {
    ms = timed_get(f.ports[i], "/ratings/0", &status);
    if (ms < lo) lo = ms;
    if (ms > hi) hi = ms;
  }
  EXPECT_INT_GE(lo, 18);   /* 200 - 180, less a little timer rounding */
  EXPECT_INT_LE(hi, 2500); /* 380 at most, and a busy machine's margin */
  /* The jitter goes both ways: seed 42's eight draws run from 48 to 344 ms, so one answer comes
   * well before the bare 200 ms (load can only delay it, never hurry it) and one well after. */
  EXPECT_INT_LE(lo, 150);
  EXPECT_INT_GE(hi, 250);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

/* The draw itself: uniform over [latency - jitter, latency + jitter], reaching both ends, and
 * clamped at 0 when the jitter is wider than the latency. */
static void latency_draw_spreads_and_never_goes_negative(void) {
  struct rng rng;
  rng_seed(&rng, 7);
  struct app_chaos c = {.latency_ms = 100, .jitter_ms = 20};
  uint64_t lo = UINT64_MAX, hi = 0;
  int seen[41] = {0}, distinct = 0;
  for (int k = 0; k < 4000; k++) {
    uint64_t ms = app_chaos_latency(&c, &rng);
    if (ms < lo) lo = ms;
    if (ms > hi) hi = ms;
    if (ms >= 80 && ms <= 120 && !seen[ms - 80]++) distinct++;
  }
  EXPECT_INT_EQ(lo, 80);
  EXPECT_INT_EQ(hi, 120);
  EXPECT_INT_EQ(distinct, 41); /* every millisecond of the window is drawn */
  c = (struct app_chaos){.latency_ms = 100};
  EXPECT_INT_EQ(app_chaos_latency(&c, &rng), 100);
  c = (struct app_chaos){.latency_ms = 10, .jitter_ms = 50};
  int zeros = 0;
  hi = 0;
  for (int k = 0; k < 4000; k++) {
    uint64_t ms = app_chaos_latency(&c, &rng);
    zeros += ms == 0;
    if (ms > hi) hi = ms;
  }
  EXPECT_INT_GE(zeros, 4000 * 40 / 101 - 200); /* draws of -40..0 all become 0 */
  EXPECT_INT_LE(zeros, 4000 * 41 / 101 + 200);
  EXPECT_INT_EQ(hi, 60);
  c = (struct app_chaos){.jitter_ms = 5};
  for (int k = 0; k < 100; k++) EXPECT_INT_LE(app_chaos_latency(&c, &rng), 5);
}

static void error_rate_uses_chosen_code_and_seed(void) {
  struct appfix f;
  int i = start_one(&f, APP_DETAILS);
  ASSERT(i >= 0);
  post_chaos(&f, i, "{\"error_rate\":1,\"error_code\":500}", 200, NULL);
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.ports[i], "GET", "/details/0", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 500);
  EXPECT_STR_CONTAINS(r.body.data, "chaos: injected error 500");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.ports[i], "GET", "/health", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  post_chaos(&f, i, "{\"error_rate\":0.5,\"error_code\":503}", 200, NULL);
  char pattern[41] = "";
  int errors = 0;
  for (int k = 0; k < 40; k++) {
    int status = 0;
    timed_get(f.ports[i], "/details/0", &status);
    pattern[k] = status == 503 ? 'x' : status == 200 ? '.' : '?';
    errors += status == 503;
  }
  EXPECT_INT_GE(errors, 8);
  EXPECT_INT_LE(errors, 32);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
  /* the same seed and the same history make the same rolls */
  i = start_one(&f, APP_DETAILS);
  post_chaos(&f, i, "{\"error_rate\":1,\"error_code\":500}", 200, NULL);
  int first = 0;
  timed_get(f.ports[i], "/details/0", &first);
  EXPECT_INT_EQ(first, 500);
  post_chaos(&f, i, "{\"error_rate\":0.5,\"error_code\":503}", 200, NULL);
  char again[41] = "";
  for (int k = 0; k < 40; k++) {
    int status = 0;
    timed_get(f.ports[i], "/details/0", &status);
    again[k] = status == 503 ? 'x' : status == 200 ? '.' : '?';
  }
  EXPECT_STR_EQ(again, pattern);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void hang_never_answers_until_cleared(void) {
  struct appfix f;
  int i = start_one(&f, APP_RATINGS);
  ASSERT(i >= 0);
  post_chaos(&f, i, "{\"hang\":true}", 200, NULL);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.ports[i]), 0);
  client_send_str(&c, "GET /ratings/1 HTTP/1.1\r\nhost: t\r\n\r\n");
  struct pollfd pfd = {c.fd, POLLIN, 0};
  EXPECT_INT_EQ(poll(&pfd, 1, 300), 0); /* accepted, never answered */
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.control_ports[i], "GET", "/chaos", NULL, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"hang\":true");
  EXPECT_STR_CONTAINS(r.body.data, "\"hung_requests\":1");
  client_response_free(&r);
  /* Clearing thaws it: the held request is served. */
  ASSERT_INT_EQ(http_do(f.control_ports[i], "POST", "/chaos/clear", NULL, "", &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"hung_requests\":0");
  client_response_free(&r);
  ASSERT_INT_EQ(client_read(&c, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_CONTAINS(r.body.data, "\"id\":1");
  client_response_free(&r);
  client_close(&c);
  /* A request still hung at shutdown gets 503 and the loop still closes cleanly. */
  post_chaos(&f, i, "{\"hang\":true}", 200, NULL);
  ASSERT_INT_EQ(client_open(&c, f.ports[i]), 0);
  client_send_str(&c, "GET /ratings/1 HTTP/1.1\r\nhost: t\r\n\r\n");
  EXPECT_INT_EQ(poll(&pfd, 1, 100), 0);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
  if (client_read(&c, &r) == 0) EXPECT_INT_EQ(r.status, 503);
  client_response_free(&r);
  client_close(&c);
}

static void read_crashes(struct appfix *f, void *arg) { *(int *)arg = f->crashes[0]; }

static void crash_calls_the_crash_hook(void) {
  struct appfix f;
  int i = start_one(&f, APP_RATINGS);
  ASSERT_INT_EQ(i, 0);
  post_chaos(&f, i, "{\"crash\":true}", 200, NULL);
  int crashes = 0;
  for (int k = 0; k < 200 && !crashes; k++) {
    usleep(10 * 1000);
    appfix_call(&f, read_crashes, &crashes);
  }
  EXPECT_INT_EQ(crashes, 1);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void slow_start_answers_503_until_ready(void) {
  struct appfix f;
  int i = start_one(&f, APP_DETAILS);
  ASSERT(i >= 0);
  post_chaos(&f, i, "{\"slow_start_ms\":400}", 200, NULL);
  int status = 0;
  timed_get(f.ports[i], "/details/0", &status);
  EXPECT_INT_EQ(status, 503);
  timed_get(f.ports[i], "/health", &status);
  EXPECT_INT_EQ(status, 503); /* not ready: readiness fails too */
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.control_ports[i], "GET", "/chaos", NULL, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"ready\":false");
  client_response_free(&r);
  usleep(600 * 1000);
  timed_get(f.ports[i], "/details/0", &status);
  EXPECT_INT_EQ(status, 200);
  ASSERT_INT_EQ(http_do(f.control_ports[i], "GET", "/chaos", NULL, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"ready\":true");
  client_response_free(&r);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void clear_resets_every_knob(void) {
  struct appfix f;
  int i = start_one(&f, APP_RATINGS);
  ASSERT(i >= 0);
  post_chaos(&f, i,
             "{\"latency_ms\":2000,\"jitter_ms\":5,\"error_rate\":0.5,\"error_code\":502,\"slow_start_ms\":9000,"
             "\"headers_forwarding\":false}",
             200, NULL);
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.control_ports[i], "GET", "/headers-forwarding", NULL, NULL, &r), 0);
  EXPECT_STR_EQ(r.body.data, "{\"headers_forwarding\":false}\n");
  client_response_free(&r);
  /* Clear turns forwarding back on (as the app started), with every knob off. */
  ASSERT_INT_EQ(http_do(f.control_ports[i], "POST", "/chaos/clear", NULL, "", &r), 0);
  EXPECT_STR_EQ(r.body.data,
                "{\"latency_ms\":0,\"jitter_ms\":0,\"error_rate\":0,\"error_code\":503,\"hang\":false,"
                "\"crash\":false,\"slow_start_ms\":0,\"ready\":true,\"hung_requests\":0,"
                "\"headers_forwarding\":true}\n");
  client_response_free(&r);
  int status = 0;
  EXPECT_INT_LE(timed_get(f.ports[i], "/ratings/0", &status), 1000);
  EXPECT_INT_EQ(status, 200);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void bad_knobs_are_refused_whole(void) {
  struct appfix f;
  int i = start_one(&f, APP_RATINGS);
  ASSERT(i >= 0);
  static const struct {
    const char *body, *says;
  } cases[] = {
      {"{\"latency\":5}", "unknown chaos knob \\\"latency\\\""},
      {"{\"error_rate\":2}", "error_rate must be a number from 0 to 1"},
      {"{\"error_code\":42}", "error_code must be an HTTP status"},
      {"{\"latency_ms\":-1}", "latency_ms must be"},
      {"{\"hang\":\"yes\"}", "hang must be true or false"},
      {"latency=5", "must be a JSON object"},
      {"{\"latency_ms\":100,\"error_rate\":7}", "error_rate"},
      {"{\"headers_forwarding\":\"off\"}", "headers_forwarding must be true or false"},
      {"{\"headers_forwarding\":false,\"error_rate\":7}", "error_rate"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    struct client_response r;
    post_chaos(&f, i, cases[k].body, 400, &r);
    EXPECT_STR_CONTAINS(r.body.data, cases[k].says);
    client_response_free(&r);
  }
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.control_ports[i], "GET", "/chaos", NULL, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"latency_ms\":0,"); /* the refused cases changed nothing */
  EXPECT_STR_CONTAINS(r.body.data, "\"headers_forwarding\":true}");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.control_ports[i], "POST", "/headers-forwarding", NULL, "maybe", &r), 0);
  EXPECT_INT_EQ(r.status, 400);
  client_response_free(&r);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

/* ---- `meshlab app` as a process ------------------------------------------------------------- */

struct child {
  pid_t pid;
  int out; /* its stdout */
  char lines[512];
};

static int spawn(struct child *c, char *const argv[]) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  c->pid = fork();
  if (c->pid < 0) return -1;
  if (c->pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  c->out = fds[0];
  c->lines[0] = '\0';
  return 0;
}

/* Reads stdout until it holds `lines` newlines or 5 s pass. */
static int read_lines(struct child *c, int lines) {
  size_t len = strlen(c->lines);
  double t0 = now_ms_test();
  while (now_ms_test() - t0 < 5000) {
    int n = 0;
    for (const char *p = c->lines; (p = strchr(p, '\n')); p++) n++;
    if (n >= lines) return 0;
    struct pollfd pfd = {c->out, POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    ssize_t r = read(c->out, c->lines + len, sizeof c->lines - 1 - len);
    if (r <= 0) return -1;
    len += (size_t)r;
    c->lines[len] = '\0';
  }
  return -1;
}

/* Waits up to 5 s for the child to exit; returns its wait status, or -1 (then kills it). */
static int wait_exit(struct child *c) {
  for (int k = 0; k < 500; k++) {
    int st;
    pid_t p = waitpid(c->pid, &st, WNOHANG);
    if (p == c->pid) {
      close(c->out);
      return st;
    }
    usleep(10 * 1000);
  }
  kill(c->pid, SIGKILL);
  waitpid(c->pid, NULL, 0);
  close(c->out);
  return -1;
}

static int port_after(const char *lines, const char *prefix) {
  const char *p = strstr(lines, prefix);
  if (!p) return 0;
  const char *eol = strchr(p, '\n');
  const char *colon = p;
  for (const char *q = p; q < eol; q++)
    if (*q == ':') colon = q;
  return atoi(colon + 1);
}

/* One request over a unix socket; returns the status or -1. */
static int unix_get(const char *path, const char *target) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {0};
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  char req[256];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n", target);
  if (write(fd, req, (size_t)n) != n) {
    close(fd);
    return -1;
  }
  char buf[4096];
  size_t len = 0;
  struct pollfd pfd = {fd, POLLIN, 0};
  while (len < sizeof buf - 1 && poll(&pfd, 1, 5000) > 0) {
    ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
    if (r <= 0) break;
    len += (size_t)r;
  }
  close(fd);
  buf[len] = '\0';
  return strncmp(buf, "HTTP/1.1 ", 9) == 0 ? atoi(buf + 9) : -1;
}

static const char *bin(void) {
  const char *b = getenv("MESHLAB_BIN");
  return b && *b ? b : NULL;
}

static void process_serves_and_exits_zero_on_sigterm(void) {
  if (!bin()) {
    test_skip("MESHLAB_BIN not set");
    return;
  }
  char dir[] = "/tmp/meshlab-app-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  char listen[200], control[160], sock[100];
  snprintf(sock, sizeof sock, "%s/app.sock", dir);
  snprintf(listen, sizeof listen, "unix:%s", sock);
  snprintf(control, sizeof control, "127.0.0.1:0");
  char *argv[] = {(char *)bin(), "app",    "ratings", "--listen", listen,         "--control",
                  control,       "--seed", "7",       "--name",   "ratings-v1-0", NULL};
  struct child c;
  ASSERT_INT_EQ(spawn(&c, argv), 0);
  ASSERT_INT_EQ(read_lines(&c, 2), 0);
  char want[256];
  snprintf(want, sizeof want, "listening on unix:%s\ncontrol on 127.0.0.1:", sock);
  EXPECT_STR_CONTAINS(c.lines, want);
  EXPECT_INT_EQ(unix_get(sock, "/ratings/0"), 200);
  int cport = port_after(c.lines, "control on ");
  struct client_response r;
  ASSERT_INT_EQ(http_do(cport, "GET", "/info", NULL, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"name\":\"ratings-v1-0\"");
  client_response_free(&r);
  kill(c.pid, SIGTERM);
  int st = wait_exit(&c);
  EXPECT(st != -1 && WIFEXITED(st));
  EXPECT_INT_EQ(WEXITSTATUS(st), 0);
  unlink(sock);
  rmdir(dir);
}

static void process_crash_exits_non_zero(void) {
  if (!bin()) {
    test_skip("MESHLAB_BIN not set");
    return;
  }
  char *argv[] = {(char *)bin(), "app", "details", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", NULL};
  struct child c;
  ASSERT_INT_EQ(spawn(&c, argv), 0);
  ASSERT_INT_EQ(read_lines(&c, 2), 0);
  int port = port_after(c.lines, "listening on "), cport = port_after(c.lines, "control on ");
  struct client_response r;
  ASSERT_INT_EQ(http_do(port, "GET", "/details/0", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(cport, "POST", "/chaos", NULL, "{\"crash\":true}", &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  int st = wait_exit(&c);
  EXPECT(st != -1 && WIFEXITED(st));
  EXPECT_INT_EQ(WEXITSTATUS(st), APP_CRASH_EXIT_CODE);
}

static void process_slow_start_flag(void) {
  if (!bin()) {
    test_skip("MESHLAB_BIN not set");
    return;
  }
  char *argv[] = {(char *)bin(), "app", "httpbin", "--listen", "127.0.0.1:0", "--slow-start", "400ms", NULL};
  struct child c;
  ASSERT_INT_EQ(spawn(&c, argv), 0);
  ASSERT_INT_EQ(read_lines(&c, 1), 0);
  int port = port_after(c.lines, "listening on ");
  int status = 0;
  timed_get(port, "/get", &status);
  EXPECT_INT_EQ(status, 503);
  usleep(600 * 1000);
  timed_get(port, "/get", &status);
  EXPECT_INT_EQ(status, 200);
  kill(c.pid, SIGINT);
  int st = wait_exit(&c);
  EXPECT(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void process_usage_errors_exit_two(void) {
  if (!bin()) {
    test_skip("MESHLAB_BIN not set");
    return;
  }
  char *const cases[][8] = {
      {(char *)bin(), "app", NULL},
      {(char *)bin(), "app", "mysql", NULL},
      {(char *)bin(), "app", "reviews", "--version", "v9", NULL},
      {(char *)bin(), "app", "ratings", "--listen", "nowhere", NULL},
      {(char *)bin(), "app", "ratings", "--bogus", NULL},
      {(char *)bin(), "app", "ratings", "--slow-start", "5", NULL},
  };
  static const int want[] = {2, 2, 2, 2, 2, 2};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    struct child c;
    ASSERT_INT_EQ(spawn(&c, cases[k]), 0);
    int st = wait_exit(&c);
    EXPECT(st != -1 && WIFEXITED(st));
    if (WEXITSTATUS(st) != want[k])
      test_fail(__FILE__, __LINE__, "case %zu: exit %d, wanted %d", k, WEXITSTATUS(st), want[k]);
  }
}

TEST_CASES(TEST(knobs_default_off), TEST(latency_fixed_and_jittered),
           TEST(latency_draw_spreads_and_never_goes_negative), TEST(error_rate_uses_chosen_code_and_seed),
           TEST(hang_never_answers_until_cleared), TEST(crash_calls_the_crash_hook),
           TEST(slow_start_answers_503_until_ready), TEST(clear_resets_every_knob), TEST(bad_knobs_are_refused_whole),
           TEST(process_serves_and_exits_zero_on_sigterm), TEST(process_crash_exits_non_zero),
           TEST(process_slow_start_flag), TEST(process_usage_errors_exit_two))
