/* Tests for mesh/supervisor.c with real child processes (sh, sleep): restart with backoff,
 * exit codes, stop, and shutdown that leaves no child behind and no handle open. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mesh/supervisor.h"
#include "support/test.h"

struct watch {
  int events;
  int starts;
  int closed;
};

static void on_event(struct proc *p, void *data) {
  struct watch *w = data;
  w->events++;
  if (p->state == PROC_STARTING) w->starts++;
}

static void on_closed(struct supervisor *s) { ((struct watch *)s->data)->closed = 1; }

static void run_for(uv_loop_t *loop, uint64_t ms) {
  uint64_t end = uv_now(loop) + ms;
  while (uv_now(loop) < end) {
    uv_run(loop, UV_RUN_NOWAIT);
    usleep(5000);
    uv_update_time(loop);
  }
}

static char log_path[256];

static void restarts_a_crashing_process_with_backoff(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct supervisor s;
  struct watch w = {0};
  supervisor_init(&s, &loop, on_event, &w);
  char *const argv[] = {"/bin/sh", "-c", "echo started; exit 7", NULL};
  struct proc *p = supervisor_add(&s, "crasher", argv, log_path);
  ASSERT_INT_EQ(supervisor_start(p), 0);
  /* Starts at 0, then after 0.5 s and 1 s more: three starts within ~1.8 s, not more. */
  run_for(&loop, 1800);
  EXPECT_INT_GE(w.starts, 3);
  EXPECT_INT_LE(w.starts, 4);
  EXPECT_INT_EQ(p->last_exit, 7);
  EXPECT_INT_GE(p->restarts, 2);
  supervisor_shutdown(&s, 1000, on_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT(w.closed);
  supervisor_free(&s);
  EXPECT_INT_EQ(uv_loop_close(&loop), 0);
}

static void kill_is_followed_by_a_restart_and_shutdown_ends_children(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct supervisor s;
  struct watch w = {0};
  supervisor_init(&s, &loop, on_event, &w);
  char *const argv[] = {"/bin/sleep", "30", NULL};
  struct proc *p = supervisor_add(&s, "sleeper", argv, log_path);
  ASSERT_INT_EQ(supervisor_start(p), 0);
  run_for(&loop, 100);
  int first = p->handle.pid;
  EXPECT_INT_EQ(supervisor_signal(p, SIGKILL), 0);
  run_for(&loop, 900);
  EXPECT_INT_EQ(p->last_exit, -SIGKILL);
  EXPECT_INT_EQ(p->restarts, 1);
  EXPECT(p->alive);
  int second = p->handle.pid;
  EXPECT(first != second);
  supervisor_shutdown(&s, 1000, on_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT(w.closed);
  EXPECT(kill(second, 0) != 0); /* gone */
  supervisor_free(&s);
  EXPECT_INT_EQ(uv_loop_close(&loop), 0);
}

static void shutdown_kills_children_that_ignore_sigterm(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct supervisor s;
  struct watch w = {0};
  supervisor_init(&s, &loop, on_event, &w);
  char *const argv[] = {"/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.1; done", NULL};
  struct proc *p = supervisor_add(&s, "stubborn", argv, log_path);
  ASSERT_INT_EQ(supervisor_start(p), 0);
  run_for(&loop, 100);
  uint64_t start = uv_hrtime();
  supervisor_shutdown(&s, 300, on_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT(w.closed);
  EXPECT_INT_EQ(p->last_exit, -SIGKILL);
  EXPECT_INT_LE((uv_hrtime() - start) / 1000000, 2000);
  supervisor_free(&s);
  EXPECT_INT_EQ(uv_loop_close(&loop), 0);
}

static void stop_means_no_restart(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct supervisor s;
  struct watch w = {0};
  supervisor_init(&s, &loop, on_event, &w);
  char *const argv[] = {"/bin/sleep", "30", NULL};
  struct proc *p = supervisor_add(&s, "stopped", argv, log_path);
  ASSERT_INT_EQ(supervisor_start(p), 0);
  run_for(&loop, 50);
  supervisor_stop(p);
  run_for(&loop, 800);
  EXPECT(!p->alive);
  EXPECT_INT_EQ(p->state, PROC_STOPPED);
  EXPECT_INT_EQ(p->restarts, 0);
  supervisor_shutdown(&s, 500, on_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  supervisor_free(&s);
  EXPECT_INT_EQ(uv_loop_close(&loop), 0);
}

/* `meshlab restart`: SIGTERM, then a new process at once (well within the 0.5 s backoff), not
 * counted as a restart; a restart of a process in backoff starts it now. */
static void restart_starts_again_at_once_without_counting(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct supervisor s;
  struct watch w = {0};
  supervisor_init(&s, &loop, on_event, &w);
  char *const argv[] = {"/bin/sleep", "30", NULL};
  struct proc *p = supervisor_add(&s, "restarted", argv, log_path);
  ASSERT_INT_EQ(supervisor_start(p), 0);
  run_for(&loop, 100);
  int first = p->handle.pid;
  EXPECT_INT_EQ(supervisor_restart(p), 0);
  run_for(&loop, 200);
  EXPECT(p->alive);
  EXPECT(p->handle.pid != first);
  EXPECT_INT_EQ(p->last_exit, -SIGTERM);
  EXPECT_INT_EQ(p->restarts, 0);
  EXPECT_INT_EQ(w.starts, 2);
  /* Killed: in backoff for 0.5 s; a restart asked then does not wait for it. */
  EXPECT_INT_EQ(supervisor_signal(p, SIGKILL), 0);
  run_for(&loop, 100);
  EXPECT_INT_EQ(p->state, PROC_BACKOFF);
  EXPECT_INT_EQ(supervisor_restart(p), 0);
  EXPECT(p->alive);
  run_for(&loop, 700);
  EXPECT_INT_EQ(w.starts, 3); /* the backoff timer did not start a second one */
  supervisor_shutdown(&s, 1000, on_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT(w.closed);
  supervisor_free(&s);
  EXPECT_INT_EQ(uv_loop_close(&loop), 0);
}

static void setup_log(void) {
  snprintf(log_path, sizeof log_path, "/tmp/meshlab-test-supervisor-%d.log", (int)getpid());
}

static void cleanup_log(void) { unlink(log_path); }

TEST_CASES(TEST(setup_log), TEST(restarts_a_crashing_process_with_backoff),
           TEST(kill_is_followed_by_a_restart_and_shutdown_ends_children),
           TEST(shutdown_kills_children_that_ignore_sigterm), TEST(stop_means_no_restart),
           TEST(restart_starts_again_at_once_without_counting), TEST(cleanup_log))
