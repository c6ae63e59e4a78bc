/* The lab's state folder: how every lab command finds the running lab (../shared/CLI.md).
 *
 * Resolution order: --lab-dir DIR, else $MESHLAB_HOME, else $XDG_STATE_HOME/meshlab, else
 * ~/.local/state/meshlab. The folder holds `pid` (the supervisor), `api` (the lab API's
 * HOST:PORT), `journal` (the event journal) and `replicas/<name>/` with each replica's logs,
 * sockets and files (`outbound`: the sidecar's outbound HOST:PORT, `admin`: its admin address).
 */
#ifndef MESH_LABDIR_H
#define MESH_LABDIR_H

#include <stddef.h>
#include <sys/types.h>

/* The message and exit code every lab command uses when no lab runs. */
#define LABDIR_NO_LAB "no lab is running (start one with: meshlab up)"
#define LABDIR_EXIT_NO_LAB 3

/* Resolves the state folder into out (n bytes): flag (may be NULL), then the environment.
 * Returns 0, or -ENOENT when no rule gives a folder (no HOME). */
int labdir_resolve(const char *flag, char *out, size_t n);
/* Creates dir (and parents) with mode 0700 if missing. Returns 0 or -errno. */
int labdir_make(const char *dir);
/* Reads the supervisor's pid from dir/pid; returns it when that process is alive, else 0. */
pid_t labdir_running(const char *dir);
/* Writes text to dir/name atomically (write to a temporary, rename). Returns 0 or -errno. */
int labdir_write(const char *dir, const char *name, const char *text);
/* Reads dir/name into out (n bytes, NUL-terminated, trailing newline stripped). Returns 0 or
 * -errno. */
int labdir_read(const char *dir, const char *name, char *out, size_t n);
/* Joins dir and a relative path into out; returns 0 or -ENAMETOOLONG. */
int labdir_path(char *out, size_t n, const char *dir, const char *rel);

#endif
