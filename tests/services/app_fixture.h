/* Sample applications under test, in-process: any number of apps (and a recording server that
 * stands in for a service) share one libuv loop on a background thread, while the test drives
 * them with blocking requests from the main thread. appfix_stop stops every app and reports
 * whether the loop then closed with every handle closed. */
#ifndef TEST_APP_FIXTURE_H
#define TEST_APP_FIXTURE_H

#include <uv.h>

#include "mesh/server.h"
#include "services/app.h"
#include "support/client.h"
#include "support/loopthread.h"

#define APPFIX_MAX 8

/* A stand-in service: answers every request with `reply` (JSON) after recording its request
 * line and headers. */
struct recorder {
  struct http_server srv;
  int port;
  char reply[1024];
  int status;
  struct buf last; /* "METHOD TARGET\nname: value\n..." of the last request */
  int count;
};

struct appfix {
  struct loop_thread lt;
  struct conn_env env;
  struct app apps[APPFIX_MAX];
  int napps;
  char text[APPFIX_MAX][4][128]; /* the apps' option strings, kept alive */
  int ports[APPFIX_MAX], control_ports[APPFIX_MAX];
  int crashes[APPFIX_MAX]; /* crash chaos calls (the hook replaces exit) */
  struct recorder rec;
  int has_rec;
  void (*fn)(struct appfix *f, void *arg); /* the call in flight (appfix_call) */
  void *arg;
};

/* Sets up the loop (not yet running). */
void appfix_init(struct appfix *f);
/* Starts an app on 127.0.0.1:0 with a control listener; upstream ports (0 = none) for details,
 * reviews, ratings; proxy_port > 0 sets --proxy. Before appfix_run only. Returns its index or -1. */
int appfix_add(struct appfix *f, enum app_kind kind, const char *version, int details, int reviews, int ratings,
               int proxy_port, double time_scale);
/* Starts the recording server (before appfix_run); returns its port. */
int appfix_recorder(struct appfix *f, int status, const char *reply);
/* Starts the loop thread. */
void appfix_run(struct appfix *f);
/* Runs fn(f, arg) on the loop thread and waits for it. */
void appfix_call(struct appfix *f, void (*fn)(struct appfix *f, void *arg), void *arg);
/* Copies what the recorder last saw into out (owned by the caller, buf_free it). */
void appfix_recorded(struct appfix *f, struct buf *out, int *count);
/* Stops everything, joins the thread; returns uv_loop_close's result (0 = all closed). */
int appfix_stop(struct appfix *f);

/* One blocking request on a fresh connection: method, path, extra header lines
 * ("name: value\r\n", or NULL), body (or NULL). Returns 0 when a whole response came back. */
int http_do(int port, const char *method, const char *path, const char *headers, const char *body,
            struct client_response *r);
/* Milliseconds since an arbitrary start, for timing checks. */
double now_ms_test(void);

#endif
