/* exchange_trace: the decision trace of one request's tries (trace.h), as exchange.c runs them.
 * Each try opens an attempt record (host, replica, start), closes it with its outcome (a
 * response and its status, a connect failure, a reset, a timeout, an overflow), and notes what
 * came next (a retry after its backoff, or why not: no match, attempts used up, the body gone,
 * no time left, maxRetries). When the request ends, proxy_record.c commits the record to the
 * proxy's store, which `meshlab why` reads. The tries themselves are exchange.c's.
 */
#include <string.h>

#include "mesh/proxy_internal.h"

/* ---- trace helpers ----------------------------------------------------------------------- */

static uint32_t since_start_ms(const struct exchange *ex) { return (uint32_t)((uv_hrtime() - ex->start_ns) / 1000000); }

/* The record of the current try, or NULL when the trace has no room left. */
struct trace_attempt *exchange_current_attempt(struct exchange *ex) {
  if (!ex->trace.attempts_len || ex->trace.attempts_len > TRACE_MAX_ATTEMPTS) return NULL;
  return &ex->trace.attempts[ex->trace.attempts_len - 1];
}

void exchange_attempt_open(struct session *s) {
  struct exchange *ex = &s->ex;
  ex->try_start_ns = uv_hrtime();
  if (ex->trace.attempts_len >= TRACE_MAX_ATTEMPTS) {
    ex->trace.attempts_len = TRACE_MAX_ATTEMPTS + 1; /* marks "more tries than recorded" */
    return;
  }
  struct trace_attempt *a = &ex->trace.attempts[ex->trace.attempts_len++];
  memset(a, 0, sizeof *a);
  trace_copy(a->host, sizeof a->host, ex->up->addr.text, strlen(ex->up->addr.text));
  const char *who = ex->up->replica[0] ? ex->up->replica : ex->up->peer.workload;
  trace_copy(a->replica, sizeof a->replica, who, strlen(who));
  a->start_ms = since_start_ms(ex);
  a->outcome = TRACE_OUTCOME_PENDING;
  a->other_host_preferred = ex->retries_done > 0 && ex->retry.previous_hosts && !exchange_was_tried(ex, ex->up);
}

void exchange_attempt_close(struct exchange *ex, enum trace_outcome outcome, int status) {
  struct trace_attempt *a = exchange_current_attempt(ex);
  if (!a || a->outcome != TRACE_OUTCOME_PENDING) return;
  a->outcome = outcome;
  a->status = status;
  a->duration_ms = (uint32_t)((uv_hrtime() - ex->try_start_ns) / 1000000);
}

void exchange_attempt_next(struct exchange *ex, enum trace_next next, uint32_t backoff_ms) {
  struct trace_attempt *a = exchange_current_attempt(ex);
  if (!a) return;
  a->next = next;
  a->backoff_ms = backoff_ms;
}

void exchange_trace_commit(struct session *s, double ms) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  struct trace_record *t = &ex->trace;
  if (!px->traces.cap) return;
  trace_copy(t->request_id, sizeof t->request_id, ex->rid.p, ex->rid.n);
  trace_copy(t->proxy, sizeof t->proxy, px->name, strlen(px->name));
  trace_copy(t->direction, sizeof t->direction, s->lname, strlen(s->lname));
  t->start_wall_ms = ex->start_wall_ms;
  t->duration_ms = (uint32_t)ms;
  if (ex->req) trace_copy(t->method, sizeof t->method, ex->req->method.p, ex->req->method.n);
  trace_copy(t->authority, sizeof t->authority, ex->authority.p, ex->authority.n);
  struct slice path = ex->path.n ? ex->path : ex->req ? ex->req->target : slice_from("");
  trace_copy(t->path, sizeof t->path, path.p, path.n);
  t->code = ex->code;
  t->flags = ex->flags;
  /* A try still running when the request ended (the caller left, DC) ran until now. */
  struct trace_attempt *a = exchange_current_attempt(ex);
  if (a && a->outcome == TRACE_OUTCOME_PENDING) a->duration_ms = (uint32_t)((uv_hrtime() - ex->try_start_ns) / 1000000);
  if (t->attempts_len > TRACE_MAX_ATTEMPTS) t->attempts_len = TRACE_MAX_ATTEMPTS;
  trace_store_commit(&px->traces, t);
}
