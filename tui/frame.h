/* frame: the dashboard's off-screen grid of cells, what every screen draws into.
 *
 * Where it sits: the views (tui/view_*.c) render the model into a frame; tui/term.c copies the
 * cells that changed since the last frame to the terminal (ncurses), tui/dash.c encodes them
 * as ANSI for an asciicast recording, and the unit tests compare frame_text() against golden
 * snapshots. A cell holds one Unicode code point of width 1 and an attribute byte (a colour and
 * bold/reverse/dim bits); no curses here, so it is plain data a test can print.
 */
#ifndef TUI_FRAME_H
#define TUI_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/buf.h"

/* Colours: health and emphasis. A monochrome terminal (or NO_COLOR) drops them; the glyphs and
 * words the views print next to a colour carry the same meaning. */
enum frame_color {
  FRAME_DEFAULT = 0,
  FRAME_GREEN = 1,  /* healthy */
  FRAME_YELLOW = 2, /* degraded, paused */
  FRAME_RED = 3,    /* failing, ejected, overflow */
  FRAME_CYAN = 4,   /* titles, the selected tab */
  FRAME_BLUE = 5,
  FRAME_MAGENTA = 6,
};
#define FRAME_COLOR_MASK 0x07
#define FRAME_BOLD 0x10
#define FRAME_REVERSE 0x20
#define FRAME_DIM 0x40

struct frame_cell {
  uint32_t ch;  /* a code point, ' ' when empty */
  uint8_t attr; /* enum frame_color | FRAME_BOLD ... */
};

struct frame {
  int w, h;
  struct frame_cell *cells; /* w*h, row-major; owned */
};

/* Sizes f to w x h cells, all blank. Returns 0 or -ENOMEM (f is then empty). */
int frame_init(struct frame *f, int w, int h);
/* Frees the cells; frame_free of a zeroed frame is a no-op. */
void frame_free(struct frame *f);
/* Blanks every cell. */
void frame_clear(struct frame *f);
/* The cell at x,y, or NULL outside the frame. */
struct frame_cell *frame_at(const struct frame *f, int x, int y);
/* Writes UTF-8 text (borrowed) at x,y with attr, at most maxw columns (<= 0: to the right
 * edge); a newline or a control character ends it. Returns the columns written. */
int frame_put(struct frame *f, int x, int y, uint8_t attr, const char *text, int maxw);
/* frame_put of a printf-formatted string. */
int frame_printf(struct frame *f, int x, int y, uint8_t attr, int maxw, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Fills a rectangle with code point ch and attr. */
void frame_fill(struct frame *f, int x, int y, int w, int h, uint32_t ch, uint8_t attr);
/* Sets the attribute of a run of cells, keeping their text (a highlighted row). */
void frame_attr(struct frame *f, int x, int y, int w, uint8_t attr);
/* Appends the frame as text to out: one line per row, trailing blanks cut, attributes
 * dropped (the golden snapshots). */
void frame_text(const struct frame *f, struct buf *out);
/* Appends to out the ANSI bytes that turn a terminal showing prev into cur (prev NULL or of
 * another size: a full repaint): cursor moves, SGR colour codes (none when color is false) and
 * UTF-8 text. The asciicast recording writes these. */
void frame_ansi(const struct frame *prev, const struct frame *cur, bool color, struct buf *out);
/* Appends the UTF-8 encoding of code point c to out (up to 4 bytes); returns the length. */
int frame_utf8(uint32_t c, char *out);

#endif
