/* Tests for mesh/script.c, the Lua sandbox: only safe libraries (no io, os, package, debug,
 * require, load, dofile, loadfile, string.dump), text chunks only (bytecode refused), the
 * instruction cap stops `while true do end`, the memory cap stops a runaway table, errors carry
 * the lesson's file:line (Lua's own, the host's and the caps'), and a pending host call resumes
 * the coroutine with its answer. */
#include "mesh/script.h"

#include <stdlib.h>
#include <string.h>

#include "support/test.h"

/* A host that records what the script asked: "say" answers at once, "wait" stays pending,
 * "boom" fails. */
struct fake {
  int calls, pending, finished;
  enum script_end how;
  char message[4096];
  char said[1024];
};

static enum script_reply fake_call(void *data, const char *op, json_t *args, json_t **result, char *err,
                                   size_t errlen) {
  struct fake *f = data;
  f->calls++;
  *result = NULL;
  if (strcmp(op, "say") == 0 || strcmp(op, "print") == 0) {
    json_t *t = json_object_get(args, "text");
    snprintf(f->said + strlen(f->said), sizeof f->said - strlen(f->said), "%s;",
             json_is_string(t) ? json_string_value(t) : "?");
    *result = json_pack("{s:i,s:[i,i]}", "n", 7, "list", 1, 2);
    return SCRIPT_DONE;
  }
  if (strcmp(op, "wait") == 0) {
    f->pending++;
    return SCRIPT_PENDING;
  }
  snprintf(err, errlen, "boom from the host");
  return SCRIPT_FAIL;
}

static void fake_finished(void *data, enum script_end how, const char *message) {
  struct fake *f = data;
  f->finished++;
  f->how = how;
  snprintf(f->message, sizeof f->message, "%s", message ? message : "");
}

static struct fake F;
static struct script_host HOST = {fake_call, fake_finished, &F};

static struct script *start(const char *text, size_t memory, uint64_t instructions, int *rc, char *err, size_t n) {
  memset(&F, 0, sizeof F);
  struct script_limits lim = {memory, instructions};
  struct script *s = script_new(&lim, &HOST, 1);
  *rc = script_start(s, "lessons/t.lua", text, strlen(text), err, n);
  return s;
}

static void only_safe_libraries(void) {
  int rc;
  char err[512];
  struct script *s = start(
      "assert(io == nil and os == nil and package == nil and debug == nil and require == nil)\n"
      "assert(load == nil and loadfile == nil and dofile == nil and collectgarbage == nil)\n"
      "assert(string.dump == nil)\n"
      "assert(string.format and table.concat and math.floor and utf8.char and coroutine.wrap and pairs)\n"
      "__host('say', {text = 'fine'})\n",
      0, 0, &rc, err, sizeof err);
  EXPECT_INT_EQ(rc, 0);
  EXPECT_INT_EQ(F.finished, 1);
  EXPECT_INT_EQ(F.how, SCRIPT_END_OK);
  EXPECT_STR_EQ(F.said, "fine;");
  script_free(s);
}

static void bytecode_is_refused(void) {
  int rc;
  char err[512] = "";
  struct script *s = start("\x1bLua\x54\x00 fake bytecode", 0, 0, &rc, err, sizeof err);
  EXPECT_INT_EQ(rc, -1);
  EXPECT_STR_CONTAINS(err, "binary");
  EXPECT_INT_EQ(F.finished, 0);
  script_free(s);
}

static void syntax_error_has_file_line(void) {
  int rc;
  char err[512] = "";
  struct script *s = start("say('a')\nlocal = 3\n", 0, 0, &rc, err, sizeof err);
  EXPECT_INT_EQ(rc, -1);
  EXPECT_STR_CONTAINS(err, "lessons/t.lua:2:");
  script_free(s);
}

static void instruction_cap_stops_endless_loop(void) {
  int rc;
  char err[512];
  struct script *s = start("local x = 0\nwhile true do x = x + 1 end\n", 0, 1000000, &rc, err, sizeof err);
  EXPECT_INT_EQ(rc, 0);
  EXPECT_INT_EQ(F.finished, 1);
  EXPECT_INT_EQ(F.how, SCRIPT_END_ERROR);
  EXPECT_STR_CONTAINS(F.message, "lessons/t.lua:2:");
  EXPECT_STR_CONTAINS(F.message, "instruction limit");
  script_free(s);
}

static void instruction_cap_is_per_slice(void) {
  /* 3 slices of 600 000 instructions each stay under a 1 000 000 cap: waiting resets it. */
  int rc;
  char err[512];
  struct script *s =
      start("for k = 1, 3 do\n  for i = 1, 150000 do end\n  __host('wait')\nend\n__host('say', {text='done'})\n", 0,
            1000000, &rc, err, sizeof err);
  EXPECT_INT_EQ(rc, 0);
  for (int i = 0; i < 3; i++) {
    EXPECT_INT_EQ(F.finished, 0);
    script_resume(s, NULL);
  }
  EXPECT_INT_EQ(F.finished, 1);
  EXPECT_INT_EQ(F.how, SCRIPT_END_OK);
  EXPECT_STR_EQ(F.said, "done;");
  script_free(s);
}

static void memory_cap_stops_runaway_table(void) {
  int rc;
  char err[512];
  struct script *s = start("local t = {}\nfor i = 1, 1e9 do\n  t[i] = string.rep('x', 64) .. i\nend\n", 4u << 20, 0,
                           &rc, err, sizeof err);
  EXPECT_INT_EQ(rc, 0);
  EXPECT_INT_EQ(F.finished, 1);
  EXPECT_INT_EQ(F.how, SCRIPT_END_ERROR);
  EXPECT_STR_CONTAINS(F.message, "lessons/t.lua:3:");
  EXPECT_STR_CONTAINS(F.message, "memory");
  EXPECT(script_memory(s) <= (4u << 20) + (4u << 20));
  script_free(s);
}

static void runtime_error_has_file_line(void) {
  int rc;
  char err[512];
  struct script *s = start("local t = nil\n\nprint(t.x)\n", 0, 0, &rc, err, sizeof err);
  EXPECT_INT_EQ(F.how, SCRIPT_END_ERROR);
  EXPECT_STR_CONTAINS(F.message, "lessons/t.lua:3: attempt to index a nil value");
  script_free(s);
  s = start("local function f()\n  error('my own')\nend\nf()\n", 0, 0, &rc, err, sizeof err);
  EXPECT_STR_CONTAINS(F.message, "lessons/t.lua:2: my own");
  script_free(s);
}

static void host_error_is_raised_at_the_lessons_line(void) {
  int rc;
  char err[512];
  struct script *s = start(
      "local ok, e = pcall(__host, 'nope')\nassert(not ok)\n__host('say', {text = e})\n"
      "__host('nope')\n",
      0, 0, &rc, err, sizeof err);
  EXPECT_STR_CONTAINS(F.said, "lessons/t.lua:1: boom from the host");
  EXPECT_INT_EQ(F.how, SCRIPT_END_ERROR);
  EXPECT_STR_CONTAINS(F.message, "lessons/t.lua:4: boom from the host");
  script_free(s);
}

static void pending_call_resumes_with_its_answer(void) {
  int rc;
  char err[512];
  struct script *s = start(
      "local ok, r = __host('wait', {seconds = 1})\n"
      "__host('say', {text = tostring(ok) .. ' ' .. r.value .. ' ' .. #r.list})\n"
      "local ok2, r2 = __host('say', {text = 'x'})\n"
      "__host('say', {text = r2.n .. ' ' .. r2.list[2]})\n"
      "local ok3, e = pcall(function() local _, x = __host('wait') end)\n"
      "__host('say', {text = tostring(ok3) .. ' ' .. tostring(e)})\n",
      0, 0, &rc, err, sizeof err);
  EXPECT_INT_EQ(rc, 0);
  EXPECT_INT_EQ(F.pending, 1);
  EXPECT_INT_EQ(F.finished, 0);
  script_resume(s, json_pack("{s:s,s:[i,i,i]}", "value", "five", "list", 1, 2, 3));
  EXPECT_INT_EQ(F.pending, 2);
  script_resume_error(s, "timed out");
  EXPECT_INT_EQ(F.finished, 1);
  EXPECT_INT_EQ(F.how, SCRIPT_END_OK);
  EXPECT_STR_EQ(F.said, "true five 3;x;7 2;false lessons/t.lua:5: timed out;");
  script_free(s);
}

static void lesson_environment_is_its_own(void) {
  int rc;
  char err[512];
  memset(&F, 0, sizeof F);
  struct script *s = script_new(NULL, &HOST, 1);
  EXPECT_INT_EQ(script_library(s, "lib.lua", "function helper() return 42 end", 31, err, sizeof err), 0);
  rc = script_start(s, "lessons/t.lua",
                    "helper_result = helper()\nhelper = nil\n__host('say', {text = tostring(helper_result)})\n",
                    strlen("helper_result = helper()\nhelper = nil\n__host('say', {text = tostring(helper_result)})\n"),
                    err, sizeof err);
  EXPECT_INT_EQ(rc, 0);
  EXPECT_STR_EQ(F.said, "42;");
  EXPECT_INT_EQ(F.how, SCRIPT_END_OK);
  script_free(s);
}

static void api_inside_own_coroutine_is_an_error(void) {
  int rc;
  char err[512];
  struct script *s =
      start("local co = coroutine.wrap(function() __host('wait') end)\nco()\n", 0, 0, &rc, err, sizeof err);
  EXPECT_INT_EQ(F.how, SCRIPT_END_ERROR);
  EXPECT_STR_CONTAINS(F.message, "coroutine");
  EXPECT_INT_EQ(F.pending, 0);
  script_free(s);
}

TEST_CASES(TEST(only_safe_libraries), TEST(bytecode_is_refused), TEST(syntax_error_has_file_line),
           TEST(instruction_cap_stops_endless_loop), TEST(instruction_cap_is_per_slice),
           TEST(memory_cap_stops_runaway_table), TEST(runtime_error_has_file_line),
           TEST(host_error_is_raised_at_the_lessons_line), TEST(pending_call_resumes_with_its_answer),
           TEST(lesson_environment_is_its_own), TEST(api_inside_own_coroutine_is_an_error))
