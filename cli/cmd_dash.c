/* `meshlab dash` and `meshlab replay`: the live dashboard on a running lab, and the same
 * dashboard driven by a lab's journal (tui/dash.h; docs/dashboard.md). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/labcli.h"
#include "tui/dash.h"

void cmd_dash_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab dash [--record FILE.cast] [--no-mouse] [--lab-dir DIR]\n\n"
          "The live dashboard of the running lab: topology (services, calls, rates, success, p99),\n"
          "traffic split by version against configured weights, circuit breakers and outlier\n"
          "ejections per caller, and the live request log with each request's decision trace.\n"
          "Keys: ? help, tab next view, / filter, enter open a request's trace, q quit. The mouse\n"
          "selects tabs and requests and scrolls (--no-mouse leaves it to the terminal).\n"
          "--record writes an asciicast v2 recording (asciinema play FILE.cast replays it).\n"
          "Needs a terminal of at least 80x24; NO_COLOR turns colours off (glyphs stay).\n");
}

void cmd_replay_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab replay JOURNAL [--record FILE.cast] [--no-mouse]\n\n"
          "Drives the dashboard from a lab journal (<lab dir>/journal, or the lab folder itself)\n"
          "at the speed it was recorded: the mesh's rate, ejections with their countdowns,\n"
          "breaker overflows and every event. Keys: space play/pause, n next event, left/right\n"
          "10 s back/on, tab views, q quit.\n");
}

/* The common flags; journal is NULL for dash. */
static int parse(int argc, char **argv, const char **dir, const char **record, const char **journal, bool *no_mouse) {
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc;
    if (strcmp(argv[i], "--no-mouse") == 0) {
      *no_mouse = true;
    } else if ((rc = args_flag(argc, argv, &i, "lab-dir", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      *dir = v;
    } else if ((rc = args_flag(argc, argv, &i, "record", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      *record = v;
    } else if (journal && !*journal && argv[i][0] != '-') {
      *journal = argv[i];
    } else {
      return args_usage_error(argv[0], "unknown argument \"%s\"", argv[i]);
    }
  }
  return 0;
}

int cmd_dash(int argc, char **argv) {
  const char *dir = NULL, *record = NULL;
  bool no_mouse = false;
  int rc = parse(argc, argv, &dir, &record, NULL, &no_mouse);
  if (rc != 0) return rc;
  char labdir[4096];
  if ((rc = labcli_find(dir, labdir, sizeof labdir)) != 0) return rc;
  struct dash_options opt = {labdir, record, NULL, no_mouse};
  return dash_run(&opt);
}

int cmd_replay(int argc, char **argv) {
  const char *dir = NULL, *record = NULL, *journal = NULL;
  bool no_mouse = false;
  int rc = parse(argc, argv, &dir, &record, &journal, &no_mouse);
  if (rc != 0) return rc;
  if (!journal) return args_usage_error(argv[0], "JOURNAL expected: meshlab replay <lab dir>/journal");
  char path[4200];
  struct stat st;
  if (stat(journal, &st) == 0 && S_ISDIR(st.st_mode)) {
    snprintf(path, sizeof path, "%s/journal", journal);
    journal = path;
  }
  struct dash_options opt = {NULL, record, journal, no_mouse};
  return dash_run(&opt);
}
