/* The lab's state folder: how every lab command finds the running lab (../shared/CLI.md).
 *
 * Resolution order: --lab-dir DIR, else $MESHLAB_HOME, else $XDG_STATE_HOME/meshlab, else
 * ~/.local/state/meshlab. The folder holds `pid` (the supervisor), `api` (the lab API's
 * HOST:PORT), `journal` (the event journal) and one folder per replica with its logs, sockets
 * and files (`outbound`: the sidecar's outbound HOST:PORT, `admin`: its admin address):
 * `replicas/<replica>/` in the default namespace, `replicas/<replica>.<namespace>/` in the
 * others (istioctl's NAME.NAMESPACE), so same-named replicas of two namespaces never share one.
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
/* The folder of replica `replica` of namespace ns, relative to the state folder, into out:
 * "replicas/<replica>" for the default namespace (or ns NULL/""), "replicas/<replica>.<ns>"
 * otherwise. Returns 0 or -ENAMETOOLONG. */
int labdir_replica_rel(char *out, size_t n, const char *ns, const char *replica);
/* Finds the folder of the replica called `name` without asking the lab (commands that read
 * files only): "replicas/<name>" when it exists, else the one "replicas/<name>.<ns>". Writes
 * the relative path into out. Returns 0, -ENOENT, or -EEXIST when several namespaces hold it. */
int labdir_replica_find(const char *dir, const char *name, char *out, size_t n);
/* Joins dir and a relative path into out; returns 0 or -ENAMETOOLONG. */
int labdir_path(char *out, size_t n, const char *dir, const char *rel);

#endif
