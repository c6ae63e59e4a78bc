/* Command-line helpers shared by meshlab's subcommands: flag matching and value parsing with
 * messages that name the flag and say what would be right. */
#ifndef MESHLAB_ARGS_H
#define MESHLAB_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* Parses a duration as Istio's YAML does ("500ms", "2s", "1.5s", "1m30s", "1h", or "0");
 * returns 0 and milliseconds in *ms, or -EINVAL. */
int args_duration_ms(const char *s, uint64_t *ms);
/* Parses a byte size ("65536", "64KiB", "1MiB", "10MB"); returns 0 or -EINVAL. */
int args_size(const char *s, uint64_t *bytes);

/* If argv[*i] is `--name VALUE` or `--name=VALUE` (or the short form when given), stores the
 * value in *value, advances *i past it and returns 1; returns 0 when argv[*i] is another flag,
 * and -1 (after printing an error) when the value is missing. */
int args_flag(int argc, char **argv, int *i, const char *name, const char *short_name, const char **value);

/* A table of string-valued flags: each stores its value (a const char *) at base + offset. */
struct args_string_flag {
  const char *flag; /* without the leading "--" */
  size_t offset;
};

/* If argv[*i] is one of table's flags, stores its value, advances *i and returns 1; returns 0
 * when none matches and -1 (after printing an error) when the value is missing. */
int args_string_flags(int argc, char **argv, int *i, const struct args_string_flag *table, size_t n, void *base);

/* Prints "meshlab CMD: MESSAGE" to stderr and returns exit code 2 (usage error). */
int args_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
