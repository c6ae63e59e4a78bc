/* lesson_text: the two pure parts of the lesson runner (lesson.h), both plain text and neither
 * needing a running lesson: the headless UI, which prints a lesson as TAP (`meshlab run
 * --headless`, the lesson tests), and the metadata read from a lesson's source without running
 * it (`meshlab lessons`, the dashboard's "step N of M"). The runner itself, its loop and the
 * operations of the lesson API, is lesson.c.
 */
#include "mesh/lesson.h"

#include <stdio.h>
#include <string.h>

/* ---- the headless UI: TAP ------------------------------------------------------------------------- */

static void tap_lines(FILE *out, const char *prefix, const char *text) {
  while (text && *text) {
    const char *nl = strchr(text, '\n');
    size_t n = nl ? (size_t)(nl - text) : strlen(text);
    fprintf(out, "%s%.*s\n", prefix, (int)n, text);
    text = nl ? nl + 1 : text + n;
  }
}

static void tap_lesson(struct lesson_ui *ui, const struct lesson_info *info) {
  FILE *out = ui->data;
  fprintf(out, "# lesson: %s (%s)\n", info->title, info->file);
  if (info->goal && *info->goal) tap_lines(out, "# goal: ", info->goal);
  fflush(out);
}

static void tap_step(struct lesson_ui *ui, int number, const char *title) {
  FILE *out = ui->data;
  fprintf(out, "# step %d: %s\n", number, title);
  fflush(out);
}

static void tap_say(struct lesson_ui *ui, const char *text) {
  FILE *out = ui->data;
  tap_lines(out, "#   ", text);
  fflush(out);
}

static void tap_expect(struct lesson_ui *ui, const struct lesson_expect *e) {
  FILE *out = ui->data;
  fprintf(out, "%s %d - %s\n", e->ok ? "ok" : "not ok", e->number, e->message);
  if (!e->ok) {
    fprintf(out, "#   failed expectation: %s\n", e->message);
    if (e->observed) tap_lines(out, "#   observed: ", e->observed);
    fprintf(out, "#   in step %d: %s (%s)\n", e->step, e->step_title, e->where);
  } else if (e->observed) {
    tap_lines(out, "#   observed: ", e->observed);
  }
  fflush(out);
}

static void tap_done(struct lesson_ui *ui, const struct lesson_result *r) {
  FILE *out = ui->data;
  int n = r->expectations;
  if (r->error) {
    fprintf(out, "not ok %d - the lesson stopped: %s\n", ++n,
            r->exit_code == LESSON_LAB_GONE      ? "the lab is gone"
            : r->exit_code == LESSON_INTERRUPTED ? "interrupted"
                                                 : "lesson error");
    tap_lines(out, "#   ", r->error);
  }
  fprintf(out, "1..%d\n", n);
  fflush(out);
}

void lesson_ui_tap(struct lesson_ui *ui, FILE *out) {
  *ui = (struct lesson_ui){tap_lesson, tap_step, tap_say, tap_expect, NULL, tap_done, out, false};
}

/* ---- metadata without running ---------------------------------------------------------------------- */

/* The string after the first `key = "` (or key=") outside a `--` comment, up to the closing quote. */
static void scan_field(const char *text, size_t len, const char *key, char *out, size_t n) {
  out[0] = '\0';
  size_t kl = strlen(key);
  for (size_t i = 0; i + kl < len; i++) {
    if (memcmp(text + i, key, kl) != 0 || (i && (text[i - 1] == '_' || (text[i - 1] >= 'a' && text[i - 1] <= 'z'))))
      continue;
    size_t ls = i;
    while (ls > 0 && text[ls - 1] != '\n') ls--;
    bool comment = false;
    for (size_t c = ls; c + 1 < i && !comment; c++) comment = text[c] == '-' && text[c + 1] == '-';
    if (comment) continue;
    size_t j = i + kl;
    while (j < len && text[j] == ' ') j++;
    if (j >= len || text[j] != '=') continue;
    j++;
    while (j < len && text[j] == ' ') j++;
    if (j >= len || (text[j] != '"' && text[j] != '\'')) continue;
    char q = text[j++];
    size_t k = 0;
    while (j < len && text[j] != q && text[j] != '\n' && k + 1 < n) out[k++] = text[j++];
    out[k] = '\0';
    return;
  }
}

void lesson_scan_meta(const char *text, size_t len, char *title, size_t tn, char *duration, size_t dn) {
  scan_field(text, len, "title", title, tn);
  scan_field(text, len, "duration", duration, dn);
}

int lesson_count_steps(const char *text, size_t len) {
  int n = 0;
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    while (p < eol && (*p == ' ' || *p == '\t')) p++;
    if ((size_t)(eol - p) >= 5 && memcmp(p, "step(", 5) == 0) n++;
    p = eol + 1;
  }
  return n;
}
