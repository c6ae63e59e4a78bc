/* trace_text: the human explanation of a decision trace, what `meshlab why` prints (see
 * trace.h): one block per hop, a line per decision (route, fault, policy, pick, pool, each
 * attempt and why it was or was not retried), the hops in the order they happened, and a
 * one-line summary. The store and the JSON the records travel in are trace.c's.
 */
#include "mesh/trace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mesh/flags.h"

/* Both sides of a hop start in the same millisecond often enough: the caller's
 * side first. */
static int direction_rank(const char *d) {
  if (strcmp(d, "gateway") == 0) return 0;
  if (strcmp(d, "outbound") == 0) return 1;
  if (strcmp(d, "inbound") == 0) return 2;
  return 3;
}

void trace_records_sort(struct trace_record *recs, size_t n) {
  /* Insertion sort: stable, and a request has a handful of hops. */
  for (size_t i = 1; i < n; i++) {
    struct trace_record tmp = recs[i];
    size_t j = i;
    while (j > 0 && (recs[j - 1].start_wall_ms > tmp.start_wall_ms ||
                     (recs[j - 1].start_wall_ms == tmp.start_wall_ms &&
                      direction_rank(recs[j - 1].direction) > direction_rank(tmp.direction)))) {
      recs[j] = recs[j - 1];
      j--;
    }
    recs[j] = tmp;
  }
}

/* "1 retry", "2 hops": the count and a noun with an "s" unless it is one. */
static const char *plural(uint64_t n) { return n == 1 ? "" : "s"; }

static void code_and_flags(struct buf *out, int code, uint32_t flags) {
  if (code) buf_appendf(out, "%d", code);
  else buf_append_str(out, "no response (connection cut)");
  if (flags) {
    char text[128];
    flags_format(flags, text, sizeof text);
    buf_appendf(out, " %s", text);
  }
}

int trace_records_summary(const char *request_id, const struct trace_record *recs, size_t n, struct buf *out) {
  if (n == 0) return -EINVAL;
  size_t proxies = 0, tries = 0;
  for (size_t i = 0; i < n; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = strcmp(recs[i].proxy, recs[j].proxy) == 0;
    proxies += !seen;
    if (recs[i].attempts_len > 1) tries += recs[i].attempts_len - 1;
  }
  const struct trace_record *first = &recs[0];
  buf_appendf(out, "request %s: %zu record%s from %zu prox%s", request_id, n, plural(n), proxies,
              proxies == 1 ? "y" : "ies");
  if (tries) buf_appendf(out, ", %zu retr%s", tries, tries == 1 ? "y" : "ies");
  buf_appendf(out, "; the caller of %s got ", first->proxy);
  code_and_flags(out, first->code, first->flags);
  buf_appendf(out, " after %u ms", first->duration_ms);
  /* A local 401 or 403 of the security filters: say who answered and why, in the summary. */
  for (size_t i = 0; i < n; i++) {
    const char *v = strncmp(recs[i].authn, "401:", 4) == 0   ? recs[i].authn
                    : strncmp(recs[i].authz, "403:", 4) == 0 ? recs[i].authz
                                                             : NULL;
    if (v) {
      buf_appendf(out, " (%s answered %s)", recs[i].proxy, v);
      break;
    }
  }
  return buf_append_str(out, "\n");
}

/* The width of the decision labels, so the explanations line up. */
#define LABEL "  %-8s"

static void line(struct buf *out, const char *label, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void line(struct buf *out, const char *label, const char *fmt, ...) {
  buf_appendf(out, LABEL, label);
  va_list ap;
  va_start(ap, fmt);
  buf_vappendf(out, fmt, ap);
  va_end(ap);
  buf_append_str(out, "\n");
}

static void text_request(const struct trace_record *r, struct buf *out) {
  char when[32] = "";
  time_t s = (time_t)(r->start_wall_ms / 1000);
  struct tm tm;
  if (r->start_wall_ms > 0 && gmtime_r(&s, &tm))
    snprintf(when, sizeof when, " at %02d:%02d:%02d.%03d UTC", tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(r->start_wall_ms % 1000));
  line(out, "request", "%s %s%s%s", r->method[0] ? r->method : "?", r->authority, r->path, when);
}

static void text_security(const struct trace_record *r, struct buf *out) {
  if (r->peer[0]) line(out, "peer", "%s", r->peer);
  if (r->authn[0]) line(out, "authn", "%s", r->authn);
  if (r->authz[0]) line(out, "authz", "%s", r->authz);
}

static void text_ratelimit(const struct trace_record *r, struct buf *out) {
  switch (r->ratelimit) {
  case TRACE_RATELIMIT_NONE:
    return;
  case TRACE_RATELIMIT_PASSED:
    line(out, "limit", "local rate limit: took a token from the bucket (%u left) → passed", r->tokens_left);
    return;
  case TRACE_RATELIMIT_LIMITED:
    line(out, "limit",
         "local rate limit: the token bucket is empty and the limit is "
         "enforced → 429 RL");
    return;
  case TRACE_RATELIMIT_NOT_ENFORCED:
    line(out, "limit",
         "local rate limit: the token bucket is empty, but filter_enforced "
         "does not cover this request → passed "
         "(counted as rate limited)");
    return;
  }
}

static void text_mirror(const struct trace_record *r, struct buf *out) {
  const char *c = r->mirror_cluster[0] ? r->mirror_cluster : "?";
  switch (r->mirror) {
  case TRACE_MIRROR_NONE:
    return;
  case TRACE_MIRROR_SENT:
    line(out, "mirror",
         "drew %.2f < mirrorPercentage %.2f → a copy went to %s with Host <host>-shadow; its answer is "
         "dropped and never reaches the caller",
         r->mirror_roll, r->mirror_pct, c);
    return;
  case TRACE_MIRROR_NOT_DRAWN:
    line(out, "mirror", "drew %.2f, not under mirrorPercentage %.2f → not mirrored", r->mirror_roll, r->mirror_pct);
    return;
  case TRACE_MIRROR_BODY_NOT_KEPT:
    line(out, "mirror", "not mirrored: the request body was too large to keep whole for a copy (to %s)", c);
    return;
  case TRACE_MIRROR_NO_HOST:
    line(out, "mirror", "not mirrored: no host to send the copy to in %s (or the proxy is draining)", c);
    return;
  }
}

static void text_route(const struct trace_record *r, struct buf *out) {
  if (!r->verdict[0]) return;
  char where[256];
  if (r->virtual_service[0]) {
    char match[48];
    if (r->match >= 0) snprintf(match, sizeof match, "match %d", r->match);
    else snprintf(match, sizeof match, "no match block: every request");
    snprintf(where, sizeof where, "VirtualService %s rule %d (%s)", r->virtual_service, r->rule, match);
  } else {
    snprintf(where, sizeof where, "no VirtualService: the default route for %s",
             r->authority[0] ? r->authority : "this host");
  }
  if (strcmp(r->verdict, "ROUTE") == 0) {
    buf_appendf(out, LABEL "%s → %s", "route", where, r->cluster[0] ? r->cluster : "?");
    if (r->destinations > 1)
      buf_appendf(out, " (weighted: drew %llu of %llu over %u destinations)", (unsigned long long)r->weight_draw,
                  (unsigned long long)r->weight_total, r->destinations);
    buf_append_str(out, "\n");
  } else if (strcmp(r->verdict, "NO_ROUTE") == 0) {
    line(out, "route", "no VirtualService rule or default route matches %s%s → 404 NR",
         r->authority[0] ? r->authority : "the authority", r->path);
  } else if (strcmp(r->verdict, "PASSTHROUGH") == 0) {
    line(out, "route",
         "%s is in no registry (no Service or ServiceEntry): outboundTrafficPolicy ALLOW_ANY → route "
         "allow_any → PassthroughCluster, straight to %s",
         r->authority[0] ? r->authority : "the host", r->authority[0] ? r->authority : "the original destination");
  } else if (strcmp(r->verdict, "BLACKHOLE") == 0) {
    line(out, "route",
         "%s is in no registry (no Service or ServiceEntry): outboundTrafficPolicy REGISTRY_ONLY → route "
         "block_all → BlackHoleCluster → 502",
         r->authority[0] ? r->authority : "the host");
  } else if (strcmp(r->verdict, "NO_CLUSTER") == 0) {
    line(out, "route",
         "%s → %s, but the proxy has no such cluster (a subset no "
         "DestinationRule defines?) → 503 NC",
         where, r->cluster[0] ? r->cluster : "?");
  } else {
    line(out, "route", "%s → %s", where, r->verdict);
  }
  if (r->route_why[0]) buf_appendf(out, "  %-8s  %s\n", "", r->route_why);
}

/* One fault part: "delay 7000 ms at 100.0 %: roll 12.01 < 100.0 → fired (DI)".
 * A part fires when the roll, uniform in [0, 100), falls below its percentage
 * (Envoy's fractional percent). */
static void text_fault_part(struct buf *out, const char *what, double pct, double roll, bool fired,
                            const char *consequence) {
  line(out, "fault", "%s at %.1f %%: roll %.2f %s %.1f → %s", what, pct, roll, fired ? "<" : "≥", pct,
       fired ? consequence : "not fired");
}

static void text_fault(const struct trace_record *r, struct buf *out) {
  if (r->fault == TRACE_FAULT_NONE) return;
  bool delay_fired = r->fault == TRACE_FAULT_DELAYED || r->fault == TRACE_FAULT_BOTH;
  bool abort_fired = r->fault == TRACE_FAULT_ABORTED || r->fault == TRACE_FAULT_BOTH;
  char what[64], then[96];
  if (r->delay_ms || r->delay_pct > 0) {
    snprintf(what, sizeof what, "delay %u ms", r->delay_ms);
    text_fault_part(out, what, r->delay_pct, r->delay_roll, delay_fired, "fired: waited before going on (DI)");
  }
  if (r->abort_status || r->abort_pct > 0) {
    snprintf(what, sizeof what, "abort %d", r->abort_status);
    snprintf(then, sizeof then, "fired: answered %d without calling the upstream (FI)", r->abort_status);
    text_fault_part(out, what, r->abort_pct, r->abort_roll, abort_fired, then);
  }
}

static void text_policy(const struct trace_record *r, struct buf *out) {
  if (strcmp(r->verdict, "ROUTE") != 0) return;
  buf_appendf(out, LABEL, "policy");
  if (r->timeout_ms) buf_appendf(out, "route timeout %u ms", r->timeout_ms);
  else buf_append_str(out, "no route timeout");
  if (r->retry_attempts && r->retry_on[0]) {
    buf_appendf(out, "; %u retr%s on %s", r->retry_attempts, r->retry_attempts == 1 ? "y" : "ies", r->retry_on);
    if (r->per_try_timeout_ms) buf_appendf(out, ", %u ms per try", r->per_try_timeout_ms);
  } else {
    buf_append_str(out, "; retries off");
  }
  buf_append_str(out, "\n");
}

static void text_lb(const struct trace_record *r, struct buf *out) {
  if (!r->lb_policy[0]) return;
  buf_appendf(out, LABEL "%s over %u host%s (%u available)", "lb", r->lb_policy, r->hosts, plural(r->hosts),
              r->hosts_available);
  if (r->picked < 0) {
    buf_appendf(out, ": %s → 503 UH\n",
                r->hosts ? "every host is ejected or unhealthy" : "the cluster has no endpoints");
    return;
  }
  if (r->candidates[0] >= 0 && r->candidates[1] >= 0)
    buf_appendf(out, ": drew %d and %d, kept the one with fewer active requests → %d", r->candidates[0],
                r->candidates[1], r->picked);
  else if (r->candidates[0] >= 0) buf_appendf(out, ": drew %d → %d", r->candidates[0], r->picked);
  else buf_appendf(out, " → %d", r->picked);
  if (r->attempts_len > 0 && r->attempts[0].host[0]) {
    buf_appendf(out, " (%s", r->attempts[0].host);
    if (r->attempts[0].replica[0]) buf_appendf(out, ", %s", r->attempts[0].replica);
    buf_append_str(out, ")");
  }
  buf_append_str(out, "\n");
}

static void text_pool(const struct trace_record *r, struct buf *out) {
  char counts[160];
  snprintf(counts, sizeof counts, "%u/%u connections, %u/%u pending, %u/%u requests", r->cx_active, r->cx_max,
           r->pending, r->pending_max, r->rq_active, r->rq_max);
  switch (r->breaker) {
  case TRACE_BREAKER_NONE:
    return;
  case TRACE_BREAKER_OK:
    line(out, "pool", "admitted: %s", counts);
    return;
  case TRACE_BREAKER_QUEUED:
    line(out, "pool",
         "queued: every connection busy (maxConnections), waited in the "
         "pending queue: %s",
         counts);
    return;
  case TRACE_BREAKER_PENDING_FULL:
    line(out, "pool",
         "overflow: pending queue full (%u/%u, http1MaxPendingRequests) → 503 "
         "UO",
         r->pending, r->pending_max);
    return;
  case TRACE_BREAKER_REQUESTS_FULL:
    line(out, "pool",
         "overflow: too many requests in flight (%u/%u, http2MaxRequests) → "
         "503 UO",
         r->rq_active, r->rq_max);
    return;
  }
}

static bool retry_on_has(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
    if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return true;
  return false;
}

/* Which retry_on condition covered this try's outcome, as Envoy's router checks
 * them. */
static void retry_reason(const struct trace_record *r, const struct trace_attempt *a, char *out, size_t n) {
  const char *on = r->retry_on;
  int st = a->status;
  switch (a->outcome) {
  case TRACE_OUTCOME_RESPONSE:
    if (st >= 500 && retry_on_has(on, "5xx")) snprintf(out, n, "%d is a 5xx and retry_on has 5xx", st);
    else if ((st == 502 || st == 503 || st == 504) && retry_on_has(on, "gateway-error"))
      snprintf(out, n, "%d is a gateway error and retry_on has gateway-error", st);
    else if (st == 409 && retry_on_has(on, "retriable-4xx")) snprintf(out, n, "409 is in retriable-4xx");
    else if (retry_on_has(on, "retriable-status-codes")) snprintf(out, n, "%d is in retriable-status-codes", st);
    else snprintf(out, n, "retry_on %s covers %d", on, st);
    return;
  case TRACE_OUTCOME_CONNECT_FAILURE:
    snprintf(out, n, "retry_on %s covers a connect failure",
             retry_on_has(on, "connect-failure") ? "connect-failure"
             : retry_on_has(on, "reset")         ? "reset"
                                                 : "5xx");
    return;
  case TRACE_OUTCOME_RESET:
    snprintf(out, n, "retry_on %s covers a reset", retry_on_has(on, "reset") ? "reset" : "5xx");
    return;
  case TRACE_OUTCOME_PER_TRY_TIMEOUT:
  case TRACE_OUTCOME_TIMEOUT:
    snprintf(out, n, "retry_on %s covers a per-try timeout",
             retry_on_has(on, "5xx")             ? "5xx"
             : retry_on_has(on, "gateway-error") ? "gateway-error"
                                                 : "reset");
    return;
  case TRACE_OUTCOME_OVERFLOW:
  case TRACE_OUTCOME_PENDING:
    snprintf(out, n, "retry_on %s", on);
    return;
  }
}

static const char *outcome_word(const struct trace_attempt *a, char *tmp, size_t n) {
  switch (a->outcome) {
  case TRACE_OUTCOME_RESPONSE:
    snprintf(tmp, n, "%d", a->status);
    return tmp;
  case TRACE_OUTCOME_CONNECT_FAILURE:
    return "connect failed (UF)";
  case TRACE_OUTCOME_RESET:
    return "connection closed before a whole response (UC)";
  case TRACE_OUTCOME_PER_TRY_TIMEOUT:
    return "no response within the per-try timeout (UT)";
  case TRACE_OUTCOME_TIMEOUT:
    return "the route timeout fired (UT)";
  case TRACE_OUTCOME_OVERFLOW:
    return "refused by the connection pool (UO)";
  case TRACE_OUTCOME_PENDING:
    return "still running when the caller left (DC)";
  }
  return "?";
}

static void text_attempt(const struct trace_record *r, uint32_t i, struct buf *out) {
  const struct trace_attempt *a = &r->attempts[i];
  char label[16], tmp[16], why[160];
  snprintf(label, sizeof label, "try %u", i + 1);
  buf_appendf(out, LABEL "%s", label, a->host[0] ? a->host : "(no host)");
  /* What is known about the host: its replica, a reused connection, a retry's
   * pick that avoided the hosts already tried (Istio's previous_hosts
   * predicate). */
  const char *notes[4];
  size_t nn = 0;
  if (a->replica[0]) notes[nn++] = a->replica;
  if (a->mtls) notes[nn++] = "mTLS";
  if (a->reused) notes[nn++] = "pooled connection";
  if (a->other_host_preferred) notes[nn++] = "not tried before";
  for (size_t k = 0; k < nn; k++) buf_appendf(out, "%s%s", k ? ", " : " (", notes[k]);
  if (nn) buf_append_str(out, ")");
  buf_appendf(out, " %s after %u ms", outcome_word(a, tmp, sizeof tmp), a->duration_ms);
  switch (a->next) {
  case TRACE_NEXT_NONE:
    if (a->outcome == TRACE_OUTCOME_RESPONSE) buf_append_str(out, " → passed to the caller");
    break;
  case TRACE_NEXT_RETRY:
    retry_reason(r, a, why, sizeof why);
    buf_appendf(out, " → retry in %u ms (%s)", a->backoff_ms, why);
    break;
  case TRACE_NEXT_NO_MATCH:
    if (!r->retry_on[0] || !r->retry_attempts) buf_append_str(out, " → not retried: retries are off for this route");
    else buf_appendf(out, " → not retried: retry_on %s does not cover it", r->retry_on);
    break;
  case TRACE_NEXT_EXHAUSTED:
    buf_appendf(out, " → retries exhausted (%u of %u) → URX", i, r->retry_attempts);
    break;
  case TRACE_NEXT_OVERFLOW:
    buf_append_str(out,
                   " → not retried: the cluster's retry budget "
                   "(connectionPool.http.maxRetries) is used up → UO");
    break;
  case TRACE_NEXT_BODY_GONE:
    buf_append_str(out,
                   " → not retried: the request body was not kept whole, "
                   "so it cannot be sent again");
    break;
  case TRACE_NEXT_NO_TIME:
    buf_appendf(out,
                " → not retried: the route timeout (%u ms) leaves no time for "
                "another try",
                r->timeout_ms);
    break;
  }
  buf_append_str(out, "\n");
}

int trace_record_text(const struct trace_record *r, struct buf *out) {
  size_t before = out->len;
  buf_appendf(out, "%s → %s  ", r->proxy[0] ? r->proxy : "?", r->direction[0] ? r->direction : "?");
  code_and_flags(out, r->code, r->flags);
  buf_appendf(out, "  %u ms  (config v%llu)\n", r->duration_ms, (unsigned long long)r->config_version);
  text_request(r, out);
  text_security(r, out);
  text_ratelimit(r, out);
  text_route(r, out);
  text_policy(r, out);
  text_fault(r, out);
  text_lb(r, out);
  text_pool(r, out);
  uint32_t n = r->attempts_len < TRACE_MAX_ATTEMPTS ? r->attempts_len : TRACE_MAX_ATTEMPTS;
  for (uint32_t i = 0; i < n; i++) text_attempt(r, i, out);
  text_mirror(r, out);
  /* Appends are not checked one by one: out of memory leaves nothing appended
   * at all (the header is the first and smallest append), which is what this
   * sees. */
  return out->len > before ? 0 : -ENOMEM;
}
