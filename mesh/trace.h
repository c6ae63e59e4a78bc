/* trace: the per-request decision trace, the answer to "why did this request get that?".
 *
 * Where it sits: the proxy fills one `struct trace_record` per request as it decides (route
 * matched, weighted draw, load balancer candidates and pick, breaker checks, the fault draw,
 * the rate limit, each attempt with its host, status, flag and timing, the final flag) and
 * commits it to its `struct trace_store` when the request ends. The store keeps the most
 * recent requests, and separately the recent requests that ended badly (a response flag or a
 * 5xx), so the one a learner asks about is still there after a burst of successes. The admin
 * endpoint /debug/why?id=REQUEST_ID serves the records of one request id as JSON; the lab asks
 * every proxy and `meshlab why REQUEST_ID` prints the hops of the request in order.
 *
 * A record is plain fixed-size data (strings copied and cut to fit), so committing one is a
 * memcpy and the store never points into a config that may be freed. Formatting happens only
 * when somebody asks. Pure: no I/O, no clock (times are given).
 */
#ifndef MESH_TRACE_H
#define MESH_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/buf.h"

#define TRACE_MAX_ATTEMPTS 6

/* Why an attempt ended. */
enum trace_outcome {
  TRACE_OUTCOME_RESPONSE,        /* the upstream answered (status holds the code) */
  TRACE_OUTCOME_CONNECT_FAILURE, /* connect refused or timed out (UF) */
  TRACE_OUTCOME_RESET,           /* the connection closed before a whole response (UC) */
  TRACE_OUTCOME_PER_TRY_TIMEOUT, /* retries.perTryTimeout fired (UT) */
  TRACE_OUTCOME_TIMEOUT,         /* the route timeout fired during this attempt (UT) */
  TRACE_OUTCOME_OVERFLOW,        /* the connection pool refused it (UO) */
  TRACE_OUTCOME_PENDING,         /* still running when the record was committed (downstream left) */
};

/* What happened after an attempt. */
enum trace_next {
  TRACE_NEXT_NONE,      /* the attempt's result was the answer */
  TRACE_NEXT_RETRY,     /* retried: the policy matched and budget remained */
  TRACE_NEXT_NO_MATCH,  /* not retried: retryOn does not cover this outcome */
  TRACE_NEXT_EXHAUSTED, /* not retried: attempts used up (URX) */
  TRACE_NEXT_OVERFLOW,  /* not retried: connectionPool.http.maxRetries reached (UO) */
  TRACE_NEXT_BODY_GONE, /* not retried: the request body was not kept whole */
  TRACE_NEXT_NO_TIME,   /* not retried: the route timeout left no time */
};

struct trace_attempt {
  char host[64];     /* "127.1.0.5:9080" */
  char replica[48];  /* "reviews-v2-0", "" outside the mesh */
  uint32_t start_ms; /* since the request started */
  uint32_t duration_ms;
  int status; /* upstream status, 0 when none */
  enum trace_outcome outcome;
  enum trace_next next;
  uint32_t backoff_ms;       /* with TRACE_NEXT_RETRY: the jittered wait before the next try */
  bool reused;               /* went over a pooled connection */
  bool other_host_preferred; /* a retry's pick avoided the hosts already tried */
  bool mtls;                 /* the connection is mutual TLS (auto mTLS or a DestinationRule's) */
};

enum trace_breaker {
  TRACE_BREAKER_NONE,          /* not checked (no upstream) */
  TRACE_BREAKER_OK,            /* admitted: an idle connection or a new one */
  TRACE_BREAKER_QUEUED,        /* waited in the pending queue for a connection */
  TRACE_BREAKER_PENDING_FULL,  /* http1MaxPendingRequests reached: UO */
  TRACE_BREAKER_REQUESTS_FULL, /* http2MaxRequests reached: UO */
};

enum trace_fault {
  TRACE_FAULT_NONE,    /* the route has no fault */
  TRACE_FAULT_SKIPPED, /* drawn, did not fire */
  TRACE_FAULT_DELAYED, /* delay fired (DI) */
  TRACE_FAULT_ABORTED, /* abort fired (FI) */
  TRACE_FAULT_BOTH,    /* delay then abort */
};

enum trace_ratelimit {
  TRACE_RATELIMIT_NONE,         /* no local rate limit on this listener */
  TRACE_RATELIMIT_PASSED,       /* a token was taken (or the filter is not enabled for it) */
  TRACE_RATELIMIT_LIMITED,      /* no token, enforced: 429 RL */
  TRACE_RATELIMIT_NOT_ENFORCED, /* no token, but filter_enforced skipped it: passed, counted */
};

enum trace_mirror {
  TRACE_MIRROR_NONE,          /* the route has no mirror */
  TRACE_MIRROR_SENT,          /* a shadow went to the mirror cluster (fire and forget) */
  TRACE_MIRROR_NOT_DRAWN,     /* mirrorPercentage's draw said no */
  TRACE_MIRROR_BODY_NOT_KEPT, /* the body was too large to keep whole: not mirrored */
  TRACE_MIRROR_NO_HOST,       /* no such cluster, no healthy host, or the proxy is draining */
};

struct trace_record {
  char request_id[40];
  char proxy[64];     /* the replica whose sidecar (or gateway) decided */
  char direction[10]; /* "outbound", "inbound", "gateway" */
  int64_t start_wall_ms;
  uint32_t duration_ms;
  char method[12];
  char authority[96];
  char path[128];
  int code;                /* the status the caller got; 0: none (connection cut) */
  uint32_t flags;          /* FLAG_* (flags.h), the final response flags */
  uint64_t config_version; /* the pushed config the request was routed with */
  /* Routing (router.h's route_decision). */
  char verdict[16];         /* "ROUTE", "NO_ROUTE" ... empty: not routed */
  char virtual_service[96]; /* "default/reviews", "" for a default route */
  int rule;                 /* http[] index, -1 for a default route */
  int match;                /* match[] block, -1 when the rule has none */
  char route_name[48];
  char cluster[128];     /* "outbound|9080|v2|reviews.default.svc.cluster.local" */
  uint32_t destinations; /* weighted destinations of the rule */
  uint64_t weight_draw, weight_total;
  char route_why[160]; /* router's one line (route_decision.why) */
  /* Load balancing (the first pick; retries' picks are in attempts). */
  char lb_policy[16];              /* "LEAST_REQUEST" ... */
  uint32_t hosts, hosts_available; /* endpoints of the cluster, and those not ejected/unhealthy */
  int candidates[2];               /* LEAST_REQUEST's two draws, -1 when unused */
  int picked;                      /* index of the first pick, -1 when none (UH) */
  /* Connection pool and breaker, as seen at admission. */
  enum trace_breaker breaker;
  uint32_t cx_active, cx_max, pending, pending_max, rq_active, rq_max;
  /* Fault injection. */
  enum trace_fault fault;
  double delay_pct, delay_roll, abort_pct, abort_roll; /* percent 0..100; roll in [0, 100) */
  uint32_t delay_ms;
  int abort_status;
  /* Local rate limit. */
  enum trace_ratelimit ratelimit;
  uint32_t tokens_left;
  /* Timeouts and retries as configured for the route. */
  uint32_t timeout_ms;         /* 0: none */
  uint32_t per_try_timeout_ms; /* 0: none */
  uint32_t retry_attempts;     /* retries allowed after the first try */
  char retry_on[96];           /* Envoy's retry_on as configured, "" when retries are off */
  /* Security verdicts on inbound listeners (filters.c); empty where no policy applies. */
  char peer[96];   /* the caller's identity: mTLS principal, else its address */
  char authn[192]; /* "401: Jwt is expired (exp ... )" / "ok: principal ... (jwt-example rule 0)" */
  char authz[192]; /* "403: DENY by default/deny-get rule 0" / "ALLOW by default/policy rule 0" */
  /* Each try, in order. */
  struct trace_attempt attempts[TRACE_MAX_ATTEMPTS];
  uint32_t attempts_len;
  /* Mirroring (VirtualService mirror): whether a shadow was sent, where, and the draw. */
  enum trace_mirror mirror;
  char mirror_cluster[128];
  double mirror_pct, mirror_roll; /* percent 0..100; roll in [0, 100) */
};

/* Resets r to an empty record (rule, match, picked and candidates -1). */
void trace_record_clear(struct trace_record *r);
/* Copies src into dst, cut to cap - 1 bytes and NUL-terminated; src NULL gives "". */
void trace_copy(char *dst, size_t cap, const char *src, size_t len);

/* A store of recent records: `recent` keeps the last `cap` requests; `notable` the last `cap`
 * requests that ended with a response flag or a 5xx. Zero-initialise, then trace_store_init. */
struct trace_store {
  struct trace_record *recent, *notable;
  size_t cap, recent_next, notable_next;
  uint64_t recent_count, notable_count; /* committed so far */
  /* The commit number of each slot, so a record kept in both rings is found once. */
  uint64_t *recent_seq, *notable_seq;
};

/* True when r goes to the notable ring too: it ended with a response flag, a 5xx, or no
 * response at all (code 0). */
bool trace_record_notable(const struct trace_record *r);

/* Allocates room for cap records in each ring. Returns 0, -EINVAL (cap 0) or -ENOMEM. */
int trace_store_init(struct trace_store *st, size_t cap);
/* Frees the rings. */
void trace_store_free(struct trace_store *st);
/* Copies r into the rings (borrows r). */
void trace_store_commit(struct trace_store *st, const struct trace_record *r);
/* Every stored record with this request id (there can be several: a retried request passes a
 * server sidecar once per attempt), oldest first, into out (at most max; a record in both rings
 * counts once). Returns how many. */
size_t trace_store_find(const struct trace_store *st, const char *request_id, const struct trace_record **out,
                        size_t max);

/* Appends r as one JSON object (the shape docs/why.md documents). Returns 0 or -ENOMEM. */
int trace_record_json(const struct trace_record *r, struct buf *out);
/* Parses one object trace_record_json wrote (the lab reads proxies' answers with it).
 * Returns 0, or -EINVAL with a reason in err. */
int trace_record_from_json(const char *text, size_t len, struct trace_record *out, char *err, size_t errlen);
/* Appends the human explanation `meshlab why` prints for one hop: a header line (proxy,
 * direction, code, flags, duration) and one indented line per decision, in the order the proxy
 * made them, each saying what was checked, against what, and what followed. */
int trace_record_text(const struct trace_record *r, struct buf *out);

/* Appends the answer of the admin endpoint /debug/why: {"proxy": proxy, "records": [...]}
 * (borrows everything). Returns 0 or -ENOMEM. */
int trace_why_json(const char *proxy, const struct trace_record *const *recs, size_t n, struct buf *out);
/* Parses an answer trace_why_json wrote: the proxy's name into proxy (cut to cap), the records
 * into *out (returns owned, free(); NULL when none) and their count into *n. Returns 0, or
 * -EINVAL with a reason in err, or -ENOMEM. */
int trace_why_from_json(const char *text, size_t len, char *proxy, size_t cap, struct trace_record **out, size_t *n,
                        char *err, size_t errlen);

/* Orders the records of one request as its hops happened: by start time, then, for the same
 * millisecond, gateway before outbound before inbound (the caller's side of a hop starts it),
 * keeping the given order otherwise. */
void trace_records_sort(struct trace_record *recs, size_t n);
/* Appends the one-line summary `meshlab why` ends with: how many hops over which proxies, and
 * what the first hop's caller got (code, flags, duration). n must be at least 1. */
int trace_records_summary(const char *request_id, const struct trace_record *recs, size_t n, struct buf *out);

#endif
