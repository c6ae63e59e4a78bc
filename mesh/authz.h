/* authz: Istio's AuthorizationPolicy evaluated for one request, as Envoy's RBAC filters run the
 * configuration istiod generates. Pure: no I/O, no clock, no allocation.
 *
 * Where it sits: on the inbound request path after authentication (the mTLS peer identity and
 * jwt.h's request principal and claims), before routing. The proxy describes the request in a
 * struct authz_request and passes the AuthorizationPolicies that select the workload; the verdict
 * says allow or 403 "RBAC: access denied", which policy and rule decided, and a one-line reason
 * for the decision trace.
 *
 * Evaluation, as Istio documents it:
 *   CUSTOM   refused at apply (resource_security.c); nothing to evaluate here.
 *   DENY     any matching rule of any DENY policy denies ("DENY by default/deny-get rule 0").
 *   ALLOW    with no ALLOW policy the request is allowed; with some, one matching rule allows
 *            ("ALLOW by default/allow-jason rule 1") and none matching denies ("denied: ALLOW
 *            policies exist and none matched"). An ALLOW policy without rules (`spec: {}`)
 *            matches nothing, so it denies everything; `rules: [{}]` matches everything.
 *   AUDIT    a matching AUDIT policy is recorded in the verdict, never enforced.
 *   dry-run  a policy annotated istio.io/dry-run: "true" is evaluated on its own and its would-be
 *            decision recorded (dry_run_reason), never enforced.
 * Within a rule: from, to and when are ANDed; entries of from (and of to) are ORed; the fields of
 * a source or operation are ANDed; the values of one field are ORed; a not-field matches when
 * none of its values do. String values match exactly, by prefix ("abc*"), by suffix ("*abc"), or
 * "*" = any non-empty value (so requestPrincipals: ["*"] needs a token with both iss and sub).
 */
#ifndef MESHLAB_AUTHZ_H
#define MESHLAB_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/resource.h"

struct json_t; /* jansson's json_t */

/* Envoy's RBAC denial body. */
#define AUTHZ_DENIED_BODY "RBAC: access denied"

struct authz_header {
  const char *name; /* compared case-insensitively */
  const char *value;
};

/* One request as authorization sees it. Everything borrowed; NULL = absent. */
struct authz_request {
  /* The peer, from mTLS. */
  const char *source_principal; /* "cluster.local/ns/default/sa/sleep" */
  const char *source_namespace; /* NULL: taken from source_principal's /ns/<ns>/ */
  const char *source_ip;        /* the direct peer's address */
  const char *remote_ip;        /* the original client (X-Forwarded-For); NULL: source_ip */
  const char *destination_ip;
  const char *sni; /* connection.sni */
  /* The end user, from jwt.h (request.auth.*). */
  const char *request_principal; /* "<iss>/<sub>" */
  const struct json_t *claims;   /* the token's claims object */
  const char *const *audiences;  /* none: the claims' "aud" (string or array) */
  size_t audiences_len;
  const char *presenter; /* NULL: the claims' "azp" */
  /* HTTP. */
  const struct authz_header *headers;
  size_t headers_len;
  const char *host; /* :authority */
  uint32_t port;    /* the destination (workload) port */
  const char *method;
  const char *path; /* may carry ?query, which paths ignore (Envoy matches url_path) */
};

/* A policy that applies to the workload: its metadata and its parsed spec (borrowed). */
struct authz_policy {
  const char *name;
  const char *namespace;
  const struct resource_authorization_policy *spec;
};

enum authz_decision {
  AUTHZ_ALLOWED,
  AUTHZ_DENIED,
};

struct authz_verdict {
  enum authz_decision decision;
  int status;                        /* 0 or 403 */
  const char *body;                  /* AUTHZ_DENIED_BODY when denied, else NULL */
  const struct authz_policy *policy; /* the policy whose rule decided; NULL for a default */
  int rule;                          /* that rule's index; -1 for a default */
  char reason[256];                  /* one line for the decision trace */
  const struct authz_policy *audit;  /* the first AUDIT policy that matched; NULL if none */
  int audit_rule;
  char dry_run_reason[256]; /* what the dry-run policies would decide; "" if none */
};

/* Evaluates policies (borrowed, n of them) for req (borrowed) and fills out. */
void authz_evaluate(const struct authz_policy *policies, size_t n, const struct authz_request *req,
                    struct authz_verdict *out);

/* The condition keys meshlab evaluates: Istio's supported set (conditions doc), minus
 * experimental.envoy.filters.*, which needs Envoy filter metadata meshlab does not have.
 * resource_security.c refuses any other key at apply. */
bool authz_condition_key_supported(const char *key);

#endif
