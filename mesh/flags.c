/* Response flag names, in Envoy's order: see flags.h. */
#include "mesh/flags.h"

#include <string.h>

static const char *const names[FLAG_COUNT] = {
    "LH",   "UH",   "UT", "LR",  "UR", "UF", "UC",  "UO",    "NR", "DI", "FI",  "RL",
    "UAEX", "RLSE", "DC", "URX", "SI", "IH", "DPE", "UMSDR", "NC", "DT", "UPE", "DF",
};

const char *flag_name(uint32_t bit) {
  for (int i = 0; i < FLAG_COUNT; i++)
    if (bit == (1u << i)) return names[i];
  return NULL;
}

size_t flags_format(uint32_t flags, char *out, size_t n) {
  size_t len = 0;
  if (n == 0) return 0;
  out[0] = '\0';
  for (int i = 0; i < FLAG_COUNT; i++) {
    if (!(flags & (1u << i))) continue;
    size_t w = strlen(names[i]) + (len ? 1 : 0);
    if (len + w + 1 > n) break;
    if (len) out[len++] = ',';
    memcpy(out + len, names[i], strlen(names[i]));
    len += strlen(names[i]);
    out[len] = '\0';
  }
  if (len == 0 && n >= 2) {
    out[0] = '-';
    out[1] = '\0';
    len = 1;
  }
  return len;
}

uint32_t flag_parse(const char *name, size_t n) {
  for (int i = 0; i < FLAG_COUNT; i++)
    if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0) return 1u << i;
  return 0;
}
