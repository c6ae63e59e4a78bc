/* Envoy's response flags: the short codes (UF, UO, NR, ...) that say why a request ended the
 * way it did. Every local reply and every failed exchange carries one; access logs, metrics
 * and the decision trace print them exactly as Envoy does, so what a learner greps for here
 * is what they will grep for in Istio.
 */
#ifndef MESH_FLAGS_H
#define MESH_FLAGS_H

#include <stddef.h>
#include <stdint.h>

/* Bit per flag, in Envoy's printing order (envoy/stream_info/stream_info.h). */
enum response_flag {
  FLAG_LH = 1u << 0,  /* local service failed health check */
  FLAG_UH = 1u << 1,  /* no healthy upstream */
  FLAG_UT = 1u << 2,  /* upstream request timeout */
  FLAG_LR = 1u << 3,  /* local reset */
  FLAG_UR = 1u << 4,  /* upstream remote reset */
  FLAG_UF = 1u << 5,  /* upstream connection failure */
  FLAG_UC = 1u << 6,  /* upstream connection termination */
  FLAG_UO = 1u << 7,  /* upstream overflow (circuit breaking) */
  FLAG_NR = 1u << 8,  /* no route */
  FLAG_DI = 1u << 9,  /* delayed by fault injection */
  FLAG_FI = 1u << 10, /* aborted by fault injection */
  FLAG_RL = 1u << 11, /* rate limited */
  FLAG_UAEX = 1u << 12,
  FLAG_RLSE = 1u << 13,
  FLAG_DC = 1u << 14,  /* downstream connection termination */
  FLAG_URX = 1u << 15, /* upstream retry limit exceeded */
  FLAG_SI = 1u << 16,  /* stream idle timeout */
  FLAG_IH = 1u << 17,  /* invalid header value */
  FLAG_DPE = 1u << 18, /* downstream protocol error */
  FLAG_UMSDR = 1u << 19,
  FLAG_NC = 1u << 20,  /* no cluster */
  FLAG_DT = 1u << 21,  /* duration timeout */
  FLAG_UPE = 1u << 22, /* upstream protocol error */
  FLAG_DF = 1u << 23,  /* DNS resolution failed (a passthrough host meshlab cannot resolve) */
  FLAG_COUNT = 24
};

/* Returns the short name of one flag bit ("UF"), or NULL for a bit that is not a flag. */
const char *flag_name(uint32_t bit);
/* Writes the flags as Envoy prints %RESPONSE_FLAGS% ("UF,URX", or "-" when none) into out;
 * returns the length written (out is always NUL-terminated when n > 0). */
size_t flags_format(uint32_t flags, char *out, size_t n);
/* Parses one short name; returns its bit or 0. */
uint32_t flag_parse(const char *name, size_t n);

#endif
