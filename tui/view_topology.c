/* The topology view: services (and the ingress, the callers outside any service, external
 * hosts) as nodes, calls as edges, each with its rate, success ratio and p99 over the last
 * 10 s: a node as the service's own sidecars answered (every try), an edge as the caller got
 * it (after its retries), so a failing service behind retries shows red beside a green call.
 * Health reads by colour and by glyph: + ok, ~ degraded, x failing, . idle. An edge carried
 * over mTLS draws as ==>, a plaintext one as -->. */
#include <stdio.h>
#include <string.h>

#include "tui/view.h"

#define INGRESS "istio-ingressgateway"

static const char *node_name(const char *workload) { return strcmp(workload, INGRESS) == 0 ? "ingress" : workload; }

/* Whether workload w (a caller) is a destination service's node already. */
static bool is_service(const struct dash_model *m, const char *w) {
  for (size_t i = 0; i < m->nservices; i++) {
    size_t n = strlen(m->services[i].name);
    if (strncmp(w, m->services[i].name, n) == 0 && (w[n] == '\0' || w[n] == '-')) return true;
  }
  return false;
}

static void columns(struct frame *f, struct dash_rect r, int y, int namew, uint8_t attr, const char *rps,
                    const char *succ, const char *p99, const char *flags) {
  int x = r.x + namew;
  frame_printf(f, x, y, attr, 8, "%7s", rps);
  frame_printf(f, x + 8, y, attr, 9, "%8s", succ);
  frame_printf(f, x + 17, y, attr, 9, "%8s", p99);
  frame_put(f, x + 27, y, attr & FRAME_COLOR_MASK ? attr : 0, flags, r.x + r.w - (x + 27));
}

static void draw(const struct dash_model *m, struct frame *f, struct dash_rect r) {
  bool wide = r.w >= 110;
  int namew = wide ? 62 : 37, vx = wide ? 34 : 24, y = r.y;
  int limit = r.y + r.h;
  frame_put(f, r.x, y, FRAME_BOLD, "NODES", 0);
  frame_put(f, r.x + vx, y, FRAME_BOLD, "VERSIONS", 0);
  columns(f, r, y++, namew, FRAME_BOLD, "RPS", "SERVED", "P99", "FLAGS");
  /* callers that are no service's node: the ingress, load generators, clients */
  char seen[DASH_MAX_EDGES][96];
  size_t nseen = 0;
  for (size_t e = 0; e < m->nedges && y < limit; e++) {
    const struct dash_edge *d = &m->edges[e];
    bool dup = false;
    for (size_t i = 0; i < nseen; i++) dup = dup || strcmp(seen[i], d->source) == 0;
    if (dup || is_service(m, d->source)) continue;
    snprintf(seen[nseen++], sizeof seen[0], "%s", d->source);
    double rps = 0;
    for (size_t k = 0; k < m->nedges; k++)
      if (strcmp(m->edges[k].source, d->source) == 0) rps += m->edges[k].rps;
    char rate[16];
    dash_fmt_rps(rps, rate, sizeof rate);
    frame_printf(f, r.x, y, 0, vx - 1, "%c %s", rps > 0 ? '+' : '.', node_name(d->source));
    frame_put(f, r.x + vx, y, FRAME_DIM, strcmp(d->source, INGRESS) == 0 ? "(gateway)" : "(client)", 0);
    columns(f, r, y++, namew, 0, rate, "", "", "");
  }
  for (size_t i = 0; i < m->nservices && y < limit; i++) {
    const struct dash_service *s = &m->services[i];
    /* A node is the service as its own sidecars answered it (every try, as Kiali draws it);
     * a service without inbound reports (external, no sidecar) as its callers got it. */
    const struct dash_served *in = s->external ? NULL : dash_model_served(m, s->fqdn);
    double rps = in ? in->rps : s->rps, success = in ? in->success : s->success, p99ms = in ? in->p99 : s->p99;
    enum dash_health h = dash_health_of(success, rps);
    char vers[64] = "", rate[16], succ[16], p99[16];
    size_t used = 0;
    for (size_t v = 0; v < s->nversions && used < sizeof vers; v++)
      used += (size_t)snprintf(vers + used, sizeof vers - used, "%s%s", v ? " " : "", s->versions[v].name);
    if (s->external) snprintf(vers, sizeof vers, "(external)");
    dash_fmt_rps(rps, rate, sizeof rate);
    dash_fmt_ratio(success, succ, sizeof succ);
    dash_fmt_ms(p99ms, p99, sizeof p99);
    frame_printf(f, r.x, y, dash_health_attr(h), vx - 1, "%c %s", dash_health_glyph(h), s->name);
    frame_put(f, r.x + vx, y, 0, vers, namew - vx - 1);
    columns(f, r, y++, namew, h == DASH_HEALTH_BAD || h == DASH_HEALTH_WARN ? dash_health_attr(h) : 0, rate, succ, p99,
            s->flags);
  }
  if (!m->nservices && !m->nedges && y < limit)
    frame_put(f, r.x, y++, FRAME_DIM,
              m->replay ? "the journal keeps no per-service rates: see 3 Breakers and the events"
                        : "no traffic in the last 10 s (try: meshlab load URL --from WORKLOAD)",
              r.w);
  y++;
  if (y < limit) {
    frame_put(f, r.x, y, FRAME_BOLD, "CALLS", 0);
    columns(f, r, y++, namew, FRAME_BOLD, "RPS", "SUCCESS", "P99", "UO UH URX");
  }
  for (size_t e = 0; e < m->nedges && y < limit; e++) {
    const struct dash_edge *d = &m->edges[e];
    enum dash_health h = dash_health_of(d->success, d->rps);
    char rate[16], succ[16], p99[16], flags[48] = "";
    dash_fmt_rps(d->rps, rate, sizeof rate);
    dash_fmt_ratio(d->success, succ, sizeof succ);
    dash_fmt_ms(d->p99, p99, sizeof p99);
    if (d->uo || d->uh || d->urx)
      snprintf(flags, sizeof flags, "%llu %llu %llu", (unsigned long long)d->uo, (unsigned long long)d->uh,
               (unsigned long long)d->urx);
    frame_printf(f, r.x, y, dash_health_attr(h), namew, wide ? "%c %-26s %s %s" : "%c %-16s %s %s",
                 dash_health_glyph(h), node_name(d->source), d->mtls ? "==>" : "-->", d->dest);
    columns(f, r, y++, namew, h == DASH_HEALTH_BAD || h == DASH_HEALTH_WARN ? dash_health_attr(h) : 0, rate, succ, p99,
            flags);
  }
  if (y < limit)
    frame_put(f, r.x, limit - 1, FRAME_DIM,
              "+ ok  ~ degraded (<99.5%)  x failing (<95%)  . idle    --> plaintext  ==> mTLS", r.w);
}

const struct dash_view view_topology = {"Topology", "", draw};
