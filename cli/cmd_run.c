/* `meshlab run LESSON`, `meshlab tour`, `meshlab lessons`: the Lua lessons (scenarios/).
 *
 * run finds the lesson (a path on disk, else an embedded lesson by number or name), uses the
 * lab running in the state folder or starts one the way `meshlab up --detach` does (the same
 * code path, cmd_up, with --seed and the address flags passed through), runs the lesson on a
 * libuv loop (mesh/lesson.h) and stops the lab at the end only if it started it. Headless
 * output is TAP (../shared/CLI.md); exit 0 passed, 1 an expectation failed, 2 the lesson has
 * an error, 3 the lab could not start or died.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/labcli.h"
#include "cli/run_dash.h"
#include "mesh/labdir.h"
#include "mesh/lesson.h"
#include "scenarios/lessons.h"

void cmd_run_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab run LESSON [--headless] [--record FILE.cast] [--seed N] [--lab-dir DIR] [lab flags]\n\n"
          "Runs a lesson: LESSON is a path to a .lua file, or an embedded lesson's number or name\n"
          "(meshlab lessons lists them: `meshlab run 3`, `meshlab run canary`). Uses the lab running\n"
          "in the state folder, or starts one (the built-in Bookinfo) and stops it at the end.\n"
          "In a terminal the lesson runs inside the live dashboard (its pane shows the step, the\n"
          "narration and the last check; space or n continues a pause(); q ends the lesson, then\n"
          "quits). Headless output is TAP: `ok N - text`, `not ok N - text`, `# ...`, then `1..N`.\n"
          "Exit: 0 passed, 1 an expectation failed, 2 the lesson has an error, 3 no lab.\n\n"
          "Flags:\n"
          "  --headless              no dashboard: TAP on stdout, pause() does not wait\n"
          "  --record FILE.cast      record the dashboard as asciicast v2 (asciinema play replays it)\n"
          "  --seed N                seeds the lesson's math.random and a lab it starts\n"
          "  --lab-dir DIR           state folder (as every lab command)\n"
          "  --addresses CIDR, --ingress HOST:PORT, --ingress-tls HOST:PORT, --wait D\n"
          "                          passed to the lab it starts (meshlab up)\n");
}

void cmd_tour_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab tour [--headless] [--record FILE.cast] [--seed N] [--lab-dir DIR] [lab flags]\n\n"
          "Runs every embedded lesson in order on one lab (started if none runs, stopped at the end).\n"
          "Flags as for meshlab run. Exit: the worst of the lessons' exit codes.\n");
}

void cmd_lessons_help(FILE *out) {
  fprintf(out, "Usage: meshlab lessons\n\nLists the embedded lessons: number, name, title, duration.\n");
}

int cmd_lessons(int argc, char **argv) {
  if (argc > 1) return args_usage_error(argv[0], "takes no arguments");
  size_t n;
  const struct lesson_entry *all = lessons_all(&n);
  printf("%-3s %-22s %-55s %s\n", "#", "NAME", "TITLE", "DURATION");
  for (size_t i = 0; i < n; i++) {
    char title[256], duration[64];
    lesson_scan_meta(all[i].text, all[i].len, title, sizeof title, duration, sizeof duration);
    printf("%-3d %-22s %-55s %s\n", all[i].number, all[i].name, title, duration);
  }
  printf("\nRun one: meshlab run NUMBER|NAME [--headless]; all in order: meshlab tour\n");
  return 0;
}

/* ---- finding a lesson ---------------------------------------------------------------------------- */

struct lesson_src {
  char file[1024];
  char *owned; /* text read from disk */
  const char *text;
  size_t len;
};

static int find_lesson(const char *arg, struct lesson_src *src) {
  memset(src, 0, sizeof *src);
  size_t n;
  const struct lesson_entry *all = lessons_all(&n);
  bool pathlike = strchr(arg, '/') || (strlen(arg) > 4 && strcmp(arg + strlen(arg) - 4, ".lua") == 0);
  if (pathlike || access(arg, R_OK) == 0) {
    FILE *f = fopen(arg, "rb");
    if (!f) {
      fprintf(stderr, "meshlab run: cannot read %s: %s\n", arg, strerror(errno));
      return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
      len += got;
      if (len == cap) {
        char *b = realloc(buf, cap *= 2);
        if (!b) {
          free(buf);
          buf = NULL;
        }
        buf = b;
      }
    }
    fclose(f);
    if (!buf) return -1;
    src->owned = buf;
    src->text = buf;
    src->len = len;
    snprintf(src->file, sizeof src->file, "%s", arg);
    return 0;
  }
  char *end;
  long num = strtol(arg, &end, 10);
  for (size_t i = 0; i < n; i++) {
    char full[256];
    snprintf(full, sizeof full, "%02d-%s", all[i].number, all[i].name);
    if ((!*end && *arg && num == all[i].number) || strcmp(arg, all[i].name) == 0 || strcmp(arg, full) == 0) {
      snprintf(src->file, sizeof src->file, "%s", all[i].file);
      src->text = all[i].text;
      src->len = all[i].len;
      return 0;
    }
  }
  fprintf(stderr, "meshlab run: no lesson \"%s\" (a path to a .lua file, or a number or name from: meshlab lessons)\n",
          arg);
  return -1;
}

/* ---- the lab ------------------------------------------------------------------------------------ */

struct run_flags {
  const char *lesson, *dirflag, *seed, *addresses, *ingress, *ingress_tls, *wait, *record;
  bool headless;
};

static int parse_flags(int argc, char **argv, struct run_flags *f, bool want_lesson) {
  memset(f, 0, sizeof *f);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--headless") == 0) {
      f->headless = true;
      continue;
    }
    static const struct args_string_flag table[] = {{"lab-dir", offsetof(struct run_flags, dirflag)},
                                                    {"seed", offsetof(struct run_flags, seed)},
                                                    {"addresses", offsetof(struct run_flags, addresses)},
                                                    {"ingress", offsetof(struct run_flags, ingress)},
                                                    {"ingress-tls", offsetof(struct run_flags, ingress_tls)},
                                                    {"wait", offsetof(struct run_flags, wait)},
                                                    {"record", offsetof(struct run_flags, record)}};
    int rc = args_string_flags(argc, argv, &i, table, sizeof table / sizeof table[0], f);
    if (rc < 0) return 2;
    if (rc > 0) continue;
    if (argv[i][0] == '-' && argv[i][1]) return args_usage_error(argv[0], "unknown flag \"%s\"", argv[i]);
    if (!want_lesson || f->lesson) return args_usage_error(argv[0], "unexpected argument \"%s\"", argv[i]);
    f->lesson = argv[i];
  }
  if (want_lesson && !f->lesson) return args_usage_error(argv[0], "which lesson? meshlab run NUMBER|NAME|FILE.lua");
  if (f->seed) {
    char *end;
    strtoull(f->seed, &end, 10);
    if (*end || !*f->seed) return args_usage_error(argv[0], "--seed \"%s\" is not a whole number", f->seed);
  }
  return 0;
}

/* Runs fn with stdout pointed at stderr, so `up`'s and `down`'s lines stay out of the TAP. */
static int quietly(int (*fn)(int, char **), int argc, char **argv) {
  fflush(stdout);
  int saved = dup(1);
  dup2(2, 1);
  int rc = fn(argc, argv);
  fflush(stdout);
  if (saved >= 0) {
    dup2(saved, 1);
    close(saved);
  }
  return rc;
}

/* Uses the running lab in dir, or starts one; *started says which. Returns 0 or 3. */
static int ensure_lab(const struct run_flags *f, const char *dir, bool *started) {
  *started = false;
  if (labcli_pid(dir)) return 0;
  char *av[20];
  int ac = 0;
  av[ac++] = "up";
  av[ac++] = "--detach";
  av[ac++] = "--lab-dir";
  av[ac++] = (char *)dir;
  av[ac++] = "--wait";
  av[ac++] = (char *)(f->wait ? f->wait : "30s");
  if (f->seed) av[ac++] = "--seed", av[ac++] = (char *)f->seed;
  if (f->addresses) av[ac++] = "--addresses", av[ac++] = (char *)f->addresses;
  if (f->ingress) av[ac++] = "--ingress", av[ac++] = (char *)f->ingress;
  if (f->ingress_tls) av[ac++] = "--ingress-tls", av[ac++] = (char *)f->ingress_tls;
  av[ac] = NULL;
  printf("# starting a lab in %s (meshlab up --detach)\n", dir);
  fflush(stdout);
  if (quietly(cmd_up, ac, av) != 0) {
    printf("Bail out! the lab could not start (see above; its log: %s/lab.log)\n", dir);
    return LESSON_LAB_GONE;
  }
  *started = true;
  return 0;
}

static void stop_lab(const char *dir) {
  char *av[] = {"down", "--lab-dir", (char *)dir, NULL};
  quietly(cmd_down, 3, av);
}

/* Runs one lesson: with the dashboard around it when interactive and a terminal is there,
 * else headless (TAP on stdout). */
static enum lesson_exit run_one(const char *dir, const struct lesson_src *src, uint64_t seed, const struct run_flags *f,
                                bool more) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct lesson_ui tap;
  lesson_ui_tap(&tap, stdout);
  struct lesson_ui *ui = &tap;
  static struct run_dash rd; /* large; one at a time */
  if (!f->headless) {
    if (run_dash_open(&rd, &loop, dir, f->record) == 0) {
      ui = &rd.ui;
      rd.steps = lesson_count_steps(src->text, src->len);
      rd.more = more;
    } else fprintf(stderr, "meshlab run: no terminal for the dashboard; running headless (TAP)\n");
  }
  struct lesson_opts o = {dir, src->file, src->text, src->len, seed};
  enum lesson_exit rc = lesson_run(&loop, &o, ui);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) fprintf(stderr, "meshlab run: a handle was left open\n");
  if (ui != &tap) {
    /* The dashboard had the terminal: say the result where it stays. */
    printf("%s: %s\n", src->file,
           rc == LESSON_PASSED        ? "passed"
           : rc == LESSON_FAILED      ? "an expectation failed"
           : rc == LESSON_INTERRUPTED ? "interrupted"
                                      : "the lesson stopped (see above)");
  }
  return rc;
}

int cmd_run(int argc, char **argv) {
  struct run_flags f;
  int rc = parse_flags(argc, argv, &f, true);
  if (rc) return rc;
  struct lesson_src src;
  if (find_lesson(f.lesson, &src) != 0) return 2;
  char dir[4096];
  if (labdir_resolve(f.dirflag, dir, sizeof dir) != 0) {
    free(src.owned);
    return args_usage_error(argv[0], "no state folder: pass --lab-dir or set MESHLAB_HOME");
  }
  bool started;
  if ((rc = ensure_lab(&f, dir, &started)) != 0) {
    free(src.owned);
    return rc;
  }
  enum lesson_exit code = run_one(dir, &src, f.seed ? strtoull(f.seed, NULL, 10) : 1, &f, false);
  if (started) stop_lab(dir);
  free(src.owned);
  return (int)code;
}

int cmd_tour(int argc, char **argv) {
  struct run_flags f;
  int rc = parse_flags(argc, argv, &f, false);
  if (rc) return rc;
  char dir[4096];
  if (labdir_resolve(f.dirflag, dir, sizeof dir) != 0)
    return args_usage_error(argv[0], "no state folder: pass --lab-dir or set MESHLAB_HOME");
  bool started;
  if ((rc = ensure_lab(&f, dir, &started)) != 0) return rc;
  size_t n;
  const struct lesson_entry *all = lessons_all(&n);
  int worst = 0;
  for (size_t i = 0; i < n; i++) {
    printf("# ==== lesson %d: %s ====\n", all[i].number, all[i].name);
    struct lesson_src src = {.text = all[i].text, .len = all[i].len};
    snprintf(src.file, sizeof src.file, "%s", all[i].file);
    int code = (int)run_one(dir, &src, f.seed ? strtoull(f.seed, NULL, 10) : 1, &f, i + 1 < n);
    if (code > worst) worst = code;
    if (code == LESSON_LAB_GONE || code == LESSON_INTERRUPTED) break;
  }
  if (started) stop_lab(dir);
  return worst;
}
