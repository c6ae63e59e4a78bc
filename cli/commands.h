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
int cmd_sidecar(int argc, char **argv);
void cmd_sidecar_help(FILE *out);
int cmd_load(int argc, char **argv);
void cmd_load_help(FILE *out);
int cmd_demo(int argc, char **argv);
void cmd_demo_help(FILE *out);
int cmd_version(int argc, char **argv);

#endif
