/* The help overlay (?): every key, in a box over the current view. */
#include "tui/view.h"

static const char *const lines[] = {
    "KEYS",
    "",
    "?          this help (any key closes it)",
    "tab        next view (shift-tab: previous); 1-4 jump",
    "/          filter requests (or breakers) by any text",
    "up/down    select a request (j/k too)",
    "enter      open the selected request's trace (the why)",
    "esc        close the trace, clear the filter being typed",
    "space      lesson: continue / pause  (replay: play/pause)",
    "n          lesson: next step  (replay: next event)",
    "left/right replay: 10 s back / on",
    "q          quit",
    "mouse      click a tab, a request (twice: its why); wheel",
    "",
    "Health: + ok  ~ degraded (<99.5%)  x failing (<95%)  . idle",
    "Data: the lab's last 10 s, polled every 250 ms.",
    "Nodes: what services answered; calls: what callers got.",
};

static void draw(const struct dash_model *m, struct frame *f, struct dash_rect r) {
  (void)m;
  frame_fill(f, r.x, r.y, r.w, r.h, ' ', 0);
  frame_fill(f, r.x, r.y, r.w, 1, '-', FRAME_CYAN);
  frame_fill(f, r.x, r.y + r.h - 1, r.w, 1, '-', FRAME_CYAN);
  frame_fill(f, r.x, r.y, 1, r.h, '|', FRAME_CYAN);
  frame_fill(f, r.x + r.w - 1, r.y, 1, r.h, '|', FRAME_CYAN);
  for (size_t i = 0; i < sizeof lines / sizeof lines[0] && (int)i < r.h - 3; i++)
    frame_put(f, r.x + 3, r.y + 2 + (int)i, i == 0 ? FRAME_BOLD : 0, lines[i], r.w - 5);
}

const struct dash_view view_help = {"Help", "", draw};
