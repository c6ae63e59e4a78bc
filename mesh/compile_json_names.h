/* compile_json_names: what the writer (compile_json.c) and the reader (compile_json_read.c)
 * of a pushed proxy_config share: the names enums travel as, and the error-path formatter.
 * Internal to those two files. */
#ifndef MESH_COMPILE_JSON_NAMES_H
#define MESH_COMPILE_JSON_NAMES_H

#include <stdarg.h>
#include <stdio.h>

#include "mesh/compile.h"

/* Paths only name a place in error messages: one longer than its buffer is cut, not an error. */
static inline void path_fmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void path_fmt(char *out, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, n, fmt, ap);
  va_end(ap);
}

static const char *const MATCH_KEYS[] = {
    [XDS_MATCH_EXACT] = "exact", [XDS_MATCH_PREFIX] = "prefix", [XDS_MATCH_REGEX] = "regex"};

static const char *const LB_NAMES[] = {
    [RESOURCE_LB_UNSPECIFIED] = "UNSPECIFIED", [RESOURCE_LB_LEAST_REQUEST] = "LEAST_REQUEST",
    [RESOURCE_LB_ROUND_ROBIN] = "ROUND_ROBIN", [RESOURCE_LB_RANDOM] = "RANDOM",
    [RESOURCE_LB_PASSTHROUGH] = "PASSTHROUGH", [RESOURCE_LB_LEAST_CONN] = "LEAST_CONN"};

static const char *const MTLS_NAMES[] = {[RESOURCE_MTLS_UNSET] = "UNSET",
                                         [RESOURCE_MTLS_DISABLE] = "DISABLE",
                                         [RESOURCE_MTLS_PERMISSIVE] = "PERMISSIVE",
                                         [RESOURCE_MTLS_STRICT] = "STRICT"};

/* NONE has no name: a config that carries no mode writes no key. */
static const char *const OUTBOUND_POLICY_NAMES[] = {[XDS_OUTBOUND_POLICY_NONE] = NULL,
                                                    [XDS_OUTBOUND_POLICY_ALLOW_ANY] = "ALLOW_ANY",
                                                    [XDS_OUTBOUND_POLICY_REGISTRY_ONLY] = "REGISTRY_ONLY"};

static const char *const ENDPOINT_TLS_NAMES[] = {[XDS_TLS_NONE] = "NONE",
                                                 [XDS_TLS_ISTIO_MUTUAL] = "ISTIO_MUTUAL",
                                                 [XDS_TLS_SIMPLE] = "SIMPLE",
                                                 [XDS_TLS_MUTUAL] = "MUTUAL"};

static const char *const TLS_NAMES[] = {[RESOURCE_TLS_DISABLE] = "DISABLE",
                                        [RESOURCE_TLS_SIMPLE] = "SIMPLE",
                                        [RESOURCE_TLS_MUTUAL] = "MUTUAL",
                                        [RESOURCE_TLS_ISTIO_MUTUAL] = "ISTIO_MUTUAL"};

static const char *const CONTEXT_NAMES[] = {[RESOURCE_CONTEXT_ANY] = "ANY",
                                            [RESOURCE_CONTEXT_SIDECAR_INBOUND] = "SIDECAR_INBOUND",
                                            [RESOURCE_CONTEXT_SIDECAR_OUTBOUND] = "SIDECAR_OUTBOUND",
                                            [RESOURCE_CONTEXT_GATEWAY] = "GATEWAY"};

#endif
