/* The Lua sandbox: see script.h. The only file that includes Lua.
 *
 * Why each piece:
 * - The allocator counts every byte of the state and refuses growth past the cap, so a runaway
 *   table ends in Lua's own "not enough memory" error instead of the machine swapping.
 * - A count hook every SCRIPT_HOOK_EVERY instructions adds up the slice; past the cap it raises
 *   an error (allowed from a count hook), which stops `while true do end` within a fraction of
 *   a second. The counter restarts at every resume: waiting costs nothing.
 * - Libraries are opened one by one with luaL_requiref (never luaL_openlibs), then the unsafe
 *   entries of base and string are removed: load/loadfile/dofile (code from strings and files,
 *   bytecode included), collectgarbage (the collector's knobs), string.dump (bytecode out).
 * - The lesson chunk gets its own _ENV table whose reads fall back to the globals, so a lesson
 *   that assigns `step = 1` breaks only itself.
 */
#include "mesh/script.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SCRIPT_HOOK_EVERY = 1000, SCRIPT_MAX_DEPTH = 64 };

struct script {
  lua_State *L;
  lua_State *co; /* the lesson's coroutine, while it runs */
  int co_ref;    /* registry reference keeping co alive */
  const struct script_host *host;
  size_t used, limit;
  uint64_t count, max_count;
  char name[256]; /* the lesson's chunk name, for locating errors */
  int running;    /* inside lua_resume */
  int finished;
};

/* ---- limits ----------------------------------------------------------------------------------- */

static void *script_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  struct script *s = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    s->used -= old;
    return NULL;
  }
  if (nsize > old && s->used - old + nsize > s->limit) return NULL;
  void *p = realloc(ptr, nsize);
  if (!p) return NULL;
  s->used = s->used - old + nsize;
  return p;
}

static void script_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  struct script *s;
  lua_getallocf(L, (void **)&s);
  s->count += SCRIPT_HOOK_EVERY;
  if (s->count > s->max_count) {
    char msg[200];
    snprintf(msg, sizeof msg,
             "instruction limit reached (%llu instructions without waiting): an endless loop? "
             "Call wait() inside long loops",
             (unsigned long long)s->max_count);
    luaL_error(L, "%s", msg);
  }
}

/* ---- JSON <-> Lua --------------------------------------------------------------------------- */

static void push_json(lua_State *L, json_t *v, int depth) {
  if (!v || depth > SCRIPT_MAX_DEPTH) {
    lua_pushnil(L);
    return;
  }
  luaL_checkstack(L, 4, "JSON too deep");
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    lua_createtable(L, 0, (int)json_object_size(v));
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
      if (json_is_null(x)) continue;
      push_json(L, x, depth + 1);
      lua_setfield(L, -2, k);
    }
    return;
  }
  case JSON_ARRAY: {
    lua_createtable(L, (int)json_array_size(v), 0);
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      push_json(L, x, depth + 1);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return;
  }
  case JSON_STRING:
    lua_pushlstring(L, json_string_value(v), json_string_length(v));
    return;
  case JSON_INTEGER:
    lua_pushinteger(L, (lua_Integer)json_integer_value(v));
    return;
  case JSON_REAL:
    lua_pushnumber(L, json_real_value(v));
    return;
  case JSON_TRUE:
    lua_pushboolean(L, 1);
    return;
  case JSON_FALSE:
    lua_pushboolean(L, 0);
    return;
  case JSON_NULL:
    lua_pushnil(L);
    return;
  }
  lua_pushnil(L);
}

/* A table is an array when its keys are exactly 1..n (n > 0); an empty table is an object. */
static size_t array_length(lua_State *L, int idx) {
  size_t n = 0, max = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
      lua_pop(L, 1);
      return 0;
    }
    size_t k = (size_t)lua_tointeger(L, -1);
    if (k > max) max = k;
    n++;
  }
  return n == max ? n : 0;
}

/* The value at idx as JSON; NULL with err filled for a function, userdata or a deep table. */
static json_t *to_json(lua_State *L, int idx, int depth, char *err, size_t errlen) {
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    return json_null();
  case LUA_TBOOLEAN:
    return json_boolean(lua_toboolean(L, idx));
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) return json_integer((json_int_t)lua_tointeger(L, idx));
    return json_real(lua_tonumber(L, idx));
  case LUA_TSTRING: {
    size_t n;
    const char *p = lua_tolstring(L, idx, &n);
    return json_stringn_nocheck(p, n);
  }
  case LUA_TTABLE: {
    if (depth > SCRIPT_MAX_DEPTH) {
      snprintf(err, errlen, "table nested deeper than %d levels (a cycle?)", SCRIPT_MAX_DEPTH);
      return NULL;
    }
    luaL_checkstack(L, 4, "table too deep");
    size_t n = array_length(L, idx);
    if (n) {
      json_t *a = json_array();
      for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i);
        json_t *x = to_json(L, -1, depth + 1, err, errlen);
        lua_pop(L, 1);
        if (!x) {
          json_decref(a);
          return NULL;
        }
        json_array_append_new(a, x);
      }
      return a;
    }
    json_t *o = json_object();
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
      char key[64];
      const char *k;
      if (lua_type(L, -2) == LUA_TSTRING) {
        k = lua_tostring(L, -2);
      } else if (lua_isinteger(L, -2)) {
        snprintf(key, sizeof key, "%lld", (long long)lua_tointeger(L, -2));
        k = key;
      } else {
        snprintf(err, errlen, "a table key of type %s cannot become a field name", luaL_typename(L, -2));
        lua_pop(L, 2);
        json_decref(o);
        return NULL;
      }
      json_t *x = to_json(L, -1, depth + 1, err, errlen);
      lua_pop(L, 1);
      if (!x) {
        lua_pop(L, 1);
        json_decref(o);
        return NULL;
      }
      json_object_set_new(o, k, x);
    }
    return o;
  }
  default:
    snprintf(err, errlen, "a %s cannot be passed to the lab", luaL_typename(L, idx));
    return NULL;
  }
}

/* ---- errors with the lesson's line ------------------------------------------------------------ */

/* "name:line: " of the innermost frame of L's stack running the lesson's chunk, or "". */
static void lesson_where(struct script *s, lua_State *L, char *out, size_t n) {
  lua_Debug ar;
  out[0] = '\0';
  for (int level = 0; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Sl", &ar)) continue;
    if (ar.currentline > 0 && strcmp(ar.short_src, s->name) == 0) {
      snprintf(out, n, "%s:%d: ", s->name, ar.currentline);
      return;
    }
  }
}

/* ---- the host's door ---------------------------------------------------------------------------- */

/* Where a pending call continues once the host answered: (true, result) is returned to the
 * lesson; (false, message) is raised as an error there. */
static int host_continue(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  if (!lua_toboolean(L, -2)) return lua_error(L);
  return 2;
}

/* __host(op, args): yields the lesson to the host; resumed with the answer. */
static int l_host(lua_State *L) {
  struct script *s;
  lua_getallocf(L, (void **)&s);
  const char *op = luaL_checkstring(L, 1);
  if (L != s->co)
    return luaL_error(L,
                      "%s: the lesson API waits on the lab, so it cannot be called inside a "
                      "coroutine of the lesson's own",
                      op);
  char err[512] = "";
  json_t *args = lua_isnoneornil(L, 2) ? json_object() : to_json(L, 2, 0, err, sizeof err);
  if (!args) return luaL_error(L, "%s: %s", op, err);
  if (json_is_object(args) && !json_object_get(args, "where")) {
    /* Where the lesson called from ("file:line"), for expectations' messages. */
    char where[300];
    lesson_where(s, L, where, sizeof where);
    size_t n = strlen(where);
    if (n >= 2) where[n - 2] = '\0';
    json_object_set_new(args, "where", json_string(where));
  }
  json_t *result = NULL;
  enum script_reply r = s->host->call(s->host->data, op, args, &result, err, sizeof err);
  json_decref(args);
  switch (r) {
  case SCRIPT_DONE:
    lua_pushboolean(L, 1);
    push_json(L, result, 0);
    json_decref(result);
    return 2;
  case SCRIPT_FAIL: {
    char where[300];
    lesson_where(s, L, where, sizeof where);
    lua_pushfstring(L, "%s%s", where, err);
    return lua_error(L);
  }
  case SCRIPT_PENDING:
    return lua_yieldk(L, 0, 0, host_continue);
  }
  return 0;
}

/* print: narration as diagnostics (the host's "print"), never raw stdout (it would break TAP). */
static int l_print(lua_State *L) {
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  struct script *s;
  lua_getallocf(L, (void **)&s);
  json_t *args = json_pack("{s:s}", "text", lua_tostring(L, -1));
  json_t *result = NULL;
  char err[128];
  s->host->call(s->host->data, "print", args, &result, err, sizeof err);
  json_decref(args);
  json_decref(result);
  return 0;
}

/* ---- the state ---------------------------------------------------------------------------------- */

struct script *script_new(const struct script_limits *limits, const struct script_host *host, uint64_t seed) {
  struct script *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->host = host;
  s->limit = limits && limits->memory_bytes ? limits->memory_bytes : 64u << 20;
  s->max_count = limits && limits->instructions ? limits->instructions : 200000000ull;
  s->co_ref = LUA_NOREF;
  s->L = lua_newstate(script_alloc, s);
  if (!s->L) {
    free(s);
    return NULL;
  }
  lua_State *L = s->L;
  static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
                                  {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
                                  {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine}};
  for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
    luaL_requiref(L, libs[i].name, libs[i].func, 1);
    lua_pop(L, 1);
  }
  static const char *const unsafe[] = {"dofile", "loadfile", "load", "collectgarbage", "require"};
  for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++) {
    lua_pushnil(L);
    lua_setglobal(L, unsafe[i]);
  }
  lua_getglobal(L, "string");
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);
  lua_register(L, "__host", l_host);
  lua_register(L, "print", l_print);
  /* math.random repeats with --seed. */
  lua_getglobal(L, "math");
  lua_getfield(L, -1, "randomseed");
  lua_pushinteger(L, (lua_Integer)seed);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  lua_sethook(L, script_hook, LUA_MASKCOUNT, SCRIPT_HOOK_EVERY);
  return s;
}

void script_free(struct script *s) {
  if (!s) return;
  lua_close(s->L);
  free(s);
}

size_t script_memory(const struct script *s) { return s->used; }

int script_library(struct script *s, const char *name, const char *text, size_t len, char *err, size_t errlen) {
  char chunk[300];
  snprintf(chunk, sizeof chunk, "=%s", name);
  s->count = 0;
  if (luaL_loadbufferx(s->L, text, len, chunk, "t") != LUA_OK || lua_pcall(s->L, 0, 0, 0) != LUA_OK) {
    snprintf(err, errlen, "%s", lua_tostring(s->L, -1));
    lua_pop(s->L, 1);
    return -1;
  }
  return 0;
}

/* Runs the coroutine until it waits for the host or ends; nargs values are on co's stack. */
static void run(struct script *s, int nargs) {
  s->count = 0;
  s->running = 1;
  int nres = 0;
  int rc = lua_resume(s->co, s->L, nargs, &nres);
  s->running = 0;
  if (rc == LUA_YIELD) {
    lua_pop(s->co, nres);
    return;
  }
  s->finished = 1;
  if (rc == LUA_OK) {
    s->host->finished(s->host->data, SCRIPT_END_OK, NULL);
    return;
  }
  /* The error, located at the lesson's line when it does not say where it happened. Some slack
   * above the cap first: after a memory error the message itself needs a few bytes. */
  s->limit += 4u << 20;
  const char *msg =
      lua_type(s->co, -1) == LUA_TSTRING ? lua_tostring(s->co, -1) : "an error object that is not a string";
  char where[300];
  lesson_where(s, s->co, where, sizeof where);
  luaL_Buffer b;
  luaL_buffinit(s->L, &b);
  if (strncmp(msg, s->name, strlen(s->name)) != 0 || msg[strlen(s->name)] != ':') {
    luaL_addstring(&b, where[0] ? where : s->name);
    if (!where[0]) luaL_addstring(&b, ": ");
  }
  if (rc == LUA_ERRMEM) luaL_addstring(&b, "memory limit reached (the lesson's Lua heap is capped): ");
  luaL_addstring(&b, msg);
  luaL_pushresult(&b);
  luaL_traceback(s->L, s->co, lua_tostring(s->L, -1), 0);
  s->host->finished(s->host->data, SCRIPT_END_ERROR, lua_tostring(s->L, -1));
  lua_pop(s->L, 2);
}

int script_start(struct script *s, const char *name, const char *text, size_t len, char *err, size_t errlen) {
  lua_State *L = s->L;
  snprintf(s->name, sizeof s->name, "%s", name);
  char chunk[300];
  snprintf(chunk, sizeof chunk, "=%s", name);
  if (luaL_loadbufferx(L, text, len, chunk, "t") != LUA_OK) {
    snprintf(err, errlen, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  /* Its own _ENV: setmetatable({}, {__index = _G}). */
  lua_newtable(L);
  lua_newtable(L);
  lua_pushglobaltable(L);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
  s->co = lua_newthread(L);
  s->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_sethook(s->co, script_hook, LUA_MASKCOUNT, SCRIPT_HOOK_EVERY);
  lua_xmove(L, s->co, 1);
  run(s, 0);
  return 0;
}

void script_resume(struct script *s, json_t *result) {
  if (!s->co || s->finished || s->running) {
    json_decref(result);
    return;
  }
  lua_pushboolean(s->co, 1);
  push_json(s->co, result, 0);
  json_decref(result);
  run(s, 2);
}

void script_resume_error(struct script *s, const char *message) {
  if (!s->co || s->finished || s->running) return;
  char where[300];
  lesson_where(s, s->co, where, sizeof where);
  lua_pushboolean(s->co, 0);
  lua_pushfstring(s->co, "%s%s", where, message);
  run(s, 2);
}
