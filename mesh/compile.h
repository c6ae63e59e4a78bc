/* compile: the control plane's compile step, from Istio resources plus the registry to one
 * immutable routing config per proxy (what istiod sends Envoy over xDS, as one document).
 *
 * Where it sits: the lab keeps the resource store and the registry; on every change it calls
 * compile_sidecar() for each workload (and compile_gateway() for the ingress), serialises the
 * result with compile_to_json() and pushes it; the sidecar parses it with compile_from_json()
 * and swaps it in whole. router.c answers "where does this request go" from it and lb.c picks
 * the endpoint. Pure: no I/O, no clock; the version comes from the caller's counter.
 *
 * The pieces are named after Envoy's discovery services, prefixed xds_:
 *
 *   proxy_config
 *   ├─ route_configs[]   (RDS) sidecar: "outbound" (the explicit-proxy listener, every reachable
 *   │   │                service) and "inbound|PORT" (the workload's own ports → local app);
 *   │   │                gateway: "http.PORT" per Gateway server port
 *   │   └─ vhosts[]      one per service port (outbound) or per host (gateway): Istio's domains
 *   │       └─ routes[]  VirtualService http[] rules in order (first match wins), or the default
 *   │           │        route to every endpoint of the service
 *   │           ├─ match[]        ORed blocks of ANDed conditions
 *   │           └─ destinations[] weighted; each names its cluster (NULL: 503 NC)
 *   └─ clusters[]        (CDS+EDS) "outbound|9080|v1|reviews.default.svc.cluster.local",
 *                        "inbound|9080||": endpoints and the resolved DestinationRule policy
 *
 * Ownership: a proxy_config owns everything it points to (one arena plus compiled regexes) and
 * never changes after it is built; free it with proxy_config_free(). Resilience data
 * (retries, timeouts, faults, mirrors, header operations, connection pools, outlier detection,
 * TLS) is carried in the resource structs' types (resource.h) with `.value` effective, so the
 * resilience code reads the same fields it would read from the resource.
 */
#ifndef MESH_COMPILE_H
#define MESH_COMPILE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/authz.h"
#include "mesh/buf.h"
#include "mesh/jwt.h"
#include "mesh/registry.h"
#include "mesh/resource.h"

/* ---- matches -------------------------------------------------------------------------------- */

enum xds_match_kind {
  XDS_MATCH_ANY, /* the condition is not set */
  XDS_MATCH_EXACT,
  XDS_MATCH_PREFIX,
  XDS_MATCH_REGEX,   /* POSIX ERE, anchored to the whole value (RE2 full match in Envoy) */
  XDS_MATCH_PRESENT, /* headers / queryParams written as `{}` */
};

struct xds_string_match {
  enum xds_match_kind kind;
  char *value;    /* NULL for ANY and PRESENT */
  regex_t *regex; /* compiled when kind is REGEX */
};

struct xds_named_match { /* headers, withoutHeaders, queryParams entries */
  char *name;            /* header names lowercase, as Istio requires */
  struct xds_string_match match;
};

struct xds_match { /* one block of `match[]`: every set condition must hold */
  char *name;
  struct xds_string_match uri, scheme, method, authority;
  bool ignore_uri_case; /* exact and prefix uri matches only (Istio's rule) */
  struct xds_named_match *headers;
  size_t headers_len;
  struct xds_named_match *without_headers; /* matches when the header is absent or does not match */
  size_t without_headers_len;
  struct xds_named_match *query_params;
  size_t query_params_len;
  uint32_t port;                     /* 0 = any */
  struct resource_map source_labels; /* the calling workload must carry all of these */
};

/* ---- routes --------------------------------------------------------------------------------- */

struct xds_cluster;

struct xds_destination {
  char *host;    /* FQDN as resolved in the VirtualService's namespace */
  char *subset;  /* NULL: every endpoint */
  uint32_t port; /* resolved service port; 0 when it could not be resolved */
  uint32_t weight;
  struct resource_headers headers;   /* route[].headers, carried */
  const char *cluster_name;          /* Istio's name even when the cluster is missing */
  const struct xds_cluster *cluster; /* NULL: no such cluster or subset: 503 NC */
  char *missing;                     /* why cluster is NULL (for the "why" trace), else NULL */
};

enum xds_action { XDS_ACTION_ROUTE, XDS_ACTION_REDIRECT, XDS_ACTION_DIRECT_RESPONSE };

struct xds_route {
  char *name;              /* http[].name, or NULL */
  char *vs_name, *vs_ns;   /* the VirtualService it came from; NULL for a default route */
  int rule;                /* index in the VirtualService's http[]; -1 for a default route */
  struct xds_match *match; /* ORed; none = every request */
  size_t match_len;
  enum xds_action action;
  struct xds_destination *destinations;
  size_t destinations_len;
  uint64_t total_weight; /* sum of weights; picks draw below it */
  /* Carried for the resilience and header code (effective values in .value): */
  struct resource_ms timeout;
  struct resource_retries retries;
  struct resource_fault fault;
  bool mirror_present;
  struct xds_destination mirror;
  struct resource_pct mirror_percentage;
  struct resource_headers headers;
  struct resource_rewrite rewrite;
  struct resource_redirect redirect;
  struct resource_direct_response direct_response;
};

/* ---- virtual hosts and route configs -------------------------------------------------------- */

struct xds_vhost {
  char *name;     /* "reviews.default.svc.cluster.local:9080", "*", "inbound|http|9080" */
  uint32_t port;  /* the service port this vhost serves; 0 = any port */
  char **domains; /* Istio's set: short name (same namespace only), name.ns, name.ns.svc, FQDN,
                     each with and without ":port"; gateways: the VirtualService hosts */
  size_t domains_len;
  struct xds_route *routes;
  size_t routes_len;
};

/* One entry of a route config's host index: a lowercase domain without its port and the
 * vhosts that list it, sorted by port (one per port of a multi-port service). */
struct xds_domain_slot {
  char *host; /* NULL: empty slot */
  size_t host_len;
  uint64_t hash;
  const struct xds_vhost **vhosts;
  size_t vhosts_len;
};

/* The mesh option outboundTrafficPolicy.mode (Istio's MeshConfig): what a sidecar's outbound
 * listener does with a host no vhost serves (router.h). Istio builds it as a catch-all vhost
 * "*" after every service's vhosts: "allow_any" routing to PassthroughCluster (the request's
 * original destination), or "block_all" answering a direct response 502 (BlackHoleCluster in
 * Istio's telemetry). Only a sidecar's "outbound" config carries a mode: inbound listeners and
 * gateways answer an unknown host 404 NR (Istio's gateways never pass through). */
enum xds_outbound_policy {
  XDS_OUTBOUND_POLICY_NONE,      /* inbound and gateway configs: 404 NR */
  XDS_OUTBOUND_POLICY_ALLOW_ANY, /* Istio's default */
  XDS_OUTBOUND_POLICY_REGISTRY_ONLY,
};

/* "ALLOW_ANY", "REGISTRY_ONLY"; "" for NONE. */
const char *xds_outbound_policy_name(enum xds_outbound_policy p);
/* Parses "ALLOW_ANY" or "REGISTRY_ONLY" (exact, as Istio's enum); returns 0 or -EINVAL. */
int xds_outbound_policy_parse(const char *text, enum xds_outbound_policy *out);

struct xds_route_config {
  char *name;                               /* "outbound", "inbound|9080", "http.8080" */
  enum xds_outbound_policy outbound_policy; /* sidecar "outbound" only, else NONE */
  uint32_t port; /* the listener's port (inbound, gateway); 0 for outbound: from the authority */
  struct xds_vhost *vhosts;
  size_t vhosts_len;
  /* Envoy's local rate limit (envoy.filters.http.local_ratelimit) that an EnvoyFilter puts in
   * this listener's HTTP chain, or NULL for none; ratelimit.h runs it. Owned by the config.
   * When the chosen patch is an HTTP_ROUTE one (per_route: the token bucket of
   * typed_per_filter_config), it replaces the filter's own bucket as Envoy's per-route config
   * does, and applies to the whole listener: meshlab does not keep the patch's vhost and route
   * match (an inbound listener has a single vhost and route, so there it is exact). Each
   * listener of each proxy keeps its own bucket, as every Envoy does. */
  const struct resource_local_rate_limit *local_rate_limit;
  char *local_rate_limit_source; /* the EnvoyFilter, "istio-system/filter-local-ratelimit-svc" */
  /* Derived, not serialised: open-addressing hash from a lowercase domain without port to the
   * vhosts that list it, so lookup cost does not grow with the number of services. */
  struct xds_domain_slot *index;
  size_t index_cap;
  /* Sidecar inbound only: the effective PeerAuthentication mode of this port (never UNSET:
   * nothing set anywhere is PERMISSIVE) and the resource that decided it (NULL: the default). */
  enum resource_mtls_mode mtls;
  char *mtls_source; /* "PeerAuthentication default/reviews (port 9080)" */
};

/* ---- clusters ------------------------------------------------------------------------------- */

/* How a client sidecar talks to one endpoint (Envoy's transport socket match on the endpoint's
 * tlsMode, which is how Istio's auto mTLS works): outbound only. */
enum xds_tls_mode {
  XDS_TLS_NONE,         /* plaintext: outside the mesh, the peer DISABLEs mTLS, or a DR says DISABLE */
  XDS_TLS_ISTIO_MUTUAL, /* mutual TLS with the workload identity (auto mTLS, or a DR ISTIO_MUTUAL) */
  XDS_TLS_SIMPLE,       /* DR tls.mode SIMPLE: TLS originated with the lab identity */
  XDS_TLS_MUTUAL,       /* DR tls.mode MUTUAL: likewise (credential files are not supported) */
};

struct xds_endpoint {
  char *address; /* "127.1.0.5" or a DNS name (ServiceEntry) or "unix:/path" (inbound app) */
  uint32_t port; /* 0 for unix sockets */
  bool healthy;
  char *workload; /* "reviews-v2"; NULL outside the mesh */
  char *replica;  /* "reviews-v2-0" */
  struct resource_map labels;
  enum xds_tls_mode tls; /* outbound: the transport this sidecar uses toward it */
  char *identity;        /* outbound, in the mesh: the SPIFFE ID its certificate must carry
                            (its service account's, as Envoy's SAN match), else NULL */
};

/* A DestinationRule traffic policy resolved for one cluster: service level, then the port's
 * portLevelSettings, then the subset's policy, then the subset's portLevelSettings, each
 * replacing whole sub-objects (Istio's MergeTrafficPolicy). Absent parts hold Istio's defaults
 * with present == false. */
struct xds_policy {
  char *source; /* "DestinationRule default/reviews (subset v2, port 9080)", or NULL: defaults */
  struct resource_load_balancer load_balancer;
  struct resource_connection_pool connection_pool;
  struct resource_outlier_detection outlier_detection;
  struct resource_client_tls tls;
};

enum xds_direction { XDS_OUTBOUND, XDS_INBOUND };

struct xds_cluster {
  char *name; /* "outbound|9080|v2|reviews.default.svc.cluster.local", "inbound|9080||" */
  enum xds_direction direction;
  char *service; /* FQDN; NULL for inbound */
  uint32_t port; /* service port */
  char *subset;  /* NULL for subsetless */
  bool external; /* a MESH_EXTERNAL ServiceEntry */
  struct xds_policy policy;
  struct xds_endpoint *endpoints;
  size_t endpoints_len;
};

/* ---- the config (proxy_config.c) ------------------------------------------------------------ */

enum proxy_config_kind { PROXY_CONFIG_SIDECAR, PROXY_CONFIG_GATEWAY };

/* One jwtRule of a RequestAuthentication that selects the proxy, with its key set parsed once
 * per config (proxy_config_finish), never per request. */
struct xds_jwt_rule {
  const struct resource *source;        /* the RequestAuthentication (in cfg->security) */
  const struct resource_jwt_rule *rule; /* borrowed from source */
  struct jwk_set *keys;                 /* owned: the inline jwks; NULL for a jwksUri (the proxy's cache) */
  char *keys_error;                     /* owned: why an inline jwks did not parse, else NULL */
};

/* End-user authentication and authorization that select the proxy (security.istio.io), as
 * istiod puts envoy.filters.http.jwt_authn then envoy.filters.http.rbac in the HTTP chain of
 * every inbound listener of a sidecar and of every listener of a gateway. A policy applies
 * when it lives in the proxy's namespace or in the root namespace (mesh-wide) and its selector
 * labels are all on the proxy (no selector: every proxy there). Selection is per workload, so
 * every inbound listener shares the one set; `to.operation.ports` rules tell ports apart. */
struct xds_security {
  struct resource_list policies; /* owned copies: RequestAuthentications, then AuthorizationPolicies,
                                    each in store order */
  /* Derived by proxy_config_finish, not serialised: */
  struct xds_jwt_rule *jwt_rules;
  size_t jwt_rules_len;
  struct authz_policy *authz; /* borrowed from policies, for authz_evaluate */
  size_t authz_len;
};

struct proxy_config {
  uint64_t version;
  enum proxy_config_kind kind;
  char *node; /* the workload (Deployment) name, or the gateway's name */
  char *ns;
  struct resource_map labels; /* the proxy's own labels: default source labels for matches */
  struct xds_route_config *route_configs;
  size_t route_configs_len;
  struct xds_cluster *clusters; /* sorted by name */
  size_t clusters_len;
  struct xds_security security;
  /* internals */
  struct arena arena;
  regex_t **regexes; /* every compiled regex, freed with the config */
  size_t regexes_len, regexes_cap;
};

/* Frees a config and everything it owns. proxy_config_free(NULL) is a no-op. */
void proxy_config_free(struct proxy_config *cfg);
/* The cluster called name (binary search), or NULL. Borrowed from cfg. */
const struct xds_cluster *proxy_config_cluster(const struct proxy_config *cfg, const char *name);
/* The route config called name ("outbound", "inbound|9080", "http.8080"), or NULL. */
const struct xds_route_config *proxy_config_route_config(const struct proxy_config *cfg, const char *name);
/* The route config of a listener: kind OUTBOUND gives "outbound"; INBOUND the inbound config for
 * that port; gateways the server port's config. NULL when none. */
const struct xds_route_config *proxy_config_listener(const struct proxy_config *cfg, enum xds_direction dir,
                                                     uint32_t port);

/* The index slot for host (case-insensitive, no port), or NULL. O(1) expected. Borrowed. */
const struct xds_domain_slot *proxy_config_domain_find(const struct xds_route_config *rc, const char *host, size_t len);

/* ---- compiling ------------------------------------------------------------------------------ */

/* The lab's compile counter: every successful compile gets the next version. Zero-initialise. */
struct compile_state {
  uint64_t version;
};

struct compile_input {
  struct resource *const *items; /* the resource store (borrowed) */
  size_t len;
  const struct registry *registry;          /* borrowed; endpoints and topology */
  const char *root_ns;                      /* mesh root namespace; NULL = "istio-system" */
  enum xds_outbound_policy outbound_policy; /* mesh outboundTrafficPolicy.mode; NONE = ALLOW_ANY */
};

/* Compiles the config of the sidecar of workload `name` in `ns`:
 *  - route config "outbound": a vhost per port of every Service and ServiceEntry host, routes
 *    from the VirtualServices bound to `mesh` (gateways empty or listing "mesh") whose hosts
 *    cover it (match blocks that name other gateways dropped, rules left with no block dropped,
 *    Istio's rule), or a default route to every endpoint when no VirtualService does; it
 *    carries in->outbound_policy for hosts none of them serves (NONE given: ALLOW_ANY);
 *  - a route config "inbound|TARGETPORT" per port of every Service selecting the workload, with
 *    one vhost "*" routed to cluster "inbound|PORT||" whose endpoint is app_address
 *    ("unix:/path" or "HOST:PORT"; NULL: the replica's own address at the target port);
 *  - every cluster: subsetless and one per subset of the DestinationRule found for the host
 *    (client namespace, then service namespace, then root namespace; exact host before the
 *    longest wildcard), with endpoints from the registry and the merged policy.
 *  - on each route config, the local rate limit of the EnvoyFilters that apply to the workload
 *    (see compile_rate_limits below);
 *  - the RequestAuthentications and AuthorizationPolicies that select the workload, copied
 *    into cfg->security for its inbound listeners (struct xds_security).
 * Borrows everything; on success returns 0 and *out (owned) with version = ++st->version.
 * Problems that do not stop compiling (a regex POSIX cannot compile, a destination port that
 * cannot be resolved) go to diags as warnings. Returns -ENOENT when the workload is unknown,
 * -ENOMEM. */
int compile_sidecar(struct compile_state *st, const struct compile_input *in, const char *ns, const char *name,
                    const char *app_address, struct proxy_config **out, struct diag_list *diags);

/* Local rate limits (EnvoyFilter, Istio's rate-limiting task), placed by both compile calls:
 * an EnvoyFilter applies to a proxy when it lives in the proxy's namespace or in the root
 * namespace and its workloadSelector labels are all on the proxy (no selector: every proxy
 * there). A patch's context picks the route configs: SIDECAR_INBOUND the "inbound|PORT"
 * ones, SIDECAR_OUTBOUND "outbound", GATEWAY the gateway's "http.PORT" ones, ANY all of
 * them; a listener.portNumber (or routeConfiguration.portNumber) must equal the config's port
 * (the one outbound config serves every port, so any port number matches it). The first
 * HTTP_FILTER patch that fits (store order, then patch order) installs the filter; an
 * HTTP_ROUTE patch that fits replaces its bucket; a filter without a token bucket and no
 * per-route patch limits nothing, and a per-route patch without the filter is not read (Envoy
 * only consults per-route config for filters in the chain). */

/* Compiles the config of a gateway proxy called `name` in `ns` carrying `labels` (e.g.
 * istio: ingressgateway): every Gateway whose selector matches the labels contributes its
 * HTTP servers (protocol HTTP, HTTP2 or GRPC; HTTPS/TLS servers are skipped with a warning
 * until TLS termination exists); a route config "http.PORT" per server port holds a vhost per
 * VirtualService host that the server's hosts admit (`*`, `host`, `ns/host`, `./host`, `*` + `/host`),
 * with the routes of the VirtualServices that name that Gateway. Clusters as for sidecars.
 * Same ownership and returns as compile_sidecar. */
int compile_gateway(struct compile_state *st, const struct compile_input *in, const char *ns, const char *name,
                    const struct resource_map *labels, struct proxy_config **out, struct diag_list *diags);

/* ---- mTLS (compile_mtls.c) ----------------------------------------------------------------- */

/* The PeerAuthentication mode in force for workload port `port` of a workload in `ns` carrying
 * `labels`: workload scope (a policy in ns whose selector matches; its portLevelMtls entry for the
 * port first) over namespace scope (no selector in ns) over mesh scope (no selector in the root
 * namespace); UNSET defers to the next scope; nothing set is PERMISSIVE. Several policies at one
 * scope: the oldest by name wins (Istio takes the oldest by creation time; meshlab has none, so
 * the name order stands in). *source (may be NULL) gets the deciding resource or NULL. */
enum resource_mtls_mode compile_peer_mtls(const struct compile_input *in, const char *ns,
                                          const struct resource_map *labels, uint32_t port,
                                          const struct resource **source);
/* The transport toward one outbound endpoint: a DestinationRule tls mode (policy, present)
 * overrides; otherwise auto mTLS: ISTIO_MUTUAL toward an in-mesh workload whose port is not
 * DISABLE, plaintext otherwise. peer_mode is compile_peer_mtls of the endpoint (ignored when
 * in_mesh is false). */
enum xds_tls_mode compile_endpoint_tls(const struct resource_client_tls *policy, bool in_mesh,
                                       enum resource_mtls_mode peer_mode);
/* "DISABLE", "PERMISSIVE", "STRICT" ("UNSET" for UNSET) / "NONE", "ISTIO_MUTUAL" ... */
const char *compile_mtls_name(enum resource_mtls_mode m);
const char *compile_tls_name(enum xds_tls_mode m);

/* ---- JSON (compile_json.c) ------------------------------------------------------------------ */

/* Serialises cfg (indent 0: one compact line). Returns 0 and *out (owned: free()), or -ENOMEM.
 * The shape is documented in docs/routing.md. */
int compile_to_json(const struct proxy_config *cfg, int indent, char **out);
/* Parses and validates what compile_to_json wrote, rebuilding the derived parts (regexes,
 * cluster pointers, host index). Unknown fields are errors. On error returns -EINVAL and writes
 * "NAME: PATH: what is wrong" (or "NAME:LINE:COL: ..." for JSON syntax) into err; -ENOMEM.
 * Borrows text and name; on success *out is owned. */
int compile_from_json(const char *text, size_t len, const char *name, struct proxy_config **out, char *err,
                      size_t errlen);

/* ---- building a config (proxy_config.c, for compile.c and compile_json.c) ---------------- */

/* Builds the derived parts of a config whose plain data is complete: sorts clusters, links
 * destinations to clusters by name, builds each route config's host index, parses each inline
 * jwks once into a key set (a set that does not parse is kept as keys_error: its tokens get
 * 401 "Jwks remote fetch is failed"-style refusals rather than the whole config failing) and
 * lists the AuthorizationPolicies for authz_evaluate. Returns 0 or -ENOMEM. */
int proxy_config_finish(struct proxy_config *cfg);
/* Whether a RequestAuthentication or AuthorizationPolicy r selects a proxy in ns with labels,
 * root_ns being the mesh-wide namespace (NULL: "istio-system"). */
bool compile_security_applies(const struct resource *r, const char *ns, const struct resource_map *labels,
                              const char *root_ns);
/* An owned copy of r (through resource_to_json and resource_parse, the one validating parser).
 * Appends it to list. Returns 0, -ENOMEM, or -EINVAL with why (should not happen: r was valid). */
int compile_security_copy(const struct resource *r, struct resource_list *list, char *why, size_t why_size);

/* Compiles a regex match (RE2 syntax, as Istio writes it) into cfg: regex_re2.h translates it
 * for POSIX and anchors it. Returns 0, -EINVAL with what POSIX cannot express in why, or
 * -ENOMEM. */
int proxy_config_regex(struct proxy_config *cfg, struct xds_string_match *m, bool icase, char *why, size_t whylen);

#endif
