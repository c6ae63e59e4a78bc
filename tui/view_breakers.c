/* The breakers view: per caller (each sidecar has its own breakers, as in Envoy) and per
 * destination cluster, the connection pool against its limits and the response flags it
 * caused (UO: the pool refused, UH: no healthy host left, URX: retries ran out); under it each
 * host with its outlier state: serving, or ejected with the countdown, and the consecutive 5xx
 * against the threshold. This is the panel that answers "why did my circuit breaker not trip?":
 * the counter that did not reach the limit is on screen. */
#include <stdio.h>
#include <string.h>

#include "tui/view.h"

/* A host row: "+ replica" in HOST_NAME_W columns, a space, the address from HOST_ADDR_X (so
 * "productpage-v1-0" never runs into it), the state from 40. */
#define HOST_NAME_W 18
#define HOST_ADDR_X 21

/* The subset of an Envoy cluster name "outbound|9080|v1|reviews...": true and out = "v1" when
 * it has one (a DestinationRule's subsets make one cluster each). */
static bool subset_of(const char *cluster, char *out, size_t n) {
  const char *a = strchr(cluster, '|'), *b = a ? strchr(a + 1, '|') : NULL, *c = b ? strchr(b + 1, '|') : NULL;
  if (!c || c == b + 1) return false;
  snprintf(out, n, "%.*s", (int)(c - b - 1), b + 1);
  return true;
}

/* Clusters worth a row: traffic went through them, or a DestinationRule set a limit or
 * outlier detection, or they refused requests. */
static bool interesting(const struct dash_model *m, const struct dash_cluster *c) {
  if (c->outlier || c->pending_overflow || c->cx_overflow || c->retry_overflow || c->rq_active) return true;
  if ((c->max_connections && c->max_connections < 4294967295u) || (c->max_pending && c->max_pending < 4294967295u))
    return true;
  for (size_t h = 0; h < c->nhosts; h++)
    if (m->hosts[c->first_host + h].rq_total || m->hosts[c->first_host + h].ejected) return true;
  return false;
}

/* Clusters that carry traffic or hold state now come first: they are what the room watches. */
static bool busy(const struct dash_model *m, const struct dash_cluster *c) {
  if (c->pending_overflow || c->cx_overflow || c->retry_overflow || c->rq_active || c->cx_active) return true;
  for (size_t h = 0; h < c->nhosts; h++)
    if (m->hosts[c->first_host + h].rq_total || m->hosts[c->first_host + h].ejected) return true;
  return false;
}

static bool matches(const struct dash_model *m, const struct dash_cluster *c) {
  if (!m->filter[0]) return true;
  return strstr(c->caller, m->filter) || strstr(c->service, m->filter);
}

/* The caller's workload: from the status, else the replica name less its "-N". */
static void workload_of(const struct dash_model *m, const char *replica, char *out, size_t n) {
  for (size_t i = 0; i < m->nreplicas; i++)
    if (strcmp(m->replicas[i].name, replica) == 0) {
      snprintf(out, n, "%s", m->replicas[i].workload);
      return;
    }
  snprintf(out, n, "%s", replica);
  char *dash = strrchr(out, '-');
  if (dash) *dash = '\0';
}

static void draw(const struct dash_model *m, struct frame *f, struct dash_rect r) {
  int y = r.y, limit = r.y + r.h;
  frame_put(f, r.x, y++, FRAME_BOLD, "BREAKERS AND OUTLIERS  per caller: every sidecar keeps its own", r.w);
  size_t shown = 0;
  for (size_t pass = 0, i = 0; pass < 2 && y < limit; i = (i + 1 < m->nclusters) ? i + 1 : (pass++, 0)) {
    if (!m->nclusters) break;
    const struct dash_cluster *c = &m->clusters[i];
    if (!interesting(m, c) || !matches(m, c) || busy(m, c) != (pass == 0)) continue;
    if ((int)shown++ < m->scroll) continue;
    char wl[96], cx[16], pend[16], rq[16];
    workload_of(m, c->caller, wl, sizeof wl);
    uint64_t uh = 0, urx = 0;
    for (size_t e = 0; e < m->nedges; e++)
      if (strcmp(m->edges[e].source, wl) == 0 && strcmp(m->edges[e].dest, c->service) == 0) {
        uh += m->edges[e].uh;
        urx += m->edges[e].urx;
      }
    dash_fmt_limit(c->max_connections, cx, sizeof cx);
    dash_fmt_limit(c->max_pending, pend, sizeof pend);
    dash_fmt_limit(c->max_requests, rq, sizeof rq);
    uint64_t uo = c->pending_overflow + c->cx_overflow + c->retry_overflow;
    y++;
    if (y >= limit) break;
    char subset[48];
    if (subset_of(c->name, subset, sizeof subset))
      frame_printf(f, r.x, y++, FRAME_BOLD, 0, "%s -> %s (subset %s)", c->caller, c->service, subset);
    else frame_printf(f, r.x, y++, FRAME_BOLD, 0, "%s -> %s", c->caller, c->service);
    if (y >= limit) break;
    if (c->partial) {
      frame_printf(f, r.x + 2, y++, 0, 0,
                   "UO %llu   (the journal keeps ejections and overflows, not the pool's gauges)",
                   (unsigned long long)uo);
      for (size_t k = 0; k < c->nhosts && y < limit; k++) {
        const struct dash_host *h = &m->hosts[c->first_host + k];
        int64_t left = h->ejected && h->ejection_until_ms > m->now_ms ? h->ejection_until_ms - m->now_ms : 0;
        enum dash_health hl = h->ejected ? DASH_HEALTH_BAD : DASH_HEALTH_OK;
        frame_printf(f, r.x + 2, y, dash_health_attr(hl), HOST_NAME_W, "%c %s", dash_health_glyph(hl), h->replica);
        frame_put(f, r.x + HOST_ADDR_X, y, dash_health_attr(hl), h->address, 40 - HOST_ADDR_X);
        if (h->ejected)
          frame_printf(f, r.x + 40, y, dash_health_attr(hl), 19, "EJECTED %.1fs left", (double)left / 1000);
        else frame_put(f, r.x + 40, y, 0, "serving", 19);
        if (h->times_ejected)
          frame_printf(f, r.x + 68, y, FRAME_BOLD, 10, "ejected %llux", (unsigned long long)h->times_ejected);
        y++;
      }
      continue;
    }
    bool full_cx = c->max_connections && c->cx_active >= c->max_connections;
    bool full_pend = c->max_pending && c->rq_pending_active >= c->max_pending;
    int x = r.x + 2;
    x += frame_printf(f, x, y, full_cx ? (FRAME_YELLOW | FRAME_BOLD) : 0, 0, "conns %llu/%s  ",
                      (unsigned long long)c->cx_active, cx);
    x += frame_printf(f, x, y, full_pend ? (FRAME_YELLOW | FRAME_BOLD) : 0, 0, "pending %llu/%s  ",
                      (unsigned long long)c->rq_pending_active, pend);
    x += frame_printf(f, x, y, 0, 0, "requests %llu/%s  ", (unsigned long long)c->rq_active, rq);
    x += frame_printf(f, x, y, uo ? (FRAME_RED | FRAME_BOLD) : 0, 0, "UO %llu  ", (unsigned long long)uo);
    x += frame_printf(f, x, y, uh ? (FRAME_RED | FRAME_BOLD) : 0, 0, "UH %llu  ", (unsigned long long)uh);
    frame_printf(f, x, y, urx ? (FRAME_RED | FRAME_BOLD) : 0, 0, "URX %llu", (unsigned long long)urx);
    y++;
    if (y >= limit) break;
    if (c->outlier)
      frame_printf(f, r.x + 2, y++, FRAME_DIM, 0,
                   "outlier detection: eject after %u consecutive 5xx, at most %u%% of hosts", c->threshold,
                   c->max_ejection_percent);
    else
      frame_put(f, r.x + 2, y++, FRAME_DIM, "outlier detection off: no outlierDetection in a DestinationRule", r.w - 2);
    for (size_t k = 0; k < c->nhosts && y < limit; k++) {
      const struct dash_host *h = &m->hosts[c->first_host + k];
      int64_t left = h->ejected && h->ejection_until_ms > m->now_ms ? h->ejection_until_ms - m->now_ms : 0;
      bool down = strcmp(h->health, "/failed_eds_health") == 0;
      char state[48], errs[24];
      if (h->ejected && left > 0) snprintf(state, sizeof state, "EJECTED %.1fs left", (double)left / 1000);
      else if (h->ejected) snprintf(state, sizeof state, "EJECTED returning");
      else if (down) snprintf(state, sizeof state, "not ready");
      else snprintf(state, sizeof state, "serving");
      if (c->outlier) snprintf(errs, sizeof errs, "5xx %u/%u", h->consecutive_5xx, c->threshold);
      else snprintf(errs, sizeof errs, "5xx %u/-", h->consecutive_5xx);
      enum dash_health hl = h->ejected || down                 ? DASH_HEALTH_BAD
                            : c->outlier && h->consecutive_5xx ? DASH_HEALTH_WARN
                                                               : DASH_HEALTH_OK;
      uint8_t attr = dash_health_attr(hl);
      frame_printf(f, r.x + 2, y, attr, HOST_NAME_W, "%c %s", dash_health_glyph(hl), h->replica[0] ? h->replica : "?");
      frame_put(f, r.x + HOST_ADDR_X, y, attr, h->address, 40 - HOST_ADDR_X);
      frame_put(f, r.x + 40, y, attr, state, 19);
      frame_put(f, r.x + 59, y, hl == DASH_HEALTH_OK ? 0 : attr, errs, 9);
      if (h->times_ejected)
        frame_printf(f, r.x + 68, y, FRAME_BOLD, 10, "ejected %llux", (unsigned long long)h->times_ejected);
      if (r.w >= 110)
        frame_printf(f, r.x + 80, y, 0, 0, "active %llu  requests %llu  errors %llu", (unsigned long long)h->rq_active,
                     (unsigned long long)h->rq_total, (unsigned long long)h->rq_error);
      y++;
    }
  }
  if (!shown)
    frame_put(
        f, r.x, y + 1, FRAME_DIM,
        m->filter[0] ? "no caller or service matches the filter" : "no cluster has carried traffic or has limits yet",
        r.w);
}

const struct dash_view view_breakers = {"Breakers", "pgdn more", draw};
