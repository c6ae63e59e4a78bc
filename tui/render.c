/* The screen's layout and the registry of views: see view.h.
 *
 *   row 0      meshlab dash   1 Topology  2 Split  3 Breakers  4 Requests        12:00:05 UTC
 *   row 1      the lab: replicas serving, mesh rate, data age (or the replay's position)
 *   rows 2..   the current view
 *   (6-9 rows) the lesson pane, while `meshlab run` drives one
 *   last row   key hints, or the filter being typed
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tui/view.h"

/* The views tab cycles through, in the order of enum dash_view_id. */
static const struct dash_view *const views[DASH_VIEW_COUNT] = {
    [DASH_VIEW_TOPOLOGY] = &view_topology,
    [DASH_VIEW_SPLIT] = &view_split,
    [DASH_VIEW_BREAKERS] = &view_breakers,
    [DASH_VIEW_REQUESTS] = &view_requests,
};

uint8_t dash_health_attr(enum dash_health h) {
  switch (h) {
  case DASH_HEALTH_IDLE:
    return FRAME_DIM;
  case DASH_HEALTH_OK:
    return FRAME_GREEN;
  case DASH_HEALTH_WARN:
    return FRAME_YELLOW | FRAME_BOLD;
  case DASH_HEALTH_BAD:
    return FRAME_RED | FRAME_BOLD;
  }
  return 0;
}

int dash_wrap(struct frame *f, int x, int y, int w, int max_lines, uint8_t attr, const char *text) {
  int lines = 0;
  const char *p = text;
  while (*p && lines < max_lines) {
    while (*p == ' ') p++;
    if (!*p) break;
    const char *nl = strchr(p, '\n');
    size_t rest = nl ? (size_t)(nl - p) : strlen(p), cut = rest;
    if (cut > (size_t)w) {
      /* the longest run of whole words that fits (bytes: narration is mostly ASCII) */
      cut = (size_t)w;
      while (cut > 0 && p[cut] != ' ') cut--;
      if (cut == 0) cut = (size_t)w;
    }
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)cut, p);
    frame_put(f, x, y + lines, attr, line, w);
    p += cut;
    if (*p == '\n') p++;
    lines++;
  }
  return lines;
}

void dash_fmt_rps(double rps, char *out, size_t n) {
  if (rps <= 0) snprintf(out, n, "-");
  else if (rps >= 10000) snprintf(out, n, "%.1fk", rps / 1000);
  else snprintf(out, n, "%.1f", rps);
}

void dash_fmt_ratio(double r, char *out, size_t n) {
  if (r < 0) snprintf(out, n, "-");
  else snprintf(out, n, "%.1f%%", 100 * r);
}

void dash_fmt_ms(double ms, char *out, size_t n) {
  if (ms <= 0) snprintf(out, n, "-");
  else if (ms >= 1000) snprintf(out, n, "%.2fs", ms / 1000);
  else if (ms >= 100) snprintf(out, n, "%.0fms", ms);
  else snprintf(out, n, "%.1fms", ms);
}

void dash_fmt_limit(uint64_t v, char *out, size_t n) {
  if (v >= 4294967295u) snprintf(out, n, "max");
  else snprintf(out, n, "%llu", (unsigned long long)v);
}

static void too_small(struct frame *f) {
  const char *lines[3];
  char first[96];
  snprintf(first, sizeof first, "terminal too small: %dx%d", f->w, f->h);
  lines[0] = first;
  lines[1] = "meshlab dash needs at least 80x24";
  lines[2] = "enlarge the window (or zoom out); q quits";
  for (int i = 0; i < 3; i++) {
    int len = (int)strlen(lines[i]);
    int x = f->w > len ? (f->w - len) / 2 : 0;
    frame_put(f, x, f->h / 2 - 1 + i, i == 0 ? FRAME_BOLD : 0, lines[i], f->w);
  }
}

/* The tab label of view i, and where it starts on row 0. */
static int tab_label(const struct dash_model *m, int i, char *out, size_t n) {
  bool on = (int)m->view == i;
  snprintf(out, n, on ? "[%d %s]" : " %d %s ", i + 1, views[i]->name);
  int x = (int)strlen(" meshlab dash ");
  for (int k = 0; k < i; k++) x += (int)strlen(views[k]->name) + 5;
  return x;
}

/* The rows the lesson pane and the journal's events take under the view. */
static int body_bottom(const struct dash_model *m, int h) {
  int bottom = h - 1;
  if (m->has_lesson) bottom -= h >= 40 ? 9 : 7;
  if (m->nevents && m->view != DASH_VIEW_REQUESTS) bottom -= h >= 40 ? 9 : 5;
  return bottom;
}

static void header(const struct dash_model *m, struct frame *f) {
  frame_fill(f, 0, 0, f->w, 1, ' ', FRAME_REVERSE);
  frame_put(f, 0, 0, FRAME_REVERSE | FRAME_BOLD, " meshlab dash ", 0);
  for (int i = 0; i < DASH_VIEW_COUNT; i++) {
    char tab[32];
    int tx = tab_label(m, i, tab, sizeof tab);
    frame_put(f, tx, 0, (int)m->view == i ? (FRAME_CYAN | FRAME_BOLD) : FRAME_REVERSE, tab, 0);
  }
  time_t secs = (time_t)(m->now_ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char clock[32];
  snprintf(clock, sizeof clock, "%02d:%02d:%02d UTC ", tm.tm_hour, tm.tm_min, tm.tm_sec);
  frame_put(f, f->w - (int)strlen(clock), 0, FRAME_REVERSE, clock, 0);

  char line[256];
  size_t serving = 0;
  for (size_t i = 0; i < m->nreplicas; i++) serving += strcmp(m->replicas[i].sidecar, "serving") == 0;
  if (m->replay) {
    snprintf(line, sizeof line, " %s   mesh %.0f rps, %.0f 5xx/s", m->replay_note, m->mesh_rps, m->mesh_5xx);
    frame_put(f, 0, 1, FRAME_YELLOW | FRAME_BOLD, line, f->w);
    return;
  }
  if (m->lab_down) {
    snprintf(line, sizeof line, " LAB UNREACHABLE: %s (showing the last data)", m->lab_note);
    frame_put(f, 0, 1, FRAME_RED | FRAME_BOLD, line, f->w);
    return;
  }
  double rps = 0;
  for (size_t i = 0; i < m->nservices; i++) rps += m->services[i].rps;
  int64_t age = m->updated_ms ? m->now_ms - m->updated_ms : -1;
  char agetext[32];
  if (age < 0) snprintf(agetext, sizeof agetext, "waiting for the lab");
  else snprintf(agetext, sizeof agetext, "data %.1f s old", (double)age / 1000);
  snprintf(line, sizeof line, " lab: %zu/%zu sidecars serving   %.1f rps, %zu services (10 s)   %s", serving,
           m->nreplicas, rps, m->nservices, agetext);
  frame_put(f, 0, 1, age > 2000 ? (FRAME_YELLOW | FRAME_BOLD) : 0, line, f->w);
}

static void footer(const struct dash_model *m, struct frame *f) {
  int y = f->h - 1;
  frame_fill(f, 0, y, f->w, 1, ' ', FRAME_REVERSE);
  char line[256];
  if (m->filtering) {
    snprintf(line, sizeof line, " filter: %s_   (enter: keep, esc: clear)", m->filter);
  } else {
    const char *extra = m->trace_open ? "esc back  up/down scroll" : views[m->view]->keys;
    const char *lesson = m->has_lesson ? "space continue  n next  "
                         : m->replay   ? "space play  n next  <-/-> seek  "
                                       : "";
    snprintf(line, sizeof line, " ? help  tab view  / filter%s%s%s  %s%s%sq quit", m->filter[0] ? " [" : "",
             m->filter[0] ? m->filter : "", m->filter[0] ? "]" : "", lesson, extra, extra[0] ? "  " : "");
  }
  frame_put(f, 0, y, FRAME_REVERSE, line, f->w);
}

void dash_render(const struct dash_model *m, struct frame *f) {
  frame_clear(f);
  if (f->w < DASH_MIN_W || f->h < DASH_MIN_H) {
    too_small(f);
    return;
  }
  header(m, f);
  footer(m, f);
  int bottom = f->h - 1;
  if (m->has_lesson) {
    int lh = f->h >= 40 ? 9 : 7;
    bottom -= lh;
    view_lesson.draw(m, f, (struct dash_rect){0, bottom, f->w, lh});
  }
  if (m->nevents && m->view != DASH_VIEW_REQUESTS) {
    /* the journal's events under the view (replay) */
    int eh = f->h >= 40 ? 9 : 5;
    bottom -= eh;
    frame_put(f, 1, bottom, FRAME_BOLD, "JOURNAL EVENTS", 0);
    size_t first = m->nevents > (size_t)(eh - 1) ? m->nevents - (size_t)(eh - 1) : 0;
    for (size_t i = first; i < m->nevents; i++) {
      bool hot = strstr(m->events[i], "ejected") || strstr(m->events[i], "overflow");
      frame_put(f, 1, bottom + 1 + (int)(i - first), hot ? (FRAME_RED | FRAME_BOLD) : 0, m->events[i], f->w - 2);
    }
  }
  struct dash_rect body = {1, 2, f->w - 2, bottom - 2};
  views[m->view]->draw(m, f, body);
  if (m->help) {
    int w = 64, h = 20;
    view_help.draw(m, f, (struct dash_rect){(f->w - w) / 2, (f->h - h) / 2, w, h});
  }
}

enum dash_action dash_click(struct dash_model *m, int w, int h, int x, int y) {
  if (w < DASH_MIN_W || h < DASH_MIN_H) return DASH_ACTION_NONE;
  if (m->help) {
    m->help = false;
    return DASH_ACTION_NONE;
  }
  if (y == 0) {
    for (int i = 0; i < DASH_VIEW_COUNT; i++) {
      char tab[32];
      int tx = tab_label(m, i, tab, sizeof tab);
      if (x >= tx && x < tx + (int)strlen(tab)) {
        m->view = (enum dash_view_id)i;
        m->scroll = 0;
        m->trace_open = false;
      }
    }
    return DASH_ACTION_NONE;
  }
  if (m->view != DASH_VIEW_REQUESTS || m->trace_open || m->filtering) return DASH_ACTION_NONE;
  /* the same rows view_requests.c draws: a title, then the log from r.y + 1 */
  int rows = body_bottom(m, h) - 2 - 1;
  size_t idx[DASH_MAX_REQUESTS];
  size_t n = dash_model_filtered(m, idx, DASH_MAX_REQUESTS);
  int sel = m->selected < (int)n ? m->selected : (int)n - 1;
  int first = sel >= rows ? sel - rows + 1 : 0;
  int row = first + (y - 3);
  if (y < 3 || y >= 3 + rows || row < 0 || (size_t)row >= n) return DASH_ACTION_NONE;
  if (row == m->selected) return dash_model_key(m, DASH_KEY_ENTER);
  while (m->selected < row) dash_model_key(m, DASH_KEY_DOWN);
  while (m->selected > row) dash_model_key(m, DASH_KEY_UP);
  return DASH_ACTION_NONE;
}
