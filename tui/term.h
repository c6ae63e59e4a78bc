/* term: the dashboard's terminal, the only module that talks to ncurses.
 *
 * Where it sits: tui/dash.c renders the model into a frame and hands it to term_draw, which
 * sends the terminal only the cells that changed since the frame before (ncurses then sends the
 * fewest bytes that make the screen match). Keys come back as characters or DASH_KEY_* values
 * (tui/model.h). Colour is used only when the terminal has colours and NO_COLOR is not set
 * (https://no-color.org): the views print glyphs and words next to every colour, so nothing is
 * lost without it.
 */
#ifndef TUI_TERM_H
#define TUI_TERM_H

#include <stdbool.h>

#include "tui/frame.h"

struct term;

/* Takes over the terminal (stdin/stdout): raw keys, no echo, hidden cursor, the alternate
 * screen, and mouse clicks and the wheel when mouse is true (the terminal then selects text
 * with shift held). Returns an owned terminal, or NULL when stdout is not a terminal (a message
 * on stderr says so). */
struct term *term_open(bool mouse);
/* Gives the terminal back as it was and frees t; term_close(NULL) is a no-op. */
void term_close(struct term *t);
/* The terminal's size in cells. */
void term_size(const struct term *t, int *w, int *h);
/* Whether colours are in use (has_colors() and no NO_COLOR). */
bool term_color(const struct term *t);
/* Re-reads the window size after SIGWINCH and forgets the last frame, so the next term_draw
 * repaints everything. */
void term_resize(struct term *t);
/* Shows f (borrowed): writes the cells that differ from the last frame drawn, then refreshes.
 * Returns the number of cells written. */
int term_draw(struct term *t, const struct frame *f);
/* The next key typed, or -1 when none is waiting (never blocks). A mouse click is
 * TERM_CLICK with its cell in *x, *y; the wheel is DASH_KEY_WHEEL_UP/DOWN. */
int term_key(struct term *t, int *x, int *y);

#define TERM_CLICK 0x20000

#endif
