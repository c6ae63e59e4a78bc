/* view: the dashboard's screens, one small vtable each, and the renderer that lays them out.
 *
 * Where it sits: between the model (tui/model.h) and the frame (tui/frame.h). dash_render draws
 * the chrome (tabs, lab status, key hints), the current view, the lesson pane when a lesson
 * runs, and the help overlay; every screen is a `struct dash_view` registered in the array in
 * tui/render.c, so adding a screen is one file and one line there. Pure: a view reads the model
 * and writes cells.
 */
#ifndef TUI_VIEW_H
#define TUI_VIEW_H

#include "tui/frame.h"
#include "tui/model.h"

#define DASH_MIN_W 80
#define DASH_MIN_H 24

struct dash_rect {
  int x, y, w, h;
};

struct dash_view {
  const char *name; /* the tab's label */
  const char *keys; /* the key hints this view adds to the bottom line */
  /* Draws the view into r of f (borrowed); r is at least 78x10. */
  void (*draw)(const struct dash_model *m, struct frame *f, struct dash_rect r);
};

extern const struct dash_view view_topology, view_split, view_breakers, view_requests, view_lesson, view_help;

/* Draws the whole screen for m into f (its size is the terminal's): a plain message when f is
 * smaller than 80x24. */
void dash_render(const struct dash_model *m, struct frame *f);

/* A mouse click at cell x,y of a w x h screen showing m: a tab selects its view, a row of the
 * request log selects that request (a second click on it opens its trace), anything else closes
 * the help. Returns what dash_model_key would for the same intent. */
enum dash_action dash_click(struct dash_model *m, int w, int h, int x, int y);

/* Helpers the views share. */
uint8_t dash_health_attr(enum dash_health h);
/* Writes text word-wrapped into at most max_lines lines of width w from x,y; returns the lines
 * used. */
int dash_wrap(struct frame *f, int x, int y, int w, int max_lines, uint8_t attr, const char *text);
/* "12.5", "1.2k" requests per second, "-" for none. */
void dash_fmt_rps(double rps, char *out, size_t n);
/* "100.0%" or "-" (no requests). */
void dash_fmt_ratio(double r, char *out, size_t n);
/* "4.9ms", "1.2s", "-" */
void dash_fmt_ms(double ms, char *out, size_t n);
/* A limit: "max" for Istio's unlimited (2^32-1 and above), else the number. */
void dash_fmt_limit(uint64_t v, char *out, size_t n);

#endif
