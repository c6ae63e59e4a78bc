/* The lesson pane, under the current view while `meshlab run` drives a lesson: step N of M,
 * the narration, what to watch on the dashboard, and the presenter's keys. */
#include <stdio.h>
#include <string.h>

#include "tui/view.h"

static void draw(const struct dash_model *m, struct frame *f, struct dash_rect r) {
  frame_fill(f, r.x, r.y, r.w, 1, '-', FRAME_CYAN);
  char title[512], of[32] = "";
  /* a runner that does not know the number of steps passes 0: "step 3" */
  if (m->lesson.steps > 0) snprintf(of, sizeof of, " of %d", m->lesson.steps);
  snprintf(title, sizeof title, " Lesson: %s -- step %d%s: %s %s", m->lesson.lesson_title, m->lesson.step, of,
           m->lesson.step_title, m->lesson.paused ? "-- PAUSED " : "");
  frame_put(f, r.x + 1, r.y, FRAME_CYAN | FRAME_BOLD, title, r.w - 2);
  int y = r.y + 1, end = r.y + r.h;
  int room = end - y - (m->lesson.watch[0] ? 1 : 0) - (m->lesson.keys[0] ? 1 : 0);
  y += dash_wrap(f, r.x + 1, y, r.w - 2, room, 0, m->lesson.narration);
  if (m->lesson.watch[0] && y < end) {
    int x = frame_put(f, r.x + 1, y, FRAME_YELLOW | FRAME_BOLD, "watch: ", 0);
    frame_put(f, r.x + 1 + x, y++, FRAME_YELLOW, m->lesson.watch, r.w - 2 - x);
  }
  if (m->lesson.keys[0] && y < end) {
    int x = frame_put(f, r.x + 1, y, FRAME_DIM, "keys: ", 0);
    frame_put(f, r.x + 1 + x, y, FRAME_DIM, m->lesson.keys, r.w - 2 - x);
  }
}

const struct dash_view view_lesson = {"Lesson", "", draw};
