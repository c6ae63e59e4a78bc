/* Tests for the lesson runner's pure parts (mesh/lesson_text.c): the metadata `meshlab lessons`
 * reads without running a lesson, and the headless TAP lines of the lesson_ui it provides (ok/not ok, observed values,
 * the step and line of a failure, the plan). The runner itself is tested end to end by
 * tests/cli/test_lesson.sh, one lab per lesson. */
#include "mesh/lesson.h"

#include <stdlib.h>
#include <string.h>

#include "support/test.h"

static void scan_meta_reads_title_and_duration(void) {
  const char *text =
      "-- a comment: title = \"not this\"\n"
      "lesson {\n  subtitle = 'x',\n  title = \"Canary: shifting traffic\",\n  goal = \"...\",\n"
      "  duration = '1 min',\n}\n";
  char title[64], duration[16];
  lesson_scan_meta(text, strlen(text), title, sizeof title, duration, sizeof duration);
  /* Not the comment's, not subtitle's. */
  EXPECT_STR_EQ(title, "Canary: shifting traffic");
  EXPECT_STR_EQ(duration, "1 min");
  const char *plain = "lesson { title = \"Request routing\", duration = \"2 min\" }\n";
  lesson_scan_meta(plain, strlen(plain), title, sizeof title, duration, sizeof duration);
  EXPECT_STR_EQ(title, "Request routing");
  EXPECT_STR_EQ(duration, "2 min");
  lesson_scan_meta("say('hi')", 9, title, sizeof title, duration, sizeof duration);
  EXPECT_STR_EQ(title, "");
  EXPECT_STR_EQ(duration, "");
}

static void count_steps_reads_step_calls(void) {
  const char *text =
      "lesson { title = \"x\" }\n"
      "step(\"one\", function() end)\n"
      "  -- step(\"a comment\")\n"
      "   step(\"two\", function()\n"
      "     say(\"a step( inside a string does not count\")\n"
      "   end)\n"
      "local mystep(\"not a call to step\")\n"
      "step(\"three\", f)";
  EXPECT_INT_EQ(lesson_count_steps(text, strlen(text)), 3);
  EXPECT_INT_EQ(lesson_count_steps("say('hi')\n", 10), 0);
  EXPECT_INT_EQ(lesson_count_steps("", 0), 0);
}

static void tap_lines_for_steps_expectations_and_plan(void) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  struct lesson_ui ui;
  lesson_ui_tap(&ui, out);
  EXPECT(!ui.interactive);
  EXPECT(ui.on_pause == NULL);
  struct lesson_info info = {"scenarios/03-canary.lua", "Canary", "shift traffic", "1 min"};
  ui.on_lesson(&ui, &info);
  ui.on_step(&ui, 1, "All on v1");
  ui.on_say(&ui, "two\nlines");
  struct lesson_expect ok = {1, true, "v1 gets everything", "{v1=1}", 1, "All on v1", "scenarios/03-canary.lua:40"};
  ui.on_expect(&ui, &ok);
  struct lesson_expect bad = {2, false, "v3 gets 10 %", "{share=0.3}", 1, "All on v1", "scenarios/03-canary.lua:41"};
  ui.on_expect(&ui, &bad);
  struct lesson_result res = {LESSON_FAILED, 2, 1, NULL};
  ui.on_done(&ui, &res);
  fclose(out);
  EXPECT_STR_EQ(text,
                "# lesson: Canary (scenarios/03-canary.lua)\n"
                "# goal: shift traffic\n"
                "# step 1: All on v1\n"
                "#   two\n"
                "#   lines\n"
                "ok 1 - v1 gets everything\n"
                "#   observed: {v1=1}\n"
                "not ok 2 - v3 gets 10 %\n"
                "#   failed expectation: v3 gets 10 %\n"
                "#   observed: {share=0.3}\n"
                "#   in step 1: All on v1 (scenarios/03-canary.lua:41)\n"
                "1..2\n");
  free(text);
}

static void tap_lesson_error_is_a_last_not_ok(void) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  struct lesson_ui ui;
  lesson_ui_tap(&ui, out);
  struct lesson_result res = {LESSON_BROKEN, 3, 0, "scenarios/x.lua:7: boom\nstack traceback:"};
  ui.on_done(&ui, &res);
  fclose(out);
  EXPECT_STR_EQ(text,
                "not ok 4 - the lesson stopped: lesson error\n"
                "#   scenarios/x.lua:7: boom\n"
                "#   stack traceback:\n"
                "1..4\n");
  free(text);
}

TEST_CASES(TEST(scan_meta_reads_title_and_duration), TEST(count_steps_reads_step_calls),
           TEST(tap_lines_for_steps_expectations_and_plan), TEST(tap_lesson_error_is_a_last_not_ok))
