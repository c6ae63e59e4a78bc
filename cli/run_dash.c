/* run_dash: see run_dash.h. */
#include "cli/run_dash.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void show(struct run_dash *rd, const char *keys) {
  struct dash_lesson_view v = {
      .lesson_title = rd->title,
      .step = rd->step,
      .steps = rd->step <= rd->steps ? rd->steps : 0,
      .step_title = rd->step_title,
      .narration = rd->narration,
      .watch = rd->watch,
      .keys = keys,
      .paused = rd->waiting != NULL,
  };
  dash_set_lesson(&rd->dash, &v);
}

static const char *running_keys(const struct run_dash *rd) {
  return rd->waiting ? "space continue  n skip ahead (an exercise: its solution)  q end the lesson"
                     : "q end the lesson";
}

static void on_lesson(struct lesson_ui *ui, const struct lesson_info *info) {
  struct run_dash *rd = ui->data;
  snprintf(rd->title, sizeof rd->title, "%s", info->title ? info->title : info->file);
  snprintf(rd->narration, sizeof rd->narration, "%s", info->goal ? info->goal : "");
  show(rd, running_keys(rd));
}

static void on_step(struct lesson_ui *ui, int number, const char *title) {
  struct run_dash *rd = ui->data;
  rd->step = number;
  snprintf(rd->step_title, sizeof rd->step_title, "%s", title);
  rd->narration[0] = rd->watch[0] = '\0';
  show(rd, running_keys(rd));
}

/* Narration accumulates within a step; the oldest lines give way when it is full. */
static void on_say(struct lesson_ui *ui, const char *text) {
  struct run_dash *rd = ui->data;
  size_t have = strlen(rd->narration), add = strlen(text) + 1;
  if (have + add >= sizeof rd->narration) {
    const char *keep = rd->narration + (have + add - sizeof rd->narration) + 1;
    const char *nl = strchr(keep, '\n');
    memmove(rd->narration, nl ? nl + 1 : keep, strlen(nl ? nl + 1 : keep) + 1);
    have = strlen(rd->narration);
  }
  snprintf(rd->narration + have, sizeof rd->narration - have, "%s%s", have ? "\n" : "", text);
  show(rd, running_keys(rd));
}

static void on_expect(struct lesson_ui *ui, const struct lesson_expect *e) {
  struct run_dash *rd = ui->data;
  snprintf(rd->watch, sizeof rd->watch, "%s %s%s%s", e->ok ? "ok" : "NOT OK", e->message,
           e->observed && !e->ok ? " - observed: " : "", e->observed && !e->ok ? e->observed : "");
  show(rd, running_keys(rd));
}

static bool on_pause(struct lesson_ui *ui, struct lesson *l, const char *prompt) {
  struct run_dash *rd = ui->data;
  rd->waiting = l;
  if (prompt && *prompt) on_say(ui, prompt);
  show(rd, running_keys(rd));
  return true;
}

static void on_done(struct lesson_ui *ui, const struct lesson_result *r) {
  struct run_dash *rd = ui->data;
  rd->done = true;
  rd->waiting = NULL;
  if (r->exit_code == LESSON_PASSED)
    snprintf(rd->watch, sizeof rd->watch, "lesson passed: %d of %d expectations held", r->expectations,
             r->expectations);
  else
    snprintf(rd->watch, sizeof rd->watch, "lesson ended (exit %d): %d of %d expectations failed%s%s", (int)r->exit_code,
             r->failed, r->expectations, r->error ? " - " : "", r->error ? r->error : "");
  show(rd, rd->more ? "q go on to the next lesson (the dashboard stays live until then)"
                    : "q quit (the dashboard stays live until then)");
}

static void on_action(struct dash *d, enum dash_action action, void *data) {
  struct run_dash *rd = data;
  switch (action) {
  case DASH_ACTION_LESSON_TOGGLE:
  case DASH_ACTION_LESSON_NEXT:
    if (rd->waiting) {
      struct lesson *l = rd->waiting;
      rd->waiting = NULL;
      show(rd, running_keys(rd));
      lesson_unpause(l, action == DASH_ACTION_LESSON_NEXT);
    }
    return;
  case DASH_ACTION_QUIT:
    /* While the lesson runs, q ends it as Ctrl-C does; the pane then shows the result. */
    if (!rd->done) raise(SIGINT);
    else dash_close(d, NULL);
    return;
  case DASH_ACTION_NONE:
  case DASH_ACTION_OPEN_TRACE:
  case DASH_ACTION_SEEK_BACK:
  case DASH_ACTION_SEEK_FORWARD:
    return;
  }
}

int run_dash_open(struct run_dash *rd, uv_loop_t *loop, const char *lab_dir, const char *record_path) {
  memset(rd, 0, sizeof *rd);
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) return -1;
  struct dash_options opt = {lab_dir, record_path, NULL, false};
  int rc = dash_init(&rd->dash, loop, &opt);
  if (rc != 0) return rc;
  rd->dash.on_action = on_action;
  rd->dash.data = rd;
  rd->ui = (struct lesson_ui){on_lesson, on_step, on_say, on_expect, on_pause, on_done, rd, true};
  return 0;
}
