/* run_dash: the interactive face of `meshlab run` and `meshlab tour`, a struct lesson_ui that
 * drives the dashboard's lesson pane (tui/dash.h) on the lesson runner's own loop.
 *
 * The runner calls on_step/on_say/on_expect as the lesson goes; the pane shows step N, the
 * narration and the last expectation. pause() waits until the presenter presses space or n. When
 * the lesson ends the pane shows the result and the dashboard stays up, live, until q: the room
 * can keep watching the mesh the lesson left behind. q while the lesson runs ends it as Ctrl-C
 * does (exit 130, and a lab `run` started is still stopped).
 */
#ifndef CLI_RUN_DASH_H
#define CLI_RUN_DASH_H

#include <stdbool.h>
#include <uv.h>

#include "mesh/lesson.h"
#include "tui/dash.h"

struct run_dash {
  struct dash dash;
  struct lesson_ui ui;
  struct lesson *waiting; /* the lesson in pause(), NULL when not paused */
  char title[160], step_title[160], narration[1200], watch[400];
  int step, steps; /* steps: the lesson's count (lesson_count_steps), 0 unknown */
  bool done;
  bool more; /* a tour with lessons still to come: q goes on to the next one */
};

/* Opens the dashboard for the lab at lab_dir on loop (record_path: an asciicast file, or NULL)
 * and fills rd->ui. Returns 0, or a negative error (no terminal: the caller runs headless). */
int run_dash_open(struct run_dash *rd, uv_loop_t *loop, const char *lab_dir, const char *record_path);

#endif
