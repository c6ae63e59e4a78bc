/* The traffic split view: for each service, the share of its requests each version took over
 * the last 10 s (the bar) against the share its VirtualService configures (the | marker and the
 * number). A version far from its weight is flagged: with few requests the shares wander
 * (a weighted draw per request), with many they settle on the weights. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tui/view.h"

static void draw(const struct dash_model *m, struct frame *f, struct dash_rect r) {
  int y = r.y, limit = r.y + r.h;
  int barw = r.w >= 110 ? 50 : 30;
  frame_put(f, r.x, y++, FRAME_BOLD, "TRAFFIC SPLIT  observed share (last 10 s) against configured weights", r.w);
  y++;
  size_t shown = 0;
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < m->nservices && y < limit; i++) {
      const struct dash_service *s = &m->services[i];
      bool split = s->nversions > 1;
      for (size_t v = 0; v < s->nversions; v++) split = split || s->versions[v].weight >= 0;
      /* services that split first, then the single-version ones */
      if ((pass == 0) != split || !s->nversions) continue;
      char rate[16];
      dash_fmt_rps(s->rps, rate, sizeof rate);
      frame_printf(f, r.x, y++, FRAME_BOLD, 0, "%s  (%s rps)", s->name, rate);
      for (size_t v = 0; v < s->nversions && y < limit; v++) {
        const struct dash_version *d = &s->versions[v];
        int fill = (int)lround(d->observed * barw);
        frame_printf(f, r.x + 2, y, 0, 7, "%-7s", d->name);
        frame_put(f, r.x + 9, y, 0, "[", 1);
        frame_fill(f, r.x + 10, y, fill, 1, '#', FRAME_GREEN | FRAME_BOLD);
        frame_fill(f, r.x + 10 + fill, y, barw - fill, 1, '.', FRAME_DIM);
        if (d->weight >= 0) {
          int at = (int)lround(d->weight * barw);
          if (at >= barw) at = barw - 1;
          frame_put(f, r.x + 10 + at, y, FRAME_CYAN | FRAME_BOLD, "|", 1);
        }
        frame_put(f, r.x + 10 + barw, y, 0, "]", 1);
        int x = r.x + 12 + barw;
        x += frame_printf(f, x, y, 0, 0, "%5.1f%%", 100 * d->observed);
        if (d->weight >= 0) {
          x += frame_printf(f, x, y, FRAME_CYAN, 0, "  weight %3.0f%%", 100 * d->weight);
          if (s->rps > 0 && fabs(d->observed - d->weight) > 0.15)
            frame_put(f, x, y, FRAME_YELLOW | FRAME_BOLD, "  ! off", 0);
        } else {
          frame_put(f, x, y, FRAME_DIM, "  no weight", 0);
        }
        y++;
      }
      shown++;
    }
  if (!shown) frame_put(f, r.x, y++, FRAME_DIM, "no traffic in the last 10 s: versions show once requests flow", r.w);
  if (y + 1 < limit)
    frame_put(f, r.x, limit - 1, FRAME_DIM, "# observed share   | configured weight   ! more than 15 points apart",
              r.w);
}

const struct dash_view view_split = {"Split", "", draw};
