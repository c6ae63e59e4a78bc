/* A libuv loop on a background thread, for tests that drive in-process servers with blocking
 * clients from the main thread. Work that touches loop state runs on the loop thread through
 * loop_thread_call; loop_thread_join closes the call channel last and reports whether the loop
 * then closed with every handle closed. */
#ifndef TEST_LOOPTHREAD_H
#define TEST_LOOPTHREAD_H

#include <uv.h>

struct loop_thread {
  uv_loop_t loop;
  uv_thread_t thread;
  uv_async_t async;
  uv_mutex_t mu;
  uv_cond_t cond;
  void (*fn)(void *ctx, void *arg);
  void *ctx, *arg;
  int calls, done_calls;
  int running;
};

/* Sets up the loop and the call channel; the thread starts with loop_thread_start. */
void loop_thread_init(struct loop_thread *t);
void loop_thread_start(struct loop_thread *t);
/* Runs fn(ctx, arg) on the loop thread (or here, before the thread started) and waits for it. */
void loop_thread_call(struct loop_thread *t, void (*fn)(void *ctx, void *arg), void *ctx, void *arg);
/* Closes the call channel, joins the thread (or runs the loop to its end here when it never
 * started) and closes the loop; returns uv_loop_close's result (0 = every handle closed). */
int loop_thread_join(struct loop_thread *t);

#endif
