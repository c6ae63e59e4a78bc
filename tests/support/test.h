/* A small test harness for meshlab's unit and integration tests.
 *
 * Each test executable lists its cases in a table and calls test_main(); every assertion
 * macro prints both sides on failure, with file and line, and marks the running case failed.
 * The closing line is the plain "N passed, N failed" form that ctest's log keeps.
 */
#ifndef MESHLAB_TEST_H
#define MESHLAB_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct test_case {
  const char *name;
  void (*fn)(void);
};

/* Runs every case (or those whose names contain argv[1]); returns the process exit code: 1
 * when a case failed, or when argv[1] matches no case's name. */
int test_main(int argc, char **argv, const struct test_case *cases, size_t n);

/* Marks the running case failed; used by the macros below. */
void test_fail(const char *file, int line, const char *fmt, ...);
/* Marks the running case skipped with a reason (it still counts as run). */
void test_skip(const char *reason);
/* Nonzero once the running case has failed. */
int test_failed(void);

/* Directory of the conformance inputs ($MESHLAB_CONFORMANCE or ../shared/conformance).
 * Returns NULL when absent; tests then skip, except under CI (CI=true), where absence fails. */
const char *test_conformance_dir(void);
/* test_conformance_dir(), or, when absent: fails the running case under CI (CI=true) and
 * skips it elsewhere; returns NULL then, and the caller returns. */
const char *test_require_conformance(void);
/* Reads a whole file; returns owned NUL-terminated bytes or NULL. */
char *test_read_file(const char *path, size_t *len);

#define TEST_CASES(...)                                                                    \
  static const struct test_case test_cases_[] = {__VA_ARGS__};                             \
  int main(int argc, char **argv) {                                                        \
    return test_main(argc, argv, test_cases_, sizeof test_cases_ / sizeof test_cases_[0]); \
  }
#define TEST(fn) \
  { #fn, fn }

#define EXPECT(cond)                                                  \
  do {                                                                \
    if (!(cond)) test_fail(__FILE__, __LINE__, "expected %s", #cond); \
  } while (0)
#define ASSERT(cond)                                       \
  do {                                                     \
    if (!(cond)) {                                         \
      test_fail(__FILE__, __LINE__, "expected %s", #cond); \
      return;                                              \
    }                                                      \
  } while (0)

#define EXPECT_INT_EQ(a, b)                                                                \
  do {                                                                                     \
    long long a_ = (long long)(a), b_ = (long long)(b);                                    \
    if (a_ != b_) test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
  } while (0)
#define ASSERT_INT_EQ(a, b)                                                    \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ != b_) {                                                            \
      test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
      return;                                                                  \
    }                                                                          \
  } while (0)
#define EXPECT_INT_GE(a, b)                                                              \
  do {                                                                                   \
    long long a_ = (long long)(a), b_ = (long long)(b);                                  \
    if (a_ < b_) test_fail(__FILE__, __LINE__, "%s >= %s: %lld < %lld", #a, #b, a_, b_); \
  } while (0)
#define EXPECT_INT_LE(a, b)                                                              \
  do {                                                                                   \
    long long a_ = (long long)(a), b_ = (long long)(b);                                  \
    if (a_ > b_) test_fail(__FILE__, __LINE__, "%s <= %s: %lld > %lld", #a, #b, a_, b_); \
  } while (0)

#define EXPECT_STR_EQ(a, b)                                                                                        \
  do {                                                                                                             \
    const char *a_ = (a), *b_ = (b);                                                                               \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                                         \
      test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
  } while (0)
#define ASSERT_STR_EQ(a, b)                                                                                        \
  do {                                                                                                             \
    const char *a_ = (a), *b_ = (b);                                                                               \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                                       \
      test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
      return;                                                                                                      \
    }                                                                                                              \
  } while (0)
#define EXPECT_STR_CONTAINS(hay, needle)                                                             \
  do {                                                                                               \
    const char *h_ = (hay), *n_ = (needle);                                                          \
    if (!h_ || !strstr(h_, n_))                                                                      \
      test_fail(__FILE__, __LINE__, "%s contains \"%s\": got \"%s\"", #hay, n_, h_ ? h_ : "(null)"); \
  } while (0)

#endif
