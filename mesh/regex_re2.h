/* regex_re2: Istio's regexes (RE2 syntax, Envoy's safe_regex) on POSIX <regex.h>.
 *
 * Envoy matches `regex:` conditions with RE2 and requires the whole value to match. meshlab has
 * no RE2, so it rewrites the pattern into a POSIX extended regular expression anchored ^( )$.
 * What RE2 and POSIX spell differently is translated: the classes \d \w \s (also inside
 * brackets) and \D \W \S (outside them), \n \t \r \f \v, escaped punctuation (`\-` and `\]` inside
 * brackets are moved where POSIX reads them literally), non-capturing and named groups
 * (`(?:`, `(?P<n>`, `(?<n>`), a leading `(?i)` (case-insensitive), and lazy quantifiers (`*?`:
 * for a yes/no full match, lazy and greedy accept the same values). What POSIX cannot express
 * is refused with the piece named: word boundaries and other zero-width escapes (\b \B \A \z),
 * back-references, \p{..} classes, hex and octal escapes, flags other than a leading (?i).
 * A refused pattern never reaches regcomp(), so none is silently read as something else (glibc
 * reads an unknown escape such as \d as the letter itself).
 *
 * Pure: no I/O.
 */
#ifndef MESH_REGEX_RE2_H
#define MESH_REGEX_RE2_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "mesh/buf.h"

/* Appends to out the POSIX ERE for the RE2 pattern re, anchored ^( )$; sets *icase when the
 * pattern starts with (?i). Returns 0, -EINVAL with what POSIX cannot express (or what is
 * malformed) in why, or -ENOMEM. */
int re2_translate(const char *re, struct buf *out, bool *icase, char *why, size_t whylen);

/* Translates and compiles re (REG_EXTENDED | REG_NOSUB, REG_ICASE when icase or (?i)) into
 * *out, which the caller regfree()s. Returns 0, -EINVAL with the reason in why, or -ENOMEM. */
int re2_compile(const char *re, bool icase, regex_t *out, char *why, size_t whylen);

#endif
