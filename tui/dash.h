/* dash: the dashboard's I/O loop: polls the lab API, reads keys, draws; or replays a journal.
 *
 * Where it sits: on a libuv loop, between the lab (mesh/client.h calls to the lab API every
 * 250 ms) or a journal file, the pure model (tui/model.h), the views (tui/view.h) and the
 * terminal (tui/term.h). `meshlab dash` runs it alone (dash_run); `meshlab run` embeds it in
 * its own loop (dash_init), sets the lesson pane with dash_set_lesson and hears the presenter's
 * keys through on_action (tui/README.md).
 *
 * What is polled, and how often (data is never more than ~500 ms old):
 *   every 250 ms  /v1/metrics group_by=destination_service (nodes, split), /v1/clusters
 *                 (breakers; before the lab serves it, each sidecar's admin /clusters),
 *                 and while there is traffic: /v1/requests and one /v1/metrics per calling
 *                 workload (edges);
 *   every 1 s     /v1/status;  every 2 s  the VirtualServices and DestinationRules (weights).
 * A poll is not sent while the previous one is out, so a slow lab is never piled on.
 */
#ifndef TUI_DASH_H
#define TUI_DASH_H

#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

#include "mesh/client.h"
#include "mesh/conn.h"
#include "tui/frame.h"
#include "tui/model.h"

struct term;
struct dash;

/* A key the dashboard does not handle itself: space and n for the lesson runner, q. */
typedef void (*dash_action_cb)(struct dash *d, enum dash_action action, void *data);

struct dash_options {
  const char *lab_dir;     /* the lab's state folder (live mode) */
  const char *record_path; /* asciicast v2 file to write, or NULL */
  const char *journal;     /* replay this journal instead of polling a lab, or NULL */
  bool no_mouse;           /* leave the mouse to the terminal (text selection) */
};

struct dash {
  uv_loop_t *loop;
  struct dash_options opt;
  struct dash_model *model; /* owned */
  struct term *term;        /* owned */
  struct frame frame, prev; /* the frame drawn now, and the one before (recording) */
  uv_timer_t tick;
  uv_poll_t input;
  uv_signal_t winch;
  struct conn_env env;
  struct http_client client;
  char api[128]; /* the lab API's HOST:PORT */
  int inflight;  /* lab calls of the current poll still out */
  unsigned ticks;
  bool v1_clusters;            /* the lab serves /v1/clusters; else admin /clusters per sidecar */
  bool traffic;                /* the last poll saw requests */
  struct buf vs_body, dr_body; /* the routes' answers of the poll in flight */
  FILE *cast;
  int64_t cast_start_ms;
  /* replay */
  char **jlines;
  double *jt; /* each line's time on one timeline (seconds) */
  size_t njlines, jnext;
  double replay_t, replay_end;
  bool playing;
  int64_t replay_base_ms;
  /* the embedder's */
  dash_action_cb on_action;
  void *data;
  int closing;
  void (*on_closed)(struct dash *d);
};

/* Opens the terminal and starts polling (or replaying) on loop. Returns 0, or a negative
 * error with a message on stderr (no terminal, no journal, a cast that cannot be written). */
int dash_init(struct dash *d, uv_loop_t *loop, const struct dash_options *opt);
/* Shows (v) or hides (NULL) the lesson pane; v is copied. */
void dash_set_lesson(struct dash *d, const struct dash_lesson_view *v);
/* Stops everything, gives the terminal back, and calls on_closed (may be NULL) once every
 * handle is closed. */
void dash_close(struct dash *d, void (*on_closed)(struct dash *d));
/* `meshlab dash` / `meshlab replay`: dash_init on a loop of its own until q. Returns the exit
 * code. */
int dash_run(const struct dash_options *opt);

#endif
