/* How the CLI's lab commands reach a running lab: find its state folder (labdir.h), check
 * its process is alive, and call the lab API over HTTP on loopback, synchronously. Used by
 * cmd_lab.c (up, down, status, apply ...) and cmd_control.c (chaos, kill, restart, scale,
 * logs, exec).
 */
#ifndef MESHLAB_LABCLI_H
#define MESHLAB_LABCLI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mesh/buf.h"

/* The lab's pid from the state folder dir, or 0 when none runs (a zombie counts as gone). */
pid_t labcli_pid(const char *dir);
/* Resolves the state folder (--lab-dir flag, may be NULL) into dir; prints CLI.md's message
 * and returns 3 when no lab runs there, else 0. */
int labcli_find(const char *flag, char *dir, size_t n);

/* An answer of the lab API. body is owned (buf_free). */
struct labcli_reply {
  int status; /* HTTP status, or a negative error */
  struct buf body;
  int exit_code;      /* x-meshlab-exit, -1 when absent */
  long stdout_length; /* x-meshlab-stdout-length, -1 when absent */
};

/* One request to the lab API, synchronously (a private loop). headers are "name: value\r\n"
 * lines or NULL; body is borrowed. Returns 0 with *rep filled (rep->status may be any HTTP
 * status), or a negative error. */
int labcli_call(const char *dir, const char *method, const char *target, const char *headers, const char *body,
                size_t len, uint64_t timeout_ms, struct labcli_reply *rep);
/* Prints a console answer (its stdout part, then its stderr part), frees the body and returns
 * the command's exit code. */
int labcli_print_console(const char *cmd, struct labcli_reply *rep);
/* Prints "cannot reach the lab API" for cmd and returns 1. */
int labcli_failed(const char *cmd, int rc);
/* Appends "?key=value" (or "&key=value") to b, percent-encoding s. */
void labcli_query_add(struct buf *b, const char *key, const char *s);

#endif
