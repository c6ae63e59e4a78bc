/* The requests view: the live log of sampled requests (the lab keeps a reservoir sample of
 * each sidecar's requests, docs/telemetry.md), newest first, one access-log line each with its
 * response flags; `/` filters on any text of the line. Enter opens the selected request's
 * decision trace: what `meshlab why ID` prints, hop by hop. */
#include <stdio.h>
#include <string.h>

#include "tui/view.h"

static void draw_trace(const struct dash_model *m, struct frame *f, struct dash_rect r) {
  frame_printf(f, r.x, r.y, FRAME_BOLD, r.w, "WHY  request %s  (meshlab why %s)", m->trace_id, m->trace_id);
  int y = r.y + 2, skipped = 0;
  const char *p = m->trace;
  while (*p && y < r.y + r.h) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    if (skipped++ >= m->scroll) {
      char line[512];
      snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
      uint8_t attr = line[0] && line[0] != ' ' ? FRAME_BOLD : 0;
      if (strstr(line, " URX") || strstr(line, " UO") || strstr(line, " UH") || strstr(line, " 503 "))
        attr |= FRAME_RED;
      frame_put(f, r.x, y++, attr, line, r.w);
    }
    p += n + (nl ? 1 : 0);
  }
}

static void draw(const struct dash_model *m, struct frame *f, struct dash_rect r) {
  if (m->trace_open) {
    draw_trace(m, f, r);
    return;
  }
  size_t idx[DASH_MAX_REQUESTS];
  size_t n = dash_model_filtered(m, idx, DASH_MAX_REQUESTS);
  frame_printf(f, r.x, r.y, FRAME_BOLD, r.w, "REQUESTS  newest first, sampled by the sidecars%s%s%s  (%zu shown)",
               m->filter[0] ? "  filter \"" : "", m->filter, m->filter[0] ? "\"" : "", n);
  int rows = r.h - 1;
  int sel = m->selected < (int)n ? m->selected : (int)n - 1;
  int first = sel >= rows ? sel - rows + 1 : 0;
  for (int i = 0; i < rows && (size_t)(first + i) < n; i++) {
    const struct dash_request *q = &m->requests[idx[first + i]];
    char line[512];
    dash_request_line(q, line, sizeof line);
    bool bad = q->code >= 500 || q->code == 0 || (q->flags[0] && strcmp(q->flags, "-") != 0);
    uint8_t attr = bad ? (FRAME_RED | FRAME_BOLD) : 0;
    if (first + i == sel) attr = FRAME_REVERSE | (attr & FRAME_COLOR_MASK);
    frame_put(f, r.x, r.y + 1 + i, attr, line, r.w);
    if (first + i == sel) frame_attr(f, r.x + (int)strlen(line), r.y + 1 + i, r.w - (int)strlen(line), FRAME_REVERSE);
  }
  if (!n)
    frame_put(f, r.x, r.y + 2, FRAME_DIM, m->filter[0] ? "no request matches the filter" : "no request sampled yet",
              r.w);
}

const struct dash_view view_requests = {"Requests", "enter why  up/down select", draw};
