/* fault: the route's fault injection draw (Envoy's fault filter as Istio configures it from
 * `http[].fault`).
 *
 * Where it sits: after routing picked a rule and before any upstream work, the proxy draws
 * once per request: a delay (fixedDelay, DI) and/or an abort (httpStatus or grpcStatus, FI),
 * each firing with its own `percentage.value`. A percentage that is not set fires for no
 * request (Istio's API comment), unlike Envoy's raw 100 % default. Istio sends the percentage
 * to Envoy as a FractionalPercent per million, so a roll is drawn as an integer below 10^6 and
 * fires when it is below value * 10^4. The delay happens first, then the abort, as in Envoy.
 *
 * Pure: randomness comes from the caller's seeded rng.
 */
#ifndef MESH_FAULT_H
#define MESH_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/rand.h"
#include "mesh/resource.h"

struct fault_draw {
  bool has_delay, has_abort; /* the route configures them */
  bool delay, abort;         /* they fired */
  int64_t delay_ms;
  int abort_status;              /* HTTP status; with a grpcStatus abort: 200 */
  const char *grpc_status;       /* borrowed from the route: "UNAVAILABLE", or NULL */
  int grpc_code;                 /* its numeric code (14 for UNAVAILABLE), -1 when none */
  double delay_pct, abort_pct;   /* configured percent, 0..100 */
  double delay_roll, abort_roll; /* the draws, as percent in [0, 100) (-1 when not drawn) */
};

/* Draws the route's faults (f NULL or not present: nothing fires, nothing drawn). Each
 * configured fault takes exactly one draw from rng, delay first, so a seed replays. */
void fault_draw(const struct resource_fault *f, struct rng *rng, struct fault_draw *out);

/* The numeric gRPC code of a status name ("UNAVAILABLE" -> 14), or -1. */
int fault_grpc_code(const char *name);

#endif
