/* The lesson runner: runs one Lua lesson (scenarios/NN-name.lua) against a running lab.
 *
 * It owns the libuv loop for the length of the lesson and everything the lesson touches: the
 * lab API (mesh/client.h, non-blocking), single requests through the mesh, the in-process load
 * generator (mesh/loadgen.h) and the timers behind wait(). The Lua side lives in the sandbox
 * (mesh/script.h) and the lesson API written in Lua (mesh/lesson_api.lua, embedded); every
 * call that needs I/O yields the lesson's coroutine, and the libuv callback that completes the
 * I/O resumes it. So `wait(3)` reads like blocking code while load keeps flowing and a
 * dashboard keeps drawing.
 *
 * What the learner sees goes through a small vtable, struct lesson_ui: the headless TAP
 * printer (lesson_ui_tap) now, the ncurses dashboard (tui/) later. The runner never prints.
 *
 * Files: lesson.c (the runner), lesson_text.c (the TAP printer and the metadata read without
 * running a lesson).
 *
 * The lesson API itself (every call, with an example) is docs/scenario-api.md.
 */
#ifndef MESH_LESSON_H
#define MESH_LESSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

/* Exit codes of `meshlab run` (../shared/CLI.md). */
enum lesson_exit {
  LESSON_PASSED = 0,
  LESSON_FAILED = 1,        /* an expectation failed */
  LESSON_BROKEN = 2,        /* the lesson itself has an error: Lua error, bad YAML */
  LESSON_LAB_GONE = 3,      /* the lab could not start or died */
  LESSON_INTERRUPTED = 130, /* Ctrl-C or SIGTERM ended it (the shell's 128 + SIGINT) */
};

/* The lesson's metadata: lesson{title=..., goal=..., duration=...}. Strings borrowed for the call. */
struct lesson_info {
  const char *file; /* chunk name, "scenarios/03-canary.lua" */
  const char *title, *goal, *duration;
};

/* One expectation as it was checked. Strings borrowed for the call. */
struct lesson_expect {
  int number; /* 1, 2, ... over the lesson (TAP's test number) */
  bool ok;
  const char *message;  /* what should hold: "reviews v3 gets about 10 %" */
  const char *observed; /* the values seen, or NULL */
  int step;             /* the step it belongs to (0: before the first) */
  const char *step_title;
  const char *where; /* "scenarios/03-canary.lua:42" */
};

struct lesson_result {
  enum lesson_exit exit_code;
  int expectations, failed;
  const char *error; /* the lesson's error (file:line and traceback) when exit_code is 2 or 3 */
};

struct lesson;

/* How a lesson is shown. Every callback is optional (NULL: nothing to show). */
struct lesson_ui {
  void (*on_lesson)(struct lesson_ui *ui, const struct lesson_info *info);
  void (*on_step)(struct lesson_ui *ui, int number, const char *title);
  void (*on_say)(struct lesson_ui *ui, const char *text);
  void (*on_expect)(struct lesson_ui *ui, const struct lesson_expect *e);
  /* pause(): return false to go on at once (headless), true when the UI will call
   * lesson_unpause(l) once the presenter pressed a key. */
  bool (*on_pause)(struct lesson_ui *ui, struct lesson *l, const char *prompt);
  /* The lesson ended; fires once, on the loop, as the runner starts closing its handles (an
   * interactive UI may keep the loop running until the presenter leaves). */
  void (*on_done)(struct lesson_ui *ui, const struct lesson_result *r);
  void *data;
  bool interactive; /* pause() and exercises wait for the presenter; false: headless */
};

struct lesson_opts {
  const char *lab_dir; /* the running lab's state folder (borrowed) */
  const char *file;    /* chunk name for messages */
  const char *text;    /* the lesson's Lua source (borrowed) */
  size_t len;
  uint64_t seed; /* math.random's seed */
};

/* Runs the lesson on loop (uv_run until it ended and every handle it opened is closed).
 * Returns its exit code. ui is borrowed. While it runs, SIGINT and SIGTERM end the lesson
 * (LESSON_INTERRUPTED) instead of the process, so the caller can still stop a lab it started. */
enum lesson_exit lesson_run(uv_loop_t *loop, const struct lesson_opts *opts, struct lesson_ui *ui);

/* The presenter pressed a key: the pause() waiting in l returns skip (true: "n", move on, e.g.
 * an exercise applies its solution; false: "space", continue). */
void lesson_unpause(struct lesson *l, bool skip);

/* The headless UI: TAP on out (`ok N - text`, `not ok N - text`, `# ...` diagnostics, the
 * `1..N` plan at the end). */
void lesson_ui_tap(struct lesson_ui *ui, FILE *out);

/* Reads title and duration from a lesson's source without running it (the first
 * `title = "..."` and `duration = "..."` fields outside `--` comments), for `meshlab lessons`. Pure. out buffers get
 * "" when absent. */
void lesson_scan_meta(const char *text, size_t len, char *title, size_t tn, char *duration, size_t dn);

/* How many steps a lesson has: lines whose first word is a `step(` call (what the lessons'
 * own style writes), so the dashboard can say "step N of M". 0 when none is found. Pure. */
int lesson_count_steps(const char *text, size_t len);

#endif
