/* Flag and value parsing for the CLI: see args.h. */
#include "cli/args.h"

#include "mesh/resource.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int args_duration_ms(const char *s, uint64_t *ms) {
  /* One duration grammar everywhere: flags read like Istio's YAML fields ("500ms", "2s"). */
  int64_t v;
  if (!s || resource_duration_parse(s, &v) != 0) return -EINVAL;
  *ms = (uint64_t)v;
  return 0;
}

int args_size(const char *s, uint64_t *bytes) {
  char *end;
  if (!s || !*s) return -EINVAL;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s) return -EINVAL;
  uint64_t scale;
  if (*end == '\0' || strcmp(end, "B") == 0) scale = 1;
  else if (strcmp(end, "KiB") == 0) scale = 1024;
  else if (strcmp(end, "MiB") == 0) scale = 1024 * 1024;
  else if (strcmp(end, "KB") == 0) scale = 1000;
  else if (strcmp(end, "MB") == 0) scale = 1000 * 1000;
  else return -EINVAL;
  *bytes = (uint64_t)v * scale;
  return 0;
}

int args_flag(int argc, char **argv, int *i, const char *name, const char *short_name, const char **value) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, "--", 2) == 0 && strncmp(a + 2, name, n) == 0 && a[2 + n] == '=') {
    *value = a + 3 + n;
    return 1;
  }
  int match = (strncmp(a, "--", 2) == 0 && strcmp(a + 2, name) == 0) || (short_name && strcmp(a, short_name) == 0);
  if (!match) return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "meshlab: flag %s needs a value\n", a);
    return -1;
  }
  *value = argv[++*i];
  return 1;
}

int args_string_flags(int argc, char **argv, int *i, const struct args_string_flag *table, size_t n, void *base) {
  for (size_t k = 0; k < n; k++) {
    const char *v;
    int rc = args_flag(argc, argv, i, table[k].flag, NULL, &v);
    if (rc == 0) continue;
    if (rc > 0) *(const char **)((char *)base + table[k].offset) = v;
    return rc;
  }
  return 0;
}

int args_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "meshlab %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(see: meshlab %s --help)\n", cmd);
  return 2;
}
