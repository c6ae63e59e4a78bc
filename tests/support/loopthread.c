/* A loop on a background thread: see loopthread.h. */
#include "support/loopthread.h"

#include <stdio.h>
#include <string.h>

static void on_async(uv_async_t *a) {
  struct loop_thread *t = a->data;
  uv_mutex_lock(&t->mu);
  while (t->done_calls < t->calls) {
    void (*fn)(void *, void *) = t->fn;
    void *ctx = t->ctx, *arg = t->arg;
    uv_mutex_unlock(&t->mu);
    fn(ctx, arg);
    uv_mutex_lock(&t->mu);
    t->done_calls++;
    uv_cond_broadcast(&t->cond);
  }
  uv_mutex_unlock(&t->mu);
}

void loop_thread_init(struct loop_thread *t) {
  memset(t, 0, sizeof *t);
  uv_loop_init(&t->loop);
  uv_mutex_init(&t->mu);
  uv_cond_init(&t->cond);
  uv_async_init(&t->loop, &t->async, on_async);
  t->async.data = t;
}

static void loop_main(void *arg) {
  struct loop_thread *t = arg;
  uv_run(&t->loop, UV_RUN_DEFAULT);
}

void loop_thread_start(struct loop_thread *t) {
  t->running = 1;
  uv_thread_create(&t->thread, loop_main, t);
}

void loop_thread_call(struct loop_thread *t, void (*fn)(void *ctx, void *arg), void *ctx, void *arg) {
  if (!t->running) {
    fn(ctx, arg);
    return;
  }
  uv_mutex_lock(&t->mu);
  t->fn = fn;
  t->ctx = ctx;
  t->arg = arg;
  int want = ++t->calls;
  uv_async_send(&t->async);
  while (t->done_calls < want) uv_cond_wait(&t->cond, &t->mu);
  uv_mutex_unlock(&t->mu);
}

static void close_async(void *ctx, void *arg) {
  struct loop_thread *t = ctx;
  (void)arg;
  uv_close((uv_handle_t *)&t->async, NULL);
}

int loop_thread_join(struct loop_thread *t) {
  if (t->running) {
    /* The async handle goes last: it is how this thread talks to the loop. Not waited for:
     * the loop ends once it is closed. */
    uv_mutex_lock(&t->mu);
    t->fn = close_async;
    t->ctx = t;
    t->arg = NULL;
    t->calls++;
    uv_async_send(&t->async);
    uv_mutex_unlock(&t->mu);
    uv_thread_join(&t->thread);
  } else {
    uv_close((uv_handle_t *)&t->async, NULL);
    uv_run(&t->loop, UV_RUN_DEFAULT);
  }
  int rc = uv_loop_close(&t->loop);
  if (rc != 0) uv_print_all_handles(&t->loop, stderr);
  uv_mutex_destroy(&t->mu);
  uv_cond_destroy(&t->cond);
  return rc;
}
