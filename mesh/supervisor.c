/* Process supervision: see supervisor.h. */
#include "mesh/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define BACKOFF_START_MS 500
#define BACKOFF_MAX_MS 10000
/* A process that ran this long before exiting restarts without accumulated backoff. */
#define BACKOFF_RESET_MS 10000

extern char **environ;

const char *proc_state_name(enum proc_state st) {
  switch (st) {
  case PROC_STARTING:
    return "starting";
  case PROC_RUNNING:
    return "running";
  case PROC_BACKOFF:
    return "backoff";
  case PROC_STOPPED:
    return "stopped";
  case PROC_FAILED:
    return "failed";
  }
  return "unknown";
}

void supervisor_child_init(void) {
  const char *v = getenv("MESHLAB_PARENT_PID");
  if (!v || !*v) return;
  pid_t parent = (pid_t)strtol(v, NULL, 10);
#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
  /* The parent may have died before prctl took effect. */
  if (getppid() != parent) _exit(1);
}

void supervisor_init(struct supervisor *s, uv_loop_t *loop, proc_event_cb on_event, void *data) {
  memset(s, 0, sizeof *s);
  s->loop = loop;
  s->on_event = on_event;
  s->data = data;
}

static void event(struct proc *p) {
  if (p->sup->on_event) p->sup->on_event(p, p->sup->data);
}

struct proc *supervisor_add(struct supervisor *s, const char *name, char *const argv[], const char *log_path) {
  struct proc *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  size_t n = 0;
  while (argv[n]) n++;
  p->argv = calloc(n + 1, sizeof *p->argv);
  for (size_t i = 0; i < n; i++) p->argv[i] = strdup(argv[i]);
  snprintf(p->name, sizeof p->name, "%s", name);
  snprintf(p->log_path, sizeof p->log_path, "%s", log_path);
  p->sup = s;
  p->state = PROC_STOPPED;
  p->backoff_ms = BACKOFF_START_MS;
  uv_timer_init(s->loop, &p->timer);
  p->timer.data = p;
  s->open_handles++;
  p->next = s->procs;
  s->procs = p;
  return p;
}

static void handle_closed(struct supervisor *s) {
  if (--s->open_handles == 0 && s->closing && s->on_closed) s->on_closed(s);
}

static void on_handle_closed(uv_handle_t *h) {
  struct proc *p = h->data;
  handle_closed(p->sup);
}

static void on_grace_closed(uv_handle_t *h) { handle_closed(h->data); }

/* While shutting down: once no child is alive, the grace timer has nothing left to do. */
static void maybe_close_grace(struct supervisor *s) {
  if (!s->closing || !s->grace_open) return;
  for (struct proc *p = s->procs; p; p = p->next)
    if (p->alive) return;
  s->grace_open = 0;
  uv_close((uv_handle_t *)&s->grace, on_grace_closed);
}

static void on_restart(uv_timer_t *t);

static void on_exit_cb(uv_process_t *h, int64_t status, int term_signal) {
  struct proc *p = h->data;
  struct supervisor *s = p->sup;
  p->alive = 0;
  p->last_exit = term_signal ? -term_signal : status;
  uv_close((uv_handle_t *)h, on_handle_closed);
  if (!p->want_running || s->closing) {
    p->state = PROC_STOPPED;
    event(p);
    maybe_close_grace(s);
    return;
  }
  if (p->restart_asked) {
    /* A restart someone asked for: no backoff. The timer (not a spawn from here) because the
     * process handle is still closing. */
    p->state = PROC_BACKOFF;
    event(p);
    uv_timer_start(&p->timer, on_restart, 0, 0);
    return;
  }
  uint64_t ran = uv_now(s->loop) - p->started_ms;
  if (ran >= BACKOFF_RESET_MS) p->backoff_ms = BACKOFF_START_MS;
  p->state = PROC_BACKOFF;
  event(p);
  uv_timer_start(&p->timer, on_restart, p->backoff_ms, 0);
  p->backoff_ms = p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
}

static int spawn(struct proc *p) {
  struct supervisor *s = p->sup;
  int fd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) return -errno;
  /* Environment: ours plus MESHLAB_PARENT_PID. */
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 2, sizeof *env);
  char parent[48];
  snprintf(parent, sizeof parent, "MESHLAB_PARENT_PID=%d", (int)getpid());
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "MESHLAB_PARENT_PID=", 19) != 0) env[k++] = environ[i];
  env[k++] = parent;
  env[k] = NULL;
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = fd;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = fd;
  uv_process_options_t opts;
  memset(&opts, 0, sizeof opts);
  opts.file = p->argv[0];
  opts.args = p->argv;
  opts.env = env;
  opts.stdio = stdio;
  opts.stdio_count = 3;
  opts.exit_cb = on_exit_cb;
  p->handle.data = p;
  int rc = uv_spawn(s->loop, &p->handle, &opts);
  close(fd);
  free(env);
  if (rc != 0) {
    /* uv_spawn leaves a handle to close even on failure. */
    uv_close((uv_handle_t *)&p->handle, on_handle_closed);
    s->open_handles++;
    return rc;
  }
  s->open_handles++;
  p->alive = 1;
  p->started_ms = uv_now(s->loop);
  p->state = PROC_STARTING;
  event(p);
  return 0;
}

static void on_restart(uv_timer_t *t) {
  struct proc *p = t->data;
  if (!p->want_running || p->sup->closing || p->alive) return;
  if (p->restart_asked) p->restart_asked = 0;
  else p->restarts++;
  if (spawn(p) != 0) {
    p->state = PROC_FAILED;
    event(p);
  }
}

int supervisor_start(struct proc *p) {
  p->want_running = 1;
  if (p->alive) return 0;
  int rc = spawn(p);
  if (rc != 0) {
    p->state = PROC_FAILED;
    event(p);
  }
  return rc;
}

void supervisor_ready(struct proc *p) {
  if (p->alive && p->state == PROC_STARTING) {
    p->state = PROC_RUNNING;
    event(p);
  }
}

int supervisor_signal(struct proc *p, int sig) {
  if (!p->alive) return UV_ESRCH;
  return uv_process_kill(&p->handle, sig);
}

int supervisor_restart(struct proc *p) {
  if (p->sup->closing) return UV_ECANCELED;
  p->want_running = 1;
  if (!p->alive) {
    uv_timer_stop(&p->timer);
    p->restart_asked = 0;
    int rc = spawn(p);
    if (rc != 0) {
      p->state = PROC_FAILED;
      event(p);
    }
    return rc;
  }
  p->restart_asked = 1;
  return uv_process_kill(&p->handle, SIGTERM);
}

void supervisor_stop(struct proc *p) {
  p->want_running = 0;
  p->restart_asked = 0;
  uv_timer_stop(&p->timer);
  if (p->alive) uv_process_kill(&p->handle, SIGTERM);
  else p->state = PROC_STOPPED;
}

static void on_grace_over(uv_timer_t *t) {
  struct supervisor *s = t->data;
  for (struct proc *p = s->procs; p; p = p->next)
    if (p->alive) uv_process_kill(&p->handle, SIGKILL);
}

void supervisor_shutdown(struct supervisor *s, uint64_t grace_ms, void (*on_closed)(struct supervisor *s)) {
  if (s->closing) return;
  s->closing = 1;
  s->on_closed = on_closed;
  uv_timer_init(s->loop, &s->grace);
  s->grace.data = s;
  s->grace_open = 1;
  s->open_handles++;
  uv_timer_start(&s->grace, on_grace_over, grace_ms, 0);
  for (struct proc *p = s->procs; p; p = p->next) {
    p->want_running = 0;
    uv_timer_stop(&p->timer);
    if (p->alive) uv_process_kill(&p->handle, SIGTERM);
    uv_close((uv_handle_t *)&p->timer, on_handle_closed);
  }
  maybe_close_grace(s);
}

void supervisor_free(struct supervisor *s) {
  struct proc *p = s->procs;
  while (p) {
    struct proc *next = p->next;
    for (char **a = p->argv; a && *a; a++) free(*a);
    free(p->argv);
    free(p);
    p = next;
  }
  s->procs = NULL;
}
