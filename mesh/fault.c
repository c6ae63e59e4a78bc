/* fault: one fault-injection draw per request, as Envoy's fault filter does it
 * with the config Istio writes from `http[].fault` (see fault.h for where it
 * sits).
 *
 * Istio's translatePercentToFractionalPercent sends `percentage.value` as a
 * FractionalPercent with denominator MILLION and numerator value * 10000
 * (truncated), and leaves the percentage at 0 when the user wrote none: Istio's
 * API says an unset percentage injects into no request. Envoy then asks its
 * runtime `featureEnabled(key, percent)`, which fires when a random value
 * modulo the denominator is below the numerator. Envoy decides the delay first
 * (the request waits in the filter), then the abort; the draws are taken in
 * that order here so a seed replays the same requests.
 */
#include "mesh/fault.h"

#include <string.h>

#define PER_MILLION 1000000u

/* gRPC status codes by number (grpc/doc/statuscodes.md). */
static const char *const GRPC_NAMES[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

int fault_grpc_code(const char *name) {
  if (!name) return -1;
  for (size_t i = 0; i < sizeof GRPC_NAMES / sizeof GRPC_NAMES[0]; i++)
    if (strcmp(name, GRPC_NAMES[i]) == 0) return (int)i;
  return -1;
}

/* The per-million numerator Istio writes for a percentage. An unset percentage has value 0
 * (resource.h), so it never fires; only .value is read, because a pushed config
 * (compile_json.c) carries the effective value without the `set` bit. */
static uint32_t numerator(const struct resource_pct *pct) {
  if (pct->value <= 0) return 0;
  if (pct->value >= 100) return PER_MILLION;
  return (uint32_t)(pct->value * 10000.0);
}

/* One roll: returns whether it fired and stores the roll as a percent in [0,
 * 100). */
static bool roll(const struct resource_pct *pct, struct rng *rng, double *roll_pct) {
  uint32_t r = rng_below(rng, PER_MILLION);
  *roll_pct = r / 10000.0;
  return r < numerator(pct);
}

void fault_draw(const struct resource_fault *f, struct rng *rng, struct fault_draw *out) {
  memset(out, 0, sizeof *out);
  out->grpc_code = -1;
  out->delay_roll = -1;
  out->abort_roll = -1;
  if (!f || !f->present) return;
  if (f->delay.present) {
    out->has_delay = true;
    out->delay_pct = f->delay.percentage.value;
    out->delay = roll(&f->delay.percentage, rng, &out->delay_roll);
    out->delay_ms = out->delay ? f->delay.fixed_delay.ms : 0;
  }
  if (f->abort.present) {
    out->has_abort = true;
    out->abort_pct = f->abort.percentage.value;
    out->abort = roll(&f->abort.percentage, rng, &out->abort_roll);
    if (f->abort.grpc_status) {
      /* A gRPC abort answers HTTP 200 with the status in grpc-status
       * (trailers-only). */
      out->grpc_status = f->abort.grpc_status;
      out->grpc_code = fault_grpc_code(f->abort.grpc_status);
      out->abort_status = 200;
    } else {
      out->abort_status = (int)f->abort.http_status;
    }
  }
}
