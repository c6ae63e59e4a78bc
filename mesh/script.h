/* The Lua sandbox a lesson runs in: the only module that includes Lua (STYLE.md).
 *
 * A script is one Lua 5.4 state with only the safe libraries (base without dofile, loadfile,
 * load and collectgarbage; string without dump; table, math, utf8, coroutine; no io, os,
 * package or debug), a memory cap enforced by its allocator, and an instruction cap per slice
 * (the instructions run between two host calls, so a lesson that waits for minutes is fine
 * and `while true do end` is stopped). Chunks are loaded as text only: bytecode is refused.
 *
 * The lesson runs as a coroutine. Everything it asks of the outside world goes through one
 * door, the host's `call`: the Lua function `__host(op, args)` yields the coroutine with the
 * operation's name and its arguments converted to JSON; the host answers at once
 * (SCRIPT_DONE) or later (SCRIPT_PENDING, then script_resume from a libuv callback). So
 * `wait(3)` reads like blocking code while the event loop keeps running. Values cross the
 * boundary as JSON (jansson), so the host (mesh/lesson.c) sees no Lua type.
 *
 * Errors carry the lesson's file and line: a Lua error raised in the lesson has it already;
 * one raised by the host, by the memory cap or by the instruction cap is given the line of
 * the innermost frame of the lesson's own chunk.
 */
#ifndef MESH_SCRIPT_H
#define MESH_SCRIPT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct script;

struct script_limits {
  size_t memory_bytes;   /* the state's whole heap; 0: 64 MiB */
  uint64_t instructions; /* per slice between two host calls; 0: 200 million */
};

/* What a host call answers. */
enum script_reply {
  SCRIPT_DONE,    /* *result holds the answer (owned, may be NULL for nil) */
  SCRIPT_PENDING, /* the host calls script_resume later */
  SCRIPT_FAIL,    /* err holds a message; raised as a Lua error at the lesson's line */
};

/* How the script ended (script_host.finished). */
enum script_end {
  SCRIPT_END_OK,    /* the chunk returned */
  SCRIPT_END_ERROR, /* a Lua error, the memory or instruction cap; message has file:line */
  SCRIPT_END_HOST,  /* the host asked to stop (script_abort); message is its reason */
};

struct script_host {
  /* One operation of the lesson API. op and args are borrowed for the call. */
  enum script_reply (*call)(void *host, const char *op, json_t *args, json_t **result, char *err, size_t errlen);
  /* The lesson ended; message is borrowed, NULL when it ended well. Fires once. */
  void (*finished)(void *host, enum script_end how, const char *message);
  void *data;
};

/* A new state with the safe libraries and the host's door (`__host`), math.random seeded with
 * seed. host is borrowed and must outlive the script. Returns owned, or NULL without memory. */
struct script *script_new(const struct script_limits *limits, const struct script_host *host, uint64_t seed);
/* Closes the state. NULL is a no-op. Must not be called from inside a host call. */
void script_free(struct script *s);

/* Runs text (borrowed) as a library chunk in the shared globals: the lesson API written in
 * Lua (mesh/lesson_api.lua). Runs synchronously and must not call the host. Returns 0, or -1
 * with the message (file:line) in err. */
int script_library(struct script *s, const char *name, const char *text, size_t len, char *err, size_t errlen);

/* Compiles the lesson (text only, never bytecode) under chunk name `name` ("scenarios/03-canary.lua")
 * in an environment of its own (reads fall back to the globals) and starts it as a coroutine.
 * Returns 0 once it runs (finished fires later, or already fired if it ended without waiting),
 * or -1 with a syntax error (file:line) in err and nothing started. */
int script_start(struct script *s, const char *name, const char *text, size_t len, char *err, size_t errlen);

/* Answers the pending host call: result (taken, may be NULL) is what `__host` returns. */
void script_resume(struct script *s, json_t *result);
/* Answers the pending host call with an error raised at the lesson's line. */
void script_resume_error(struct script *s, const char *message);

/* Bytes the state holds now (tests). */
size_t script_memory(const struct script *s);

#endif
