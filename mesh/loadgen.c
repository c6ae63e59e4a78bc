/* The load generator: see loadgen.h.
 *
 * Every connection ("client") is a small state machine:
 *
 *   DOWN --connect--> CONNECTING --ok--> IDLE --send--> BUSY --response--> IDLE ...
 *     ^                   |                |              |
 *     +----- CLOSING <----+ (failed)       +--(EOF)-------+--(EOF, error, timeout, close)
 *
 * and owes zero or more requests: ones that fell due while it could not send. In open loop
 * they are consecutive entries of its schedule (sequence numbers s, s + C, s + 2C, ...), so a
 * count and the oldest sequence number describe them all, and each one's intended send time is
 * recomputed from its number. In closed loop a client owes at most one request, due when it was
 * handed out. A request that cannot be sent because its connection failed is counted as an
 * error at once; the next one owed tries a new connection.
 */
#include "mesh/loadgen.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#include <sys/timerfd.h>
#endif

#include "mesh/http.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- Pure parts ------------------------------------------------------------------------- */

int loadgen_url_parse(struct loadgen_url *out, const char *url) {
  memset(out, 0, sizeof *out);
  const char *p = url;
  if (strncmp(p, "http://", 7) == 0) p += 7;
  else if (strstr(p, "://")) return -EINVAL; /* https:// and friends: no TLS client here */
  size_t alen = strcspn(p, "/?#");
  if (alen == 0 || alen >= sizeof out->authority || memchr(p, '@', alen)) return -EINVAL;
  memcpy(out->authority, p, alen);
  const char *a = out->authority, *port = NULL;
  size_t hlen;
  if (a[0] == '[') {
    const char *end = strchr(a, ']');
    if (!end || end == a + 1) return -EINVAL;
    hlen = (size_t)(end - a - 1);
    memcpy(out->host, a + 1, hlen);
    if (end[1] == ':') port = end + 2;
    else if (end[1] != '\0') return -EINVAL;
  } else {
    const char *colon = strchr(a, ':');
    if (colon && strchr(colon + 1, ':')) return -EINVAL; /* IPv6 needs brackets */
    hlen = colon ? (size_t)(colon - a) : alen;
    if (hlen == 0) return -EINVAL;
    memcpy(out->host, a, hlen);
    if (colon) port = colon + 1;
  }
  out->port = 80;
  if (port) {
    if (!*port || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port)) return -EINVAL;
    out->port = atoi(port);
    if (out->port < 1 || out->port > 65535) return -EINVAL;
  }
  const char *rest = p + alen;
  size_t rlen = strcspn(rest, "#"); /* a fragment never goes on the wire */
  if (rlen + 2 > sizeof out->path) return -EINVAL;
  for (size_t i = 0; i < rlen; i++)
    if ((unsigned char)rest[i] <= ' ' || rest[i] == 0x7f) return -EINVAL; /* would break the request line */
  size_t off = 0;
  if (rlen == 0 || rest[0] == '?') out->path[off++] = '/';
  memcpy(out->path + off, rest, rlen);
  return 0;
}

/* RFC 9110 section 5.6.2: tchar. */
static int is_token(const char *s, size_t n) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!(ch > ' ' && ch < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", ch))) return 0;
  }
  return 1;
}

static int name_is(const char *h, size_t n, const char *name) {
  return strlen(name) == n && slice_eq_str_nocase((struct slice){h, n}, name);
}

int loadgen_request_build(struct buf *out, const char *method, const struct loadgen_url *u, int absolute_form,
                          const char *const *headers, size_t nheaders, int *bad_header) {
  *bad_header = -1;
  if (!is_token(method, strlen(method))) return -EINVAL;
  int has_host = 0, has_ua = 0, has_length = 0;
  for (size_t i = 0; i < nheaders; i++) {
    const char *h = headers[i], *colon = strchr(h, ':');
    size_t n = colon ? (size_t)(colon - h) : 0;
    if (!colon || !is_token(h, n) || strpbrk(h, "\r\n")) {
      *bad_header = (int)i;
      return -EINVAL;
    }
    has_host |= name_is(h, n, "host");
    has_ua |= name_is(h, n, "user-agent");
    has_length |= name_is(h, n, "content-length") || name_is(h, n, "transfer-encoding");
  }
  int rc = 0;
  rc |= buf_appendf(out, "%s %s%s%s HTTP/1.1\r\n", method, absolute_form ? "http://" : "",
                    absolute_form ? u->authority : "", u->path);
  if (!has_host) rc |= buf_appendf(out, "host: %s\r\n", u->authority);
  if (!has_ua) rc |= buf_append_str(out, "user-agent: meshlab-load/0.1\r\n");
  /* A body-carrying method without framing: some servers (nginx) answer 411 without this. */
  if (!has_length && (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0))
    rc |= buf_append_str(out, "content-length: 0\r\n");
  for (size_t i = 0; i < nheaders; i++) {
    const char *h = headers[i], *colon = strchr(h, ':'), *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    size_t vn = strlen(v);
    while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t')) vn--;
    rc |= buf_appendf(out, "%.*s: %.*s\r\n", (int)(colon - h), h, (int)vn, v);
  }
  rc |= buf_append_str(out, "\r\n");
  return rc ? -ENOMEM : 0;
}

uint32_t loadgen_response_flags(const struct http_head *h) {
  const struct slice *v = http_head_find(h, "x-meshlab-response-flags");
  if (!v) {
    /* Envoy marks a circuit-breaker reply this way (router filter, x-envoy-overloaded). */
    const struct slice *ov = http_head_find(h, "x-envoy-overloaded");
    return ov && slice_eq_str_nocase(*ov, "true") ? FLAG_UO : 0;
  }
  uint32_t flags = 0;
  size_t i = 0;
  while (i < v->n) {
    while (i < v->n && (v->p[i] == ' ' || v->p[i] == ',')) i++;
    size_t start = i;
    while (i < v->n && v->p[i] != ',' && v->p[i] != ' ') i++;
    if (i > start) flags |= flag_parse(v->p + start, i - start); /* "-" and unknown names give 0 */
  }
  return flags;
}

/* ---- The engine ------------------------------------------------------------------------- */

enum client_state { CLIENT_DOWN, CLIENT_CONNECTING, CLIENT_IDLE, CLIENT_BUSY, CLIENT_CLOSING };

struct loadgen_client {
  struct conn conn; /* a handle only outside CLIENT_DOWN */
  uv_timer_t timer; /* connect and request timeout */
  struct loadgen *lg;
  struct http_parser *parser;
  enum client_state state;
  uint64_t intended; /* the request in flight: its intended send time */
  uint64_t owed;     /* requests due, not yet sent */
  uint64_t owed_seq; /* open loop: sequence number of the oldest owed request */
  uint64_t owed_at;  /* closed loop: when the owed request was handed out */
  int status;        /* the response being read */
  uint32_t flags;
  unsigned keep_alive : 1, interim : 1;
};

static const struct http_limits response_limits = {65536, 100, 0};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int open_loop(const struct loadgen *lg) { return lg->opts.qps > 0; }

static uint64_t timeout_ms(const struct loadgen *lg) {
  return lg->opts.timeout_ms ? lg->opts.timeout_ms : LOADGEN_DEFAULT_TIMEOUT_MS;
}

/* Open loop: when request number seq is due. */
static uint64_t due_ns(const struct loadgen *lg, uint64_t seq) {
  return lg->t0 + (uint64_t)((double)seq * 1e9 / lg->opts.qps);
}

static void finish(struct loadgen *lg, int status);
static void client_pump(struct loadgen_client *c);
static void closed_next(struct loadgen_client *c);

static void set_error(struct loadgen *lg, int status, const char *what) {
  if (lg->error[0]) return; /* the first reason is the telling one */
  lg->first_error = status;
  snprintf(lg->error, sizeof lg->error, "cannot connect to %s: %s", lg->opts.addr.text, what);
}

/* A request that got (or will get) no response. */
static void count_error(struct loadgen *lg, uint64_t n) {
  if (n == 0) return;
  lg->result.errors += n;
  lg->result.requests += n;
  lg->last_done = now_ns();
}

static void check_finished(struct loadgen *lg) {
  if (lg->phase != LOADGEN_RUNNING || !lg->schedule_done) return;
  for (unsigned i = 0; i < lg->opts.connections; i++)
    if (lg->clients[i].owed || lg->clients[i].state == CLIENT_BUSY) return;
  finish(lg, 0);
}

static void on_end_timer(uv_timer_t *t);

/* No more requests will fall due: give the ones still out one timeout to finish. */
static void schedule_end(struct loadgen *lg) {
  if (lg->schedule_done) return;
  lg->schedule_done = 1;
  uv_timer_start(&lg->end_timer, on_end_timer, timeout_ms(lg), 0);
  check_finished(lg);
}

static void on_end_timer(uv_timer_t *t) {
  struct loadgen *lg = container_of(t, struct loadgen, end_timer);
  if (lg->phase != LOADGEN_RUNNING) return;
  if (!lg->schedule_done) {
    schedule_end(lg); /* a timed closed-loop run: time is up */
    return;
  }
  /* The drain deadline: whatever is still out or owed gets no response now. */
  for (unsigned i = 0; i < lg->opts.connections; i++) {
    struct loadgen_client *c = &lg->clients[i];
    count_error(lg, c->owed + (c->state == CLIENT_BUSY));
    c->owed = 0;
  }
  finish(lg, 0);
}

/* ---- one connection ---- */

static void client_close(struct loadgen_client *c) {
  uv_timer_stop(&c->timer);
  conn_close(&c->conn);
  c->state = CLIENT_CLOSING;
}

/* The oldest owed request cannot go out: its connection failed. */
static void client_fail_one(struct loadgen_client *c) {
  struct loadgen *lg = c->lg;
  if (lg->phase != LOADGEN_RUNNING || c->owed == 0) return;
  c->owed--;
  c->owed_seq += lg->opts.connections;
  count_error(lg, 1);
}

static void warm_done(struct loadgen *lg);

static void on_client_timer(uv_timer_t *t) {
  struct loadgen_client *c = container_of(t, struct loadgen_client, timer);
  struct loadgen *lg = c->lg;
  switch (c->state) {
  case CLIENT_CONNECTING: {
    char what[64];
    snprintf(what, sizeof what, "no answer within %llu ms", (unsigned long long)timeout_ms(lg));
    set_error(lg, UV_ETIMEDOUT, what);
    client_close(c);
    if (lg->phase == LOADGEN_WARMUP) warm_done(lg);
    else client_fail_one(c);
    break;
  }
  case CLIENT_BUSY:
    count_error(lg, 1);
    client_close(c);
    break;
  case CLIENT_DOWN:
  case CLIENT_IDLE:
  case CLIENT_CLOSING:
    break;
  }
}

static void client_send(struct loadgen_client *c, int on_time) {
  struct loadgen *lg = c->lg;
  uint64_t intended = open_loop(lg) ? due_ns(lg, c->owed_seq) : c->owed_at;
  c->owed--;
  c->owed_seq += lg->opts.connections;
  uint64_t now = now_ns();
  if (on_time) hist_record(&lg->result.lateness, now > intended ? now - intended : 0);
  c->intended = intended;
  c->state = CLIENT_BUSY;
  c->interim = 0;
  uv_timer_start(&c->timer, on_client_timer, timeout_ms(lg), 0);
  if (conn_write(&c->conn, lg->opts.request.p, lg->opts.request.n) != 0) {
    count_error(lg, 1);
    client_close(c);
  }
}

static void client_complete(struct loadgen_client *c) {
  struct loadgen *lg = c->lg;
  uint64_t now = now_ns();
  struct loadgen_result *r = &lg->result;
  hist_record(&r->latency, now > c->intended ? now - c->intended : 0);
  if (c->status > 0 && c->status < LOADGEN_MAX_STATUS) r->codes[c->status]++;
  for (unsigned b = 0; b < FLAG_COUNT; b++)
    if (c->flags & (1u << b)) r->flags[b]++;
  r->responses++;
  r->requests++;
  lg->last_done = now;
  uv_timer_stop(&c->timer);
  if (!c->keep_alive) {
    client_close(c); /* the close callback opens the next connection when one is needed */
  } else {
    c->state = CLIENT_IDLE;
    if (!open_loop(lg) && c->owed == 0) closed_next(c);
    client_pump(c);
  }
  check_finished(lg);
}

static int on_resp_head(void *owner, struct http_head *h) {
  struct loadgen_client *c = owner;
  if (c->state != CLIENT_BUSY) return -1; /* a response nobody asked for */
  c->status = h->status;
  c->flags = loadgen_response_flags(h);
  c->keep_alive = h->keep_alive;
  c->interim = h->status >= 100 && h->status < 200 && h->status != 101;
  return c->lg->opts.head ? 1 : 0;
}

static int on_resp_body(void *owner, const char *p, size_t n) {
  (void)owner;
  (void)p;
  (void)n;
  return 0; /* discarded: only its framing matters */
}

static int on_resp_complete(void *owner) {
  (void)owner;
  return 0; /* handled when http_parser_execute returns HTTP_PARSE_DONE */
}

static const struct http_parser_cbs response_cbs = {on_resp_head, on_resp_body, on_resp_complete};

static void on_client_read(struct conn *cn, int status, const char *data, size_t len) {
  struct loadgen_client *c = cn->data;
  struct loadgen *lg = c->lg;
  if (c->state != CLIENT_IDLE && c->state != CLIENT_BUSY) return;
  if (status < 0) {
    /* EOF may end a response delimited by close; anything else in flight is lost. */
    if (status == UV_EOF && c->state == CLIENT_BUSY && http_parser_finish(c->parser) == HTTP_PARSE_DONE &&
        !c->interim) {
      c->keep_alive = 0;
      client_complete(c);
      return;
    }
    if (c->state == CLIENT_BUSY) count_error(lg, 1);
    client_close(c);
    return;
  }
  while (len > 0) {
    size_t used = 0;
    int rc = http_parser_execute(c->parser, data, len, &used);
    if (rc == HTTP_PARSE_OK) return;
    if (rc != HTTP_PARSE_DONE) {
      if (c->state == CLIENT_BUSY) count_error(lg, 1); /* malformed: no status to count */
      client_close(c);
      return;
    }
    data += used;
    len -= used;
    if (c->interim) {
      c->interim = 0; /* 100 Continue and friends: the real response follows */
      continue;
    }
    client_complete(c);
    if (c->state != CLIENT_IDLE && c->state != CLIENT_BUSY) return;
  }
}

static void on_client_connected(struct conn *cn, int status) {
  struct loadgen_client *c = cn->data;
  struct loadgen *lg = c->lg;
  uv_timer_stop(&c->timer);
  if (status == 0) status = conn_read_start(cn);
  if (status < 0) {
    set_error(lg, status, uv_strerror(status));
    client_close(c);
    if (lg->phase == LOADGEN_WARMUP) warm_done(lg);
    else client_fail_one(c);
    return;
  }
  lg->result.sockets++;
  http_parser_reset(c->parser);
  c->state = CLIENT_IDLE;
  if (lg->phase == LOADGEN_WARMUP) {
    lg->connected++;
    warm_done(lg);
  } else {
    client_pump(c);
  }
}

static void on_client_closed(struct conn *cn) {
  struct loadgen_client *c = cn->data;
  struct loadgen *lg = c->lg;
  c->state = CLIENT_DOWN;
  lg->handles_open--;
  if (lg->phase == LOADGEN_CLOSING) {
    if (lg->handles_open == 0) finish(lg, lg->done_status);
    return;
  }
  if (lg->phase != LOADGEN_RUNNING) return;
  if (!open_loop(lg) && c->owed == 0) closed_next(c);
  client_pump(c);
  check_finished(lg);
}

static void client_connect(struct loadgen_client *c) {
  struct loadgen *lg = c->lg;
  int rc = conn_connect(&c->conn, &lg->env, &lg->opts.addr, on_client_connected);
  lg->handles_open++;
  c->conn.data = c;
  c->conn.on_read = on_client_read;
  c->conn.on_close = on_client_closed;
  c->state = CLIENT_CONNECTING;
  http_parser_reset(c->parser);
  if (rc != 0) {
    /* The handle exists either way (conn.h); on_connect will not fire. */
    set_error(lg, rc, uv_strerror(rc));
    client_close(c);
    if (lg->phase == LOADGEN_WARMUP) warm_done(lg);
    else client_fail_one(c);
    return;
  }
  uv_timer_start(&c->timer, on_client_timer, timeout_ms(lg), 0);
}

/* Moves a client towards sending what it owes. */
static void client_pump(struct loadgen_client *c) {
  if (c->lg->phase != LOADGEN_RUNNING || c->owed == 0) return;
  switch (c->state) {
  case CLIENT_DOWN:
    client_connect(c);
    break;
  case CLIENT_IDLE:
    client_send(c, 0);
    break;
  case CLIENT_CONNECTING:
  case CLIENT_BUSY:
  case CLIENT_CLOSING:
    break;
  }
}

/* Closed loop: hands a free client its next request while the budget or the time lasts. */
static void closed_next(struct loadgen_client *c) {
  struct loadgen *lg = c->lg;
  if (lg->phase != LOADGEN_RUNNING || lg->schedule_done) return;
  uint64_t now = now_ns();
  if (lg->opts.requests ? lg->issued >= lg->opts.requests : now >= lg->t0 + lg->opts.duration_ms * 1000000ull) {
    schedule_end(lg);
    return;
  }
  lg->issued++;
  c->owed = 1;
  c->owed_at = now;
  if (lg->opts.requests && lg->issued == lg->opts.requests) schedule_end(lg);
}

/* ---- the open-loop schedule ---- */

#ifndef __linux__
static void on_tick_timer(uv_timer_t *t);
#endif

static void tick_arm(struct loadgen *lg, uint64_t at) {
#ifdef __linux__
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  if (at == 0) at = 1; /* zero would disarm */
  its.it_value.tv_sec = (time_t)(at / 1000000000ull);
  its.it_value.tv_nsec = (long)(at % 1000000000ull);
  timerfd_settime(lg->tick_fd, TFD_TIMER_ABSTIME, &its, NULL);
#else
  uint64_t now = now_ns();
  uv_timer_start(&lg->tick_timer, on_tick_timer, at > now ? (at - now + 999999) / 1000000 : 0, 0);
#endif
}

/* Hands every request that has fallen due to its connection, then sleeps until the next. */
static void tick(struct loadgen *lg) {
  if (lg->phase != LOADGEN_RUNNING) return;
  unsigned nc = lg->opts.connections;
  while (lg->next_seq < lg->total) {
    uint64_t due = due_ns(lg, lg->next_seq), now = now_ns();
    if (due > now) {
      if (due - now > lg->opts.spin_ns) {
        tick_arm(lg, due - lg->opts.spin_ns);
        return;
      }
      /* Close enough to spin: a wake-up from sleep costs tens of µs on a VM, a spin nothing. */
      while (now_ns() < due) {
      }
    }
    struct loadgen_client *c = &lg->clients[lg->next_seq % nc];
    int free_now = c->owed == 0 && c->state == CLIENT_IDLE;
    if (c->owed == 0) c->owed_seq = lg->next_seq;
    c->owed++;
    lg->next_seq++;
    if (free_now) client_send(c, 1);
    else client_pump(c); /* busy: it waits, and the wait counts; down: reconnect */
    if (lg->phase != LOADGEN_RUNNING) return;
  }
  schedule_end(lg);
}

#ifndef __linux__
static void on_tick_timer(uv_timer_t *t) { tick(container_of(t, struct loadgen, tick_timer)); }
#else
static void on_tick_poll(uv_poll_t *p, int status, int events) {
  struct loadgen *lg = container_of(p, struct loadgen, tick_poll);
  (void)events;
  uint64_t expirations;
  if (status == 0 && read(lg->tick_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) return;
  tick(lg);
}
#endif

/* ---- run lifecycle ---- */

static void start_schedule(struct loadgen *lg) {
  lg->phase = LOADGEN_RUNNING;
  lg->t0 = now_ns();
  if (open_loop(lg)) {
    lg->total = lg->opts.requests ? lg->opts.requests
                                  : (uint64_t)ceil((double)lg->opts.duration_ms * lg->opts.qps / 1000.0 - 1e-9);
    tick(lg);
    return;
  }
  if (!lg->opts.requests) uv_timer_start(&lg->end_timer, on_end_timer, lg->opts.duration_ms, 0);
  for (unsigned i = 0; i < lg->opts.connections && lg->phase == LOADGEN_RUNNING; i++) {
    closed_next(&lg->clients[i]);
    client_pump(&lg->clients[i]);
  }
  check_finished(lg);
}

static void warm_done(struct loadgen *lg) {
  if (--lg->warming > 0) return;
  if (lg->connected == 0) {
    finish(lg, lg->first_error ? lg->first_error : UV_ECONNREFUSED);
    return;
  }
  start_schedule(lg);
}

static void on_handle_closed(uv_handle_t *h) {
  struct loadgen *lg = h->data;
  if (--lg->handles_open == 0) finish(lg, lg->done_status);
}

/* Ends the run: computes the summary, closes every handle, and once the last one is closed
 * (finish is called again from its close callback) releases memory and reports. */
static void finish(struct loadgen *lg, int status) {
  if (lg->phase != LOADGEN_CLOSING) {
    uint64_t now = now_ns();
    lg->phase = LOADGEN_CLOSING;
    lg->done_status = status;
    struct loadgen_result *r = &lg->result;
    if (lg->t0) {
      uint64_t end = r->interrupted || !lg->last_done ? now : lg->last_done;
      double elapsed = end > lg->t0 ? (double)(end - lg->t0) / 1e9 : 0, window = 0;
      if (!r->interrupted) {
        if (!lg->opts.requests) window = (double)lg->opts.duration_ms / 1000.0;
        else if (open_loop(lg)) window = (double)lg->opts.requests / lg->opts.qps;
      }
      r->duration_s = elapsed > window ? elapsed : window;
      r->qps = r->duration_s > 0 ? (double)r->requests / r->duration_s : 0;
    }
    for (unsigned i = 0; i < lg->opts.connections; i++) {
      struct loadgen_client *c = &lg->clients[i];
      if (c->state != CLIENT_DOWN) client_close(c);
      uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    }
    uv_close((uv_handle_t *)&lg->end_timer, on_handle_closed);
#ifdef __linux__
    uv_close((uv_handle_t *)&lg->tick_poll, on_handle_closed);
#else
    uv_close((uv_handle_t *)&lg->tick_timer, on_handle_closed);
#endif
    return;
  }
  if (lg->handles_open > 0) return;
  for (unsigned i = 0; i < lg->opts.connections; i++) http_parser_free(lg->clients[i].parser);
  free(lg->clients);
  lg->clients = NULL;
  conn_env_free(&lg->env);
#ifdef __linux__
  close(lg->tick_fd);
  lg->tick_fd = -1;
  if (lg->saved_slack > 0) prctl(PR_SET_TIMERSLACK, (unsigned long)lg->saved_slack, 0, 0, 0);
#endif
  lg->phase = LOADGEN_IDLE;
  lg->on_done(lg, lg->done_status);
}

int loadgen_start(struct loadgen *lg, uv_loop_t *loop, const struct loadgen_opts *opts, loadgen_done_cb on_done) {
  if (opts->connections == 0 || opts->qps < 0 || !isfinite(opts->qps) || opts->request.n == 0 ||
      (opts->requests == 0 && opts->duration_ms == 0))
    return -EINVAL;
  void *data = lg->data;
  memset(lg, 0, sizeof *lg);
  lg->data = data;
  lg->loop = loop;
  lg->opts = *opts;
  lg->on_done = on_done;
  lg->tick_fd = -1;
  lg->clients = calloc(opts->connections, sizeof *lg->clients);
  if (!lg->clients || conn_env_init(&lg->env, loop, 65536) != 0) {
    free(lg->clients);
    lg->clients = NULL;
    conn_env_free(&lg->env);
    return -ENOMEM;
  }
  for (unsigned i = 0; i < opts->connections; i++) {
    lg->clients[i].parser = http_parser_new(HTTP_PARSE_RESPONSE, &response_cbs, &response_limits, &lg->clients[i]);
    if (!lg->clients[i].parser) {
      for (unsigned k = 0; k < i; k++) http_parser_free(lg->clients[k].parser);
      free(lg->clients);
      lg->clients = NULL;
      conn_env_free(&lg->env);
      return -ENOMEM;
    }
  }
#ifdef __linux__
  lg->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (lg->tick_fd < 0) {
    int err = -errno;
    for (unsigned i = 0; i < opts->connections; i++) http_parser_free(lg->clients[i].parser);
    free(lg->clients);
    lg->clients = NULL;
    conn_env_free(&lg->env);
    return err;
  }
  /* Wake-ups within a microsecond of the schedule: the default slack (50 µs) would show up as
   * latency. Restored when the run ends. */
  lg->saved_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  uv_poll_init(loop, &lg->tick_poll, lg->tick_fd);
  lg->tick_poll.data = lg;
  uv_poll_start(&lg->tick_poll, UV_READABLE, on_tick_poll);
#else
  uv_timer_init(loop, &lg->tick_timer);
  lg->tick_timer.data = lg;
#endif
  uv_timer_init(loop, &lg->end_timer);
  lg->end_timer.data = lg;
  lg->handles_open = 2;
  lg->phase = LOADGEN_WARMUP;
  lg->warming = opts->connections;
  for (unsigned i = 0; i < opts->connections; i++) {
    struct loadgen_client *c = &lg->clients[i];
    c->lg = lg;
    uv_timer_init(loop, &c->timer);
    c->timer.data = lg;
    lg->handles_open++;
  }
  for (unsigned i = 0; i < opts->connections && lg->phase == LOADGEN_WARMUP; i++) client_connect(&lg->clients[i]);
  return 0;
}

void loadgen_stop(struct loadgen *lg) {
  if (lg->phase != LOADGEN_WARMUP && lg->phase != LOADGEN_RUNNING) return;
  lg->result.interrupted = 1;
  finish(lg, 0);
}
