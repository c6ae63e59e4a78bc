/* Tests for mesh/regex_re2.c: RE2 patterns as Istio users write them, run on POSIX regcomp.
 * Each translated pattern is checked by what it matches (whole values, as Envoy's safe_regex),
 * not by the POSIX text it became; each refused pattern by the piece its reason names. The
 * patterns glibc would silently misread (\d as "d", \b as "b") are among them. */
#include "mesh/regex_re2.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "support/test.h"

struct accepts {
  const char *re;
  const char *yes[4]; /* values that match in full */
  const char *no[4];  /* values that do not */
};

static void check_matches(const struct accepts *c, bool icase) {
  regex_t re;
  char why[160] = "";
  int rc = re2_compile(c->re, icase, &re, why, sizeof why);
  if (rc != 0) {
    test_fail(__FILE__, __LINE__, "%s: refused (%d): %s", c->re, rc, why);
    return;
  }
  for (int i = 0; i < 4 && c->yes[i]; i++)
    if (regexec(&re, c->yes[i], 0, NULL, 0) != 0)
      test_fail(__FILE__, __LINE__, "%s should match \"%s\"", c->re, c->yes[i]);
  for (int i = 0; i < 4 && c->no[i]; i++)
    if (regexec(&re, c->no[i], 0, NULL, 0) == 0)
      test_fail(__FILE__, __LINE__, "%s should not match \"%s\"", c->re, c->no[i]);
  regfree(&re);
}

static void common_subset_and_full_match(void) {
  static const struct accepts cases[] = {
      {"/re/[0-9]+", {"/re/1", "/re/123"}, {"/re/", "/re/12a", "x/re/1"}},
      {"v[0-9]+\\.[0-9]+", {"v1.25"}, {"v1x25", "v1.25-rc"}},
      {"/productpage|/login", {"/productpage", "/login"}, {"/productpage/x"}},
      {"a{2,3}", {"aa", "aaa"}, {"a", "aaaa"}},
      {"[]a]+", {"]", "a]a"}, {"b"}},
      {"[[:alpha:]]+", {"abc"}, {"ab1"}},
      {"x{", {"x{"}, {"x"}}, /* a '{' that starts no repetition is a literal */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_matches(&cases[i], false);
}

static void re2_classes_and_escapes(void) {
  static const struct accepts cases[] = {
      {"v\\d+", {"v1", "v12"}, {"vd", "vdd", "v"}},
      {"\\D+", {"abc"}, {"a1"}},
      {"\\w+", {"a_1"}, {"a-1", ""}},
      {"\\W", {"-"}, {"a"}},
      {"a\\sb", {"a b", "a\tb"}, {"ab", "asb"}},
      {"\\S+", {"ab"}, {"a b"}},
      {"[\\w\\-.]+", {"reviews-v2.default", "a_b"}, {"a/b"}},
      {"[^\\s]+", {"abc"}, {"a c"}},
      {"[\\d]{3}", {"123"}, {"12a"}},
      {"\\/api\\/v1\\/.*", {"/api/v1/x"}, {"/api/v2/x"}},
      {"a\\.b", {"a.b"}, {"axb"}},
      {"\\\\", {"\\"}, {"a"}},
      {"[\\]x]+", {"]x"}, {"y"}},
      {"[\\^]", {"^"}, {"\\", "a"}},
      {"[^\\^]", {"a"}, {"^"}},
      {"a\\tb", {"a\tb"}, {"atb"}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_matches(&cases[i], false);
}

static void groups_flags_and_lazy_quantifiers(void) {
  static const struct accepts cases[] = {
      {"(?:ab)+", {"ab", "abab"}, {"aba"}},
      {"(?P<ver>v[0-9])-(?<n>[a-z]+)", {"v1-x"}, {"v1-"}},
      {"(?i)jason", {"jason", "Jason", "JASON"}, {"json"}},
      {"/a.*?b", {"/axxb", "/ab"}, {"/axx"}},
      {"a+?", {"a", "aa"}, {""}},
      {"a??b", {"ab", "b"}, {"aab"}},
      {"a{1,2}?", {"a", "aa"}, {"aaa"}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_matches(&cases[i], false);
  /* The caller's case-insensitivity (an ignoreUriCase-like flag) applies too. */
  static const struct accepts ci = {"abc", {"ABC"}, {"abd"}};
  check_matches(&ci, true);
}

static void refusals_name_the_piece(void) {
  static const struct {
    const char *re;
    const char *piece; /* the reason names it */
  } cases[] = {
      {"\\bfoo", "\\b"},          {"foo\\z", "\\z"},
      {"\\Afoo", "\\A"},          {"(a)\\1", "\\1"},
      {"\\pL+", "\\p"},           {"\\x41", "\\x"},
      {"[\\D]", "\\D"},           {"a(?i)b", "(?i"},
      {"(?i:ab)", "(?i:"},        {"(?=a)", "(?="},
      {"[abc", "closing ]"},      {"abc\\", "lone backslash"},
      {"[a\\", "lone backslash"}, {"(abc", "not a valid regular expression"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    regex_t re;
    char why[160] = "";
    int rc = re2_compile(cases[i].re, false, &re, why, sizeof why);
    if (rc == 0) {
      regfree(&re);
      test_fail(__FILE__, __LINE__, "%s: compiled, should be refused", cases[i].re);
      continue;
    }
    EXPECT_INT_EQ(rc, -EINVAL);
    if (!strstr(why, cases[i].piece))
      test_fail(__FILE__, __LINE__, "%s: the reason \"%s\" does not name %s", cases[i].re, why, cases[i].piece);
  }
}

static void translation_is_anchored(void) {
  struct buf out = {0};
  bool icase = true;
  char why[64];
  EXPECT_INT_EQ(re2_translate("a|b", &out, &icase, why, sizeof why), 0);
  EXPECT_STR_EQ(buf_cstr(&out), "^(a|b)$");
  EXPECT(!icase);
  buf_free(&out);
}

TEST_CASES(TEST(common_subset_and_full_match), TEST(re2_classes_and_escapes), TEST(groups_flags_and_lazy_quantifiers),
           TEST(refusals_name_the_piece), TEST(translation_is_anchored))
