/* mirror: the shadow requests of VirtualService `mirror` (see mirror.h for where it sits).
 *
 * Envoy's router hands a shadow to its ShadowWriter, an async HTTP client on the mirror cluster:
 * the request is copied, the host suffixed "-shadow", and the answer thrown away. Here a shadow
 * is a small object of its own: a host picked from the mirror cluster (referenced), a pooled or
 * new connection to it (upstream_acquire), the head and body written in one go, a response
 * parser that reads the answer only to know where it ends (so the connection can go back to
 * the pool), and a timer for its timeout. Whatever happens to it ends in mirror_finish, which
 * counts the outcome, gives the connection back (reusable only after a whole answer), drops
 * the references and closes the timer; the object is freed in the timer's close callback
 * (libuv's rule). Nothing here can reach the request that caused the shadow: it is gone from
 * the shadow's point of view the moment mirror_send returns.
 */
#include "mesh/mirror.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/clusters.h"

#define PER_MILLION 1000000u

enum mirror_outcome { MIRROR_ANSWERED, MIRROR_FAILED, MIRROR_TIMED_OUT };

struct mirror_request {
  struct mirror_set *ms;
  struct mirror_request *next, *prev;
  struct cluster *c;        /* referenced (cluster_pick) until the shadow ends */
  struct upstream *up;      /* likewise */
  struct upstream_conn *uc; /* the connection while in use */
  struct http_parser *resp;
  uv_timer_t timer;
  int status;
  unsigned interim : 1, complete : 1, keep_alive : 1, done : 1;
};

void mirror_set_init(struct mirror_set *ms, uv_loop_t *loop, uint64_t *live_handles, const struct http_limits *limits) {
  memset(ms, 0, sizeof *ms);
  ms->loop = loop;
  ms->live_handles = live_handles;
  ms->limits = limits;
}

int mirror_shadow_host(const char *authority, size_t len, char *out, size_t cap) {
  /* The host part ends at the last ':' that follows a closing ']' of an IPv6 literal, or at the
   * only ':' otherwise; a bare IPv6 literal without brackets has no port to split off. */
  size_t host_end = len;
  const char *colon = len ? memchr(authority, ':', len) : NULL;
  if (len && authority[0] == '[') {
    const char *close = memchr(authority, ']', len);
    if (close && (size_t)(close - authority) + 1 < len && close[1] == ':') host_end = (size_t)(close - authority) + 1;
  } else if (colon && !memchr(colon + 1, ':', len - (size_t)(colon - authority) - 1)) {
    host_end = (size_t)(colon - authority);
  }
  static const char suffix[] = "-shadow";
  size_t n = len + sizeof suffix - 1;
  if (n + 1 > cap) return -ENOSPC;
  memcpy(out, authority, host_end);
  memcpy(out + host_end, suffix, sizeof suffix - 1);
  memcpy(out + host_end + sizeof suffix - 1, authority + host_end, len - host_end);
  out[n] = '\0';
  return (int)n;
}

int mirror_draw(double percent, struct rng *rng, double *roll) {
  /* Istio writes mirrorPercentage as runtime_fraction {numerator: percent * 10000, denominator:
   * MILLION}; Envoy draws once per request against it. */
  uint32_t num = percent <= 0 ? 0 : percent >= 100 ? PER_MILLION : (uint32_t)(percent * 10000.0);
  uint32_t draw = rng_below(rng, PER_MILLION);
  if (roll) *roll = (double)draw / 10000.0;
  return draw < num;
}

/* ---- one shadow ------------------------------------------------------------------------------ */

static void on_timer_closed(uv_handle_t *h) {
  struct mirror_request *m = h->data;
  if (m->ms->live_handles) (*m->ms->live_handles)--;
  free(m);
}

static void mirror_finish(struct mirror_request *m, enum mirror_outcome outcome, int reusable) {
  if (m->done) return;
  m->done = 1;
  struct mirror_set *ms = m->ms;
  if (m->prev) m->prev->next = m->next;
  else ms->inflight = m->next;
  if (m->next) m->next->prev = m->prev;
  m->next = m->prev = NULL;
  switch (outcome) {
  case MIRROR_ANSWERED:
    ms->stats.responses++;
    if (m->status >= 500) m->up->stats.rq_error++;
    else m->up->stats.rq_success++;
    break;
  case MIRROR_TIMED_OUT:
    m->up->stats.rq_timeout++;
    ms->stats.failed++;
    m->up->stats.rq_error++;
    break;
  case MIRROR_FAILED:
    ms->stats.failed++;
    m->up->stats.rq_error++;
    break;
  }
  if (m->up->stats.rq_active) m->up->stats.rq_active--;
  struct upstream_conn *uc = m->uc;
  m->uc = NULL;
  if (uc) upstream_release(uc, reusable); /* clears uc->owner: late callbacks find no shadow */
  cluster_release(m->c, m->up);
  http_parser_free(m->resp);
  m->resp = NULL;
  uv_timer_stop(&m->timer);
  uv_close((uv_handle_t *)&m->timer, on_timer_closed);
}

static int on_resp_head(void *owner, struct http_head *h) {
  struct mirror_request *m = owner;
  m->interim = h->status < 200;
  if (!m->interim) {
    m->status = h->status;
    m->keep_alive = h->keep_alive;
  }
  return 0;
}

static int on_resp_body(void *owner, const char *p, size_t n) {
  (void)owner, (void)p, (void)n; /* the shadow's answer is dropped, as Envoy drops it */
  return 0;
}

static int on_resp_complete(void *owner) {
  struct mirror_request *m = owner;
  if (m->interim) m->interim = 0;
  else m->complete = 1;
  return 0;
}

static const struct http_parser_cbs RESP_CBS = {on_resp_head, on_resp_body, on_resp_complete};

static void on_read(struct conn *c, int status, const char *data, size_t len) {
  struct upstream_conn *uc = (struct upstream_conn *)c;
  struct mirror_request *m = uc->owner;
  if (!m || m->done) return;
  if (status < 0) {
    int rc = http_parser_finish(m->resp);
    mirror_finish(m, rc == HTTP_PARSE_DONE && m->complete ? MIRROR_ANSWERED : MIRROR_FAILED, 0);
    return;
  }
  size_t used = 0;
  int rc;
  for (;;) {
    rc = http_parser_execute(m->resp, data, len, &used);
    if (rc == HTTP_PARSE_DONE && !m->complete && used < len) {
      data += used; /* an interim (1xx) answer ended; the final one follows */
      len -= used;
      continue;
    }
    break;
  }
  if (rc == HTTP_PARSE_ERROR || rc == HTTP_PARSE_ABORTED) {
    mirror_finish(m, MIRROR_FAILED, 0);
    return;
  }
  if (rc == HTTP_PARSE_DONE && m->complete) mirror_finish(m, MIRROR_ANSWERED, m->keep_alive && used == len);
}

static void on_connect(struct conn *c, int status) {
  struct upstream_conn *uc = (struct upstream_conn *)c;
  struct mirror_request *m = uc->owner;
  if (!m || m->done) return;
  if (status < 0) {
    m->up->stats.cx_connect_fail++;
    mirror_finish(m, MIRROR_FAILED, 0);
    return;
  }
  uc->connected = 1;
  conn_read_start(c);
}

static void on_timeout(uv_timer_t *t) {
  struct mirror_request *m = t->data;
  mirror_finish(m, MIRROR_TIMED_OUT, 0);
}

int mirror_send(struct mirror_set *ms, struct cluster *c, struct rng *rng, struct slice head, struct slice body,
                uint64_t timeout_ms) {
  struct upstream *up = NULL;
  if (!c || cluster_pick(c, NULL, rng, &up, NULL) != LB_PICKED) {
    ms->stats.no_host++;
    return -EHOSTUNREACH;
  }
  struct mirror_request *m = calloc(1, sizeof *m);
  if (m) m->resp = http_parser_new(HTTP_PARSE_RESPONSE, &RESP_CBS, ms->limits, m);
  if (!m || !m->resp) {
    free(m);
    cluster_release(c, up);
    ms->stats.failed++;
    return -ENOMEM;
  }
  m->ms = ms;
  m->c = c;
  m->up = up;
  http_parser_expect_head_response(m->resp, head.n >= 5 && memcmp(head.p, "HEAD ", 5) == 0);
  uv_timer_init(ms->loop, &m->timer);
  m->timer.data = m;
  if (ms->live_handles) (*ms->live_handles)++;
  m->next = ms->inflight;
  if (ms->inflight) ms->inflight->prev = m;
  ms->inflight = m;
  ms->stats.sent++;
  up->stats.rq_total++;
  up->stats.rq_active++;
  uv_timer_start(&m->timer, on_timeout, timeout_ms ? timeout_ms : 10000, 0);

  int reused = 0;
  struct upstream_conn *uc;
  int rc = upstream_acquire(up, m, on_connect, &uc, &reused);
  if (rc != 0) {
    up->stats.cx_connect_fail++;
    mirror_finish(m, MIRROR_FAILED, 0);
    return 0; /* it started (and is counted); it failed on its own */
  }
  m->uc = uc;
  uc->requests++;
  uc->conn.on_read = on_read;
  uc->conn.on_drain = NULL;
  if (reused) {
    uc->connected = 1;
    conn_read_start(&uc->conn);
  }
  /* A connection still connecting keeps what is written until it is up (conn.h). */
  struct slice parts[2] = {head, body};
  rc = conn_writev(&uc->conn, parts, body.n ? 2 : 1);
  if (rc != 0) {
    mirror_finish(m, MIRROR_FAILED, 0);
    return 0; /* it started (and is counted); it failed on its own */
  }
  return 0;
}

void mirror_set_cancel(struct mirror_set *ms) {
  while (ms->inflight) mirror_finish(ms->inflight, MIRROR_FAILED, 0);
}

size_t mirror_set_inflight(const struct mirror_set *ms) {
  size_t n = 0;
  for (const struct mirror_request *m = ms->inflight; m; m = m->next) n++;
  return n;
}
