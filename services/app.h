/* The sample applications' common runner: what every app process is, whatever app it plays.
 *
 * An app (`meshlab app KIND`) is one libuv loop with two small HTTP servers: the app's own
 * listener (where, in the lab, only its sidecar reaches it: a unix socket in the replica's
 * folder) and a control listener the lab drives (chaos knobs, header forwarding). Between the
 * listener and the app's handler sits the chaos layer, in this order:
 *
 *   slow start (503 until ready) → hang (never answer) → added latency (± jitter)
 *     → error rate (answer error_code) → the app's own handler
 *
 * Apps call one another through an HTTP client pointed at their sidecar's outbound listener as
 * an explicit proxy (http_proxy), and forward the trace headers and `end-user` of the request
 * they are serving, as Bookinfo's apps do; a knob turns that forwarding off.
 *
 * Each app kind is a file of its own (productpage.c, details.c, reviews.c, ratings.c,
 * httpbin.c, external.c) with one serve function, listed in app.c's table. Random draws (error
 * rolls, jitter, httpbin's bytes) come from the app's seeded `struct rng`, so `--seed` repeats a
 * run.
 */
#ifndef SERVICES_APP_H
#define SERVICES_APP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "mesh/client.h"
#include "mesh/rand.h"
#include "mesh/server.h"

enum app_kind { APP_PRODUCTPAGE, APP_DETAILS, APP_REVIEWS, APP_RATINGS, APP_HTTPBIN, APP_EXTERNAL, APP_KIND_COUNT };

/* The services apps call, at Bookinfo's names and port (details:9080 ...). */
enum app_service { APP_SVC_DETAILS, APP_SVC_REVIEWS, APP_SVC_RATINGS, APP_SVC_COUNT };

/* Parses "productpage", "details", ...; returns 0 or -EINVAL. */
int app_kind_parse(const char *s, enum app_kind *out);
const char *app_kind_name(enum app_kind k);
/* "details" for APP_SVC_DETAILS ... */
const char *app_service_name(enum app_service s);

/* How an app starts. Strings are borrowed and must outlive the app. */
struct app_options {
  enum app_kind kind;
  const char *listen;                  /* "HOST:PORT" or "unix:/path" */
  const char *control;                 /* control listener, or NULL for none */
  const char *proxy;                   /* "HOST:PORT" of the sidecar's outbound listener, or NULL */
  const char *upstream[APP_SVC_COUNT]; /* direct addresses per service (tests), or NULL */
  const char *version;                 /* "v1" (default), "v2", "v3" */
  const char *name;                    /* replica name ("reviews-v2-0"); reviews' podname */
  const char *ns;                      /* namespace, "default" */
  uint64_t seed;                       /* with `seeded`: the rng's seed; else from the OS */
  int seeded;
  double time_scale;      /* multiplies the apps' own call timeouts; 0 means 1 */
  uint64_t slow_start_ms; /* not ready for this long after start */
  int no_forwarding;      /* start with header forwarding off */
};

/* The chaos knobs of one replica. */
struct app_chaos {
  uint64_t latency_ms;    /* added before answering */
  uint64_t jitter_ms;     /* latency varies uniformly within ± jitter_ms (never below 0) */
  double error_rate;      /* share of requests answered with error_code, 0..1 */
  int error_code;         /* 503 unless set */
  int hang;               /* accept requests and never answer them */
  uint64_t slow_start_ms; /* the last slow start asked for (informational) */
  uint64_t ready_at;      /* loop time (ms) before which every request gets 503 */
};

/* The delay chaos adds to one request: latency_ms plus a uniform draw from
 * [-jitter_ms, +jitter_ms] taken from rng, clamped at 0 (a jitter wider than the latency never
 * makes a negative wait). Pure but for the draw. */
uint64_t app_chaos_latency(const struct app_chaos *c, struct rng *rng);

struct app_request;

/* The result of a call made with app_call: status 0 and resp, or status < 0 (timeout,
 * refused, cancelled) and resp NULL. slot is the one app_call was given. resp is valid only
 * during the callback. */
typedef void (*app_call_cb)(struct app_request *ar, int status, int slot, const struct http_client_response *resp);

#define APP_CALL_SLOTS 2

/* One request an app is answering. The app's handler owns it from serve until app_reply. */
struct app_request {
  struct app *app;
  struct server_request *r; /* borrowed from the server until app_reply */
  struct app_request *next, *prev;
  uv_timer_t timer; /* chaos latency, then the handler's own waits (app_after) */
  void (*on_timer)(struct app_request *ar);
  enum { APP_REQ_DELAYED, APP_REQ_HUNG, APP_REQ_SERVING } state;
  struct buf forward; /* headers to forward on calls: "name: value\r\n" lines */
  char end_user[64];  /* productpage's logged-in user: sent as end-user */
  struct http_client_call *call[APP_CALL_SLOTS];
  app_call_cb call_cb[APP_CALL_SLOTS];
  /* Scratch for handlers: what calls brought back, and how many tries were made. */
  int got_status[APP_CALL_SLOTS]; /* HTTP status, or a negative error */
  struct buf got_body[APP_CALL_SLOTS];
  int attempts;
  int mode; /* which of its paths the handler is serving */
  long id;
  unsigned done : 1;
};

struct app {
  uv_loop_t *loop;
  struct app_options opt;
  int version; /* 1, 2, 3 from opt.version */
  struct conn_env env;
  struct http_server srv, ctl;
  int has_ctl;
  struct http_client client;
  struct conn_addr upstream[APP_SVC_COUNT];
  int has_upstream[APP_SVC_COUNT];
  struct rng rng;
  struct app_chaos chaos;
  int forwarding;               /* forward trace headers and end-user on calls */
  struct app_request *requests; /* being answered */
  size_t nrequests;             /* allocated, including those whose timer is closing */
  size_t nhung;
  uint64_t served; /* requests answered */
  uv_timer_t crash_timer;
  int parts_open; /* servers and client not yet closed */
  int stopping;
  /* Crash chaos: called to end the process with a non-zero code. NULL: _exit(code), skipping
   * every cleanup, as a crash does. Tests running apps in-process set their own. */
  void (*crash)(struct app *a, int code);
  void (*on_stopped)(struct app *a);
  void *data; /* the owner's */
};

#define APP_CRASH_EXIT_CODE 1

/* Starts the app on loop: listeners, control listener, client. opt is copied (its strings are
 * borrowed). Returns 0, or a negative code with a message in err (then call app_stop anyway to
 * close what was opened, and run the loop until on_stopped). */
int app_start(struct app *a, uv_loop_t *loop, const struct app_options *opt, char *err, size_t errlen);

/* The address the app listens on ("127.0.0.1:40123" or "unix:/path"), and the control one
 * (empty when none). Borrowed from a. */
const char *app_address(const struct app *a);
const char *app_control_address(const struct app *a);

/* Stops: cancels outgoing calls, answers what is still waiting (hung or delayed requests get
 * 503), closes both listeners and the client. on_stopped (may be NULL) fires once every handle
 * the app owns is closed; a may be freed then. */
void app_stop(struct app *a, void (*on_stopped)(struct app *a));

/* Frees what the app holds besides handles (its read buffer); call after on_stopped, or after
 * the loop ran dry. */
void app_free(struct app *a);

/* ---- for the app kinds ---- */

/* Answers the request and ends it; ar must not be used afterwards. Outgoing calls still open
 * are cancelled (their callbacks do not run). body is copied; extra_headers are
 * "name: value\r\n" lines or NULL. */
void app_reply(struct app_request *ar, int status, const char *content_type, const char *body, size_t len,
               const char *extra_headers);
/* app_reply with application/json and the buffer's bytes. */
/* Appends Bookinfo's error body {"error":"msg"} to b. */
void app_error_json(struct buf *b, const char *msg);
/* Answers status with {"error":"msg"} as JSON. */
void app_reply_error(struct app_request *ar, int status, const char *msg);
void app_reply_json(struct app_request *ar, int status, const struct buf *json);
/* A plain-text reply: "not found\n" style. */
void app_reply_text(struct app_request *ar, int status, const char *text);

/* Calls service svc at path ("/reviews/0") with the request's forwarded headers (and end-user)
 * plus extra_headers, through the proxy or the service's upstream address, within timeout_ms
 * (scaled by the app's time_scale). cb fires later with the same slot. Returns 0 or a negative
 * error (cb then never fires). */
int app_call(struct app_request *ar, int slot, enum app_service svc, const char *path, uint64_t timeout_ms,
             app_call_cb cb);

/* Runs fn(ar) after ms milliseconds (one wait at a time per request). */
void app_after(struct app_request *ar, uint64_t ms, void (*fn)(struct app_request *ar));

/* The request's path as a NUL-terminated copy into out (n bytes); returns 0, or -1 when it
 * does not fit. */
int app_path(const struct app_request *ar, char *out, size_t n);
/* Nonzero when path starts with prefix; *rest gets what follows. */
int app_path_prefix(const char *path, const char *prefix, const char **rest);
/* The first value of a request header (case-insensitive), or NULL. */
const struct slice *app_header(const struct app_request *ar, const char *name);
/* The client address as httpbin reports it: the first X-Forwarded-For entry, else "127.0.0.1". */
void app_origin(const struct app_request *ar, char *out, size_t n);
/* Decodes one application/x-www-form-urlencoded or query value (+ and %XX) into out; returns
 * the length written (truncated to n - 1, NUL-terminated). */
size_t app_url_decode(struct slice in, char *out, size_t n);
/* Finds key in a query or form body ("a=1&b=2"); decodes its value into out. Returns 1 when
 * found, 0 when not. */
int app_form_value(struct slice form, const char *key, char *out, size_t n);

/* The headers apps forward on their calls, Bookinfo's list plus W3C and B3 single-header. */
extern const char *const app_forwarded_headers[];
extern const size_t app_forwarded_headers_count;

/* The app kinds' handlers (one per file). */
void productpage_serve(struct app_request *ar);
void details_serve(struct app_request *ar);
void reviews_serve(struct app_request *ar);
void ratings_serve(struct app_request *ar);
void httpbin_serve(struct app_request *ar);
void external_serve(struct app_request *ar);

/* httpbin's /delay/<seconds>: parses seconds (fractions allowed) into *ms, capped at 10 s as
 * httpbin caps it. Returns 0 or -EINVAL. */
int httpbin_delay_ms(const char *spec, uint64_t *ms);

/* Bookinfo's own call timeouts, before time_scale: productpage → details and reviews (3 s,
 * reviews tried twice), reviews v2 → ratings 10 s, v3 → 2.5 s. */
#define PRODUCTPAGE_DETAILS_TIMEOUT_MS 3000
#define PRODUCTPAGE_REVIEWS_TIMEOUT_MS 3000
#define PRODUCTPAGE_REVIEWS_ATTEMPTS 2
#define PRODUCTPAGE_RATINGS_TIMEOUT_MS 3000
#define REVIEWS_V2_RATINGS_TIMEOUT_MS 10000
#define REVIEWS_V3_RATINGS_TIMEOUT_MS 2500

#endif
