/* The test harness behind test.h: runs a table of cases and prints "N passed, N failed". */
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>

static int failed_;
static const char *skipped_;
static const char *current_;

void test_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "  FAIL %s (%s:%d): ", current_ ? current_ : "?", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  failed_ = 1;
}

void test_skip(const char *reason) { skipped_ = reason; }

int test_failed(void) { return failed_; }

const char *test_conformance_dir(void) {
  static char path[4096];
  struct stat st;
  const char *dir = getenv("MESHLAB_CONFORMANCE");
  if (!dir || !*dir) dir = "../shared/conformance";
  snprintf(path, sizeof path, "%s", dir);
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return path;
  return NULL;
}

const char *test_require_conformance(void) {
  const char *dir = test_conformance_dir();
  const char *ci = getenv("CI");
  if (dir) return dir;
  if (ci && strcmp(ci, "true") == 0)
    test_fail(__FILE__, __LINE__, "conformance inputs not found (set MESHLAB_CONFORMANCE); required under CI");
  else test_skip("conformance inputs not found (../shared/conformance or $MESHLAB_CONFORMANCE)");
  return NULL;
}

char *test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *data = NULL;
  size_t cap = 0, n = 0;
  if (!f) return NULL;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      char *p = realloc(data, cap);
      if (!p) {
        free(data);
        fclose(f);
        return NULL;
      }
      data = p;
    }
    size_t r = fread(data + n, 1, cap - n - 1, f);
    n += r;
    if (r == 0) break;
  }
  fclose(f);
  data[n] = '\0';
  if (len) *len = n;
  return data;
}

int test_main(int argc, char **argv, const struct test_case *cases, size_t n) {
  int passed = 0, failed = 0, skipped = 0;
  const char *filter = argc > 1 ? argv[1] : NULL;
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (size_t i = 0; i < n; i++) {
    if (filter && !strstr(cases[i].name, filter)) continue;
    failed_ = 0;
    skipped_ = NULL;
    current_ = cases[i].name;
    cases[i].fn();
    if (failed_) {
      failed++;
      printf("not ok - %s\n", cases[i].name);
    } else if (skipped_) {
      skipped++;
      printf("ok - %s # SKIP %s\n", cases[i].name, skipped_);
    } else {
      passed++;
      printf("ok - %s\n", cases[i].name);
    }
  }
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  /* A filter that names no case (a renamed test, a typo in CMakeLists) would otherwise pass
   * with nothing run. */
  if (filter && passed + failed + skipped == 0) {
    fprintf(stderr, "no test case name contains \"%s\"; the cases are:\n", filter);
    for (size_t i = 0; i < n; i++) fprintf(stderr, "  %s\n", cases[i].name);
    return 1;
  }
  return failed ? 1 : 0;
}
