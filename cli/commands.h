/* The subcommand table's entries: each command's run and help functions. */
#ifndef MESHLAB_COMMANDS_H
#define MESHLAB_COMMANDS_H

#include <stdio.h>

struct command {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv); /* argv[0] is the command name; returns the exit code */
  void (*help)(FILE *out);
};

int cmd_proxy(int argc, char **argv);
void cmd_proxy_help(FILE *out);
int cmd_load(int argc, char **argv);
void cmd_load_help(FILE *out);
int cmd_sidecar(int argc, char **argv);
void cmd_sidecar_help(FILE *out);
int cmd_proxy_config(int argc, char **argv);
void cmd_proxy_config_help(FILE *out);
int cmd_demo(int argc, char **argv);
void cmd_demo_help(FILE *out);
int cmd_app(int argc, char **argv);
void cmd_app_help(FILE *out);
int cmd_up(int argc, char **argv);
void cmd_up_help(FILE *out);
int cmd_down(int argc, char **argv);
void cmd_down_help(FILE *out);
int cmd_status(int argc, char **argv);
void cmd_status_help(FILE *out);
int cmd_proxy_status(int argc, char **argv);
void cmd_proxy_status_help(FILE *out);
int cmd_apply(int argc, char **argv);
void cmd_apply_help(FILE *out);
int cmd_get(int argc, char **argv);
void cmd_get_help(FILE *out);
int cmd_delete(int argc, char **argv);
void cmd_delete_help(FILE *out);
int cmd_analyze(int argc, char **argv);
void cmd_analyze_help(FILE *out);
int cmd_export(int argc, char **argv);
void cmd_export_help(FILE *out);
int cmd_chaos(int argc, char **argv);
void cmd_chaos_help(FILE *out);
int cmd_kill(int argc, char **argv);
void cmd_kill_help(FILE *out);
int cmd_restart(int argc, char **argv);
void cmd_restart_help(FILE *out);
int cmd_scale(int argc, char **argv);
void cmd_scale_help(FILE *out);
int cmd_logs(int argc, char **argv);
void cmd_logs_help(FILE *out);
int cmd_exec(int argc, char **argv);
void cmd_exec_help(FILE *out);
int cmd_top(int argc, char **argv);
void cmd_top_help(FILE *out);
int cmd_token(int argc, char **argv);
void cmd_token_help(FILE *out);
int cmd_why(int argc, char **argv);
void cmd_why_help(FILE *out);
int cmd_run(int argc, char **argv);
void cmd_run_help(FILE *out);
int cmd_tour(int argc, char **argv);
void cmd_tour_help(FILE *out);
int cmd_lessons(int argc, char **argv);
void cmd_lessons_help(FILE *out);
int cmd_dash(int argc, char **argv);
void cmd_dash_help(FILE *out);
int cmd_replay(int argc, char **argv);
void cmd_replay_help(FILE *out);
int cmd_version(int argc, char **argv);
void cmd_version_help(FILE *out);

#endif
