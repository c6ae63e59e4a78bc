/* The load generator behind `meshlab load`: HTTP/1.1 requests at a fixed rate or as fast as
 * possible, over keep-alive connections, with latency, status codes and Envoy response flags.
 *
 * It sits outside the request path, as the client a lesson points at an ingress or a sidecar.
 * Two modes, as in fortio and wrk2:
 *
 * - Open loop (qps > 0). Request number n (0, 1, 2, ...) is due at t0 + n/qps and belongs to
 *   connection n mod C, so each connection runs its own fixed schedule at qps/C, the schedules
 *   interleaved evenly. Latency is measured from a request's *intended* send time, not from when
 *   it went out: a request whose connection is still busy at its due time waits, and the wait
 *   counts. A generator that instead waits for a reply before it "decides" to send the next
 *   request hides exactly the stalls it should measure (Gil Tene's coordinated omission).
 * - Closed loop (qps = 0): each connection sends its next request as soon as the previous reply
 *   ends; latency is then the plain round trip.
 *
 * With an explicit proxy (a sidecar's outbound listener, `meshlab load --from`), the requests
 * use the absolute-form target and a Host header, as curl does with http_proxy. Bodies are read
 * and discarded. A connection the server closes is opened again when its next request is due.
 * Requests that get no response (connect failure, reset, timeout, malformed response) are
 * counted as errors, which fortio prints as "Code -1".
 *
 * One libuv loop, no threads. On Linux the schedule runs on a timerfd with 1 µs timer slack,
 * because libuv's timers have millisecond resolution and at 1000 rps a millisecond of lateness
 * would be all of the latency being measured.
 */
#ifndef MESH_LOADGEN_H
#define MESH_LOADGEN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "mesh/buf.h"
#include "mesh/conn.h"
#include "mesh/flags.h"
#include "mesh/histogram.h"

struct http_head;

/* ---- Pure parts: the target, the request bytes, the response flags ----------------------- */

/* An http:// URL, split. */
struct loadgen_url {
  char host[256];      /* without brackets: "127.0.0.1", "::1", "reviews" */
  int port;            /* 80 when the URL has none */
  char authority[272]; /* host[:port] as written, for Host and the absolute form: "[::1]:8080" */
  char path[2048];     /* origin-form target: "/p?q", "/" when the URL has no path */
};

/* Parses "http://HOST[:PORT][/PATH]" (the scheme may be left out, as fortio allows). Returns 0,
 * or -EINVAL for another scheme, a missing host, a bad port or a part too long. */
int loadgen_url_parse(struct loadgen_url *out, const char *url);

/* Appends the request `meshlab load` sends: request line (absolute-form when absolute_form is
 * set, for a proxy), Host (unless a header sets one), User-Agent (likewise), content-length: 0
 * for POST/PUT/PATCH unless given, then `headers` ("name: value" strings, borrowed). Returns 0,
 * -EINVAL for a method that is not a token or a header that is not "name: value" (the index of
 * the bad header in *bad_header, -1 for the method), or -ENOMEM. */
int loadgen_request_build(struct buf *out, const char *method, const struct loadgen_url *u, int absolute_form,
                          const char *const *headers, size_t nheaders, int *bad_header);

/* The response flags a meshlab proxy reported on a response: `x-meshlab-response-flags` holds
 * Envoy's short names ("UO", "UF,URX"; absent or "-" means none). Without that header, Envoy's
 * own `x-envoy-overloaded: true` means UO. Unknown names are ignored. Returns flag bits. */
uint32_t loadgen_response_flags(const struct http_head *h);

/* ---- The engine ------------------------------------------------------------------------- */

#define LOADGEN_MAX_STATUS 1000
#define LOADGEN_DEFAULT_TIMEOUT_MS 10000

struct loadgen_opts {
  struct conn_addr addr; /* where connections go: the origin, or the proxy */
  struct slice request;  /* the request bytes (loadgen_request_build); borrowed until on_done */
  int head;              /* the request is a HEAD (responses then have no body) */
  double qps;            /* total rate over all connections; 0 = closed loop, max rate */
  unsigned connections;  /* >= 1 */
  uint64_t duration_ms;  /* run length, used when requests is 0 */
  uint64_t requests;     /* exact number of requests; 0 = run for duration_ms */
  uint64_t timeout_ms;   /* per connect and per request; 0 = LOADGEN_DEFAULT_TIMEOUT_MS */
  uint64_t spin_ns;      /* open loop: wake this early and busy-wait to the due time (costs
                           * CPU; for benchmarks on a core of their own); 0 = sleep only */
};

struct loadgen_result {
  uint64_t requests;                  /* finished: responses plus errors */
  uint64_t responses;                 /* complete HTTP responses */
  uint64_t errors;                    /* requests that got no response (fortio's code -1) */
  uint64_t codes[LOADGEN_MAX_STATUS]; /* responses by status code */
  uint64_t flags[FLAG_COUNT];         /* responses by response flag (index = bit position) */
  uint64_t sockets;                   /* connections established (C with perfect keep-alive) */
  double duration_s;                  /* see loadgen_start */
  double qps;                         /* achieved: requests / duration_s */
  int interrupted;                    /* loadgen_stop ended the run early */
  /* Nanoseconds from intended send time to the end of the response, responses only. */
  struct hist latency;
  /* Nanoseconds from intended to actual send, for requests whose connection was free when they
   * fell due: the generator's own lateness (timer wake-up and loop delays). */
  struct hist lateness;
};

struct loadgen;
/* The run ended and every handle is closed: status 0 when it ran (results in lg->result), or a
 * negative libuv error when no connection could be established at all (lg->error says to
 * where and why). */
typedef void (*loadgen_done_cb)(struct loadgen *lg, int status);

enum loadgen_phase { LOADGEN_IDLE, LOADGEN_WARMUP, LOADGEN_RUNNING, LOADGEN_CLOSING };

struct loadgen_client;

struct loadgen {
  uv_loop_t *loop;
  struct loadgen_opts opts;
  struct loadgen_result result;
  char error[256];
  void *data; /* the owner's */
  /* private */
  enum loadgen_phase phase;
  loadgen_done_cb on_done;
  struct conn_env env;
  struct loadgen_client *clients;
  uint64_t t0, last_done; /* monotonic ns: start of the schedule, last request finished */
  uint64_t total;         /* open loop: requests in the schedule */
  uint64_t next_seq;      /* open loop: next request number to fall due */
  uint64_t issued;        /* closed loop: requests handed to connections */
  unsigned warming, connected;
  int schedule_done, done_status, first_error;
  uv_timer_t end_timer;  /* end of a timed schedule, then the drain deadline */
  uv_poll_t tick_poll;   /* the schedule's timerfd (Linux) ... */
  uv_timer_t tick_timer; /* ... or a millisecond timer elsewhere */
  int tick_fd;
  unsigned handles_open;
  int saved_slack;
};

/* Starts a run on loop. Connects every connection first (a warm-up, as fortio does); once each
 * attempt has ended the schedule starts at t0. The run ends when the schedule is done and every
 * request has finished, or at the latest one timeout after the schedule ends (requests still
 * waiting then count as errors). Duration is the time from t0 to the last finished request,
 * but never less than the schedule itself (duration_ms, or requests/qps in open loop), so a run
 * of 2000 requests at 1000 qps reports 2.000 s. opts is copied (opts->request stays borrowed).
 * Returns 0 (on_done fires later, exactly once, after every handle is closed and everything
 * the run allocated is released) or a negative error (bad options, no timer), after which
 * nothing is left to close. lg is the caller's and must stay put until on_done. On Linux, sets
 * the thread's timer slack to 1 ns for the run and restores it at the end. */
int loadgen_start(struct loadgen *lg, uv_loop_t *loop, const struct loadgen_opts *opts, loadgen_done_cb on_done);

/* Ends the run now (Ctrl-C): requests in flight or waiting are dropped, not counted, and
 * result.interrupted is set. on_done still fires once every handle is closed. A no-op when no
 * run is going. */
void loadgen_stop(struct loadgen *lg);

#endif
