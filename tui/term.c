/* The terminal, through ncursesw: see term.h. The one file that includes curses. */
#define NCURSES_WIDECHAR 1
#include "tui/term.h"

#include <curses.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include "tui/model.h"

struct term {
  SCREEN *screen;
  bool color;
  struct frame last; /* what the terminal shows now; empty: unknown (repaint all) */
};

struct term *term_open(bool mouse) {
  if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
    fprintf(stderr, "meshlab dash: stdin and stdout must be a terminal\n");
    return NULL;
  }
  struct term *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  setlocale(LC_ALL, "");
  /* the escape key alone should not wait the default second for a sequence */
  if (!getenv("ESCDELAY")) setenv("ESCDELAY", "25", 1);
  t->screen = newterm(NULL, stdout, stdin);
  if (!t->screen) {
    fprintf(stderr, "meshlab dash: cannot use the terminal (TERM=%s)\n", getenv("TERM") ? getenv("TERM") : "");
    free(t);
    return NULL;
  }
  set_term(t->screen);
  cbreak();
  noecho();
  nonl();
  keypad(stdscr, TRUE);
  nodelay(stdscr, TRUE);
  intrflush(stdscr, FALSE);
  curs_set(0);
  if (mouse) {
    mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(0); /* a press is a click: no wait to tell it from a double click */
  }
  const char *nc = getenv("NO_COLOR");
  t->color = has_colors() && !(nc && nc[0]);
  if (t->color) {
    start_color();
    use_default_colors();
    static const short colors[] = {COLOR_GREEN, COLOR_YELLOW, COLOR_RED, COLOR_CYAN, COLOR_BLUE, COLOR_MAGENTA};
    for (short i = 0; i < (short)(sizeof colors / sizeof colors[0]); i++) init_pair((short)(i + 1), colors[i], -1);
  }
  return t;
}

void term_close(struct term *t) {
  if (!t) return;
  endwin();
  delscreen(t->screen);
  frame_free(&t->last);
  free(t);
}

void term_size(const struct term *t, int *w, int *h) {
  (void)t;
  *w = COLS;
  *h = LINES;
}

bool term_color(const struct term *t) { return t->color; }

void term_resize(struct term *t) {
  struct winsize ws;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) resizeterm(ws.ws_row, ws.ws_col);
  frame_free(&t->last);
  clearok(curscr, TRUE);
}

/* Our attribute byte as curses attributes and a colour pair. */
static attr_t attrs_of(const struct term *t, uint8_t a, short *pair) {
  attr_t out = A_NORMAL;
  if (a & FRAME_BOLD) out |= A_BOLD;
  if (a & FRAME_REVERSE) out |= A_REVERSE;
  if (a & FRAME_DIM) out |= A_DIM;
  *pair = t->color ? (short)(a & FRAME_COLOR_MASK) : 0;
  /* without colour, the bad and the selected still stand out */
  if (!t->color && (a & FRAME_COLOR_MASK) == FRAME_RED) out |= A_BOLD;
  return out;
}

int term_draw(struct term *t, const struct frame *f) {
  bool full = t->last.w != f->w || t->last.h != f->h;
  if (full) {
    frame_free(&t->last);
    if (frame_init(&t->last, f->w, f->h) != 0) return 0;
    erase();
  }
  int written = 0;
  for (int y = 0; y < f->h && y < LINES; y++)
    for (int x = 0; x < f->w && x < COLS; x++) {
      const struct frame_cell *c = &f->cells[y * f->w + x];
      struct frame_cell *l = &t->last.cells[y * f->w + x];
      if (!full && l->ch == c->ch && l->attr == c->attr) continue;
      short pair;
      attr_t a = attrs_of(t, c->attr, &pair);
      wchar_t wc[2] = {(wchar_t)c->ch, 0};
      if (c->ch > 0x7f && wcwidth(wc[0]) != 1) wc[0] = L'?';
      cchar_t cc;
      setcchar(&cc, wc, a, pair, NULL);
      mvadd_wch(y, x, &cc);
      *l = *c;
      written++;
    }
  if (written) refresh();
  return written;
}

int term_key(struct term *t, int *x, int *y) {
  (void)t;
  wint_t wc;
  int rc = get_wch(&wc);
  if (rc == ERR) return -1;
  if (rc == KEY_CODE_YES) {
    switch (wc) {
    case KEY_UP:
      return DASH_KEY_UP;
    case KEY_DOWN:
      return DASH_KEY_DOWN;
    case KEY_LEFT:
      return DASH_KEY_LEFT;
    case KEY_RIGHT:
      return DASH_KEY_RIGHT;
    case KEY_PPAGE:
      return DASH_KEY_PGUP;
    case KEY_NPAGE:
      return DASH_KEY_PGDN;
    case KEY_ENTER:
      return DASH_KEY_ENTER;
    case KEY_BACKSPACE:
      return DASH_KEY_BACKSPACE;
    case KEY_BTAB:
      return DASH_KEY_BTAB;
    case KEY_RESIZE:
      return -1; /* dash.c handles SIGWINCH itself */
    case KEY_MOUSE: {
      MEVENT ev;
      if (getmouse(&ev) != OK) return -1;
      if (ev.bstate & BUTTON4_PRESSED) return DASH_KEY_WHEEL_UP;
#ifdef BUTTON5_PRESSED
      if (ev.bstate & BUTTON5_PRESSED) return DASH_KEY_WHEEL_DOWN;
#endif
      if (!(ev.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED))) return -1;
      *x = ev.x;
      *y = ev.y;
      return TERM_CLICK;
    }
    default:
      return -1;
    }
  }
  switch (wc) {
  case '\r':
  case '\n':
    return DASH_KEY_ENTER;
  case '\t':
    return DASH_KEY_TAB;
  case 27:
    return DASH_KEY_ESC;
  case 127:
  case 8:
    return DASH_KEY_BACKSPACE;
  default:
    return (int)wc;
  }
}
