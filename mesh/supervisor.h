/* Process supervision for the lab, in the manner of a kubelet: every replica's app and sidecar
 * is a child process, restarted with exponential backoff when it exits (0.5 s doubling to 10 s;
 * kubelet's 10 s to 5 min is too slow for a lesson), with exit codes and restart counts kept for
 * `meshlab status`. Output goes to one log file per process.
 *
 * Children are meshlab itself (apps and sidecars are subcommands). The supervisor passes its
 * pid in MESHLAB_PARENT_PID; on Linux the child then asks the kernel to end it when the
 * supervisor dies (PR_SET_PDEATHSIG), so a killed lab leaves no orphans.
 */
#ifndef MESH_SUPERVISOR_H
#define MESH_SUPERVISOR_H

#include <stdint.h>
#include <uv.h>

enum proc_state {
  PROC_STARTING, /* spawned, not yet reported ready */
  PROC_RUNNING,  /* ready */
  PROC_BACKOFF,  /* exited; waiting to restart */
  PROC_STOPPED,  /* stopped on purpose */
  PROC_FAILED    /* could not be spawned */
};

struct supervisor;
struct proc;

/* Called when a process changes state (for the journal and readiness tracking). */
typedef void (*proc_event_cb)(struct proc *p, void *data);

struct proc {
  struct supervisor *sup;
  struct proc *next;
  char name[96]; /* "reviews-v2-0/sidecar" */
  char **argv;   /* owned, NULL-terminated */
  char log_path[512];
  uv_process_t handle;
  uv_timer_t timer; /* restart backoff */
  enum proc_state state;
  int want_running;
  int alive;           /* the uv_process_t is active */
  uint32_t restarts;   /* restarts after an exit nobody asked for (crash, kill) */
  int restart_asked;   /* supervisor_restart: start again at once once it exits */
  int64_t last_exit;   /* exit status, or -signal */
  uint64_t started_ms; /* loop time of the last start */
  uint64_t backoff_ms;
  void *data; /* the owner's */
};

struct supervisor {
  uv_loop_t *loop;
  struct proc *procs;
  proc_event_cb on_event;
  void *data;
  int closing;
  int open_handles;
  uv_timer_t grace; /* SIGKILL for children still alive after the shutdown grace */
  int grace_open;
  void (*on_closed)(struct supervisor *s);
};

void supervisor_init(struct supervisor *s, uv_loop_t *loop, proc_event_cb on_event, void *data);
/* Registers a process (argv copied) logging to log_path; it starts with supervisor_start.
 * Returns it (owned by s) or NULL. */
struct proc *supervisor_add(struct supervisor *s, const char *name, char *const argv[], const char *log_path);
/* Starts p now (no backoff). Returns 0 or a negative libuv error (p is then FAILED). */
int supervisor_start(struct proc *p);
/* Sends sig to p (SIGKILL: the `meshlab kill` lesson; the supervisor restarts it). */
int supervisor_signal(struct proc *p, int sig);
/* Restarts p gracefully (`meshlab restart`): SIGTERM, and once it exited a start at once,
 * with no backoff and without counting a restart (it was asked for, not a crash). A process
 * not alive (backoff, stopped) starts now. Returns 0 or a negative libuv error. */
int supervisor_restart(struct proc *p);
/* Stops p for good (SIGTERM); no restart. */
void supervisor_stop(struct proc *p);
/* Stops everything (SIGTERM, then SIGKILL after grace_ms) and closes all handles; on_closed
 * fires when done. */
void supervisor_shutdown(struct supervisor *s, uint64_t grace_ms, void (*on_closed)(struct supervisor *s));
/* Frees memory after on_closed. */
void supervisor_free(struct supervisor *s);
/* "starting", "running", "backoff", "stopped", "failed". */
const char *proc_state_name(enum proc_state st);
/* Marks p ready (the owner saw its ready line or probe). */
void supervisor_ready(struct proc *p);

/* In a child: when MESHLAB_PARENT_PID is set, arrange to die with that parent. Call first in
 * main. Exits at once if the parent is already gone. */
void supervisor_child_init(void);

#endif
