/* resource: Istio's configuration kinds and the Kubernetes topology objects, as typed plain
 * structs, validated once when applied (control plane; nothing at runtime re-parses YAML).
 *
 * Where it sits: `meshlab apply -f` reads YAML (yamldoc.h builds a positioned tree), this
 * module validates the tree against Istio's field tables and fills the structs below, the
 * control plane stores them and compiles per-sidecar views from them; `meshlab get -o yaml`,
 * `-o json` and `meshlab export istio` write them back out. An apply is all-or-nothing:
 * resource_parse() either returns every object of the input or none, with every problem
 * reported (not just the first) as FILE:LINE:COL, field path, what is wrong and what would be
 * right.
 *
 * Istio kinds are strict: an unknown field is an error (Istio ignores some, which confuses
 * learners), a field meshlab does not implement yet is an error that says so, and old names
 * (consecutiveErrors, percent, MeshPolicy, Policy) are refused with the modern name.
 * Kubernetes objects (Service, ServiceAccount, Deployment) are lenient: fields the lab has no
 * use for are accepted and kept as DIAG_NOTE notes on the resource for `meshlab analyze`.
 *
 * Optional values that have an Istio default are wrapped (resource_u32, resource_ms ...):
 * `.value` holds what the data path should use (the user's value or Istio's default) and
 * `.set` says whether the user wrote it, so writers emit only what the user set. Optional
 * sub-objects carry `present`. Every string and array of a resource lives in the resource's
 * own arena: resource_free() releases it all at once.
 */
#ifndef MESHLAB_RESOURCE_H
#define MESHLAB_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/diag.h"

/* ---- kinds ------------------------------------------------------------------------------- */

enum resource_kind {
  RESOURCE_VIRTUAL_SERVICE,
  RESOURCE_DESTINATION_RULE,
  RESOURCE_GATEWAY,
  RESOURCE_SERVICE_ENTRY,
  RESOURCE_PEER_AUTHENTICATION,
  RESOURCE_REQUEST_AUTHENTICATION,
  RESOURCE_AUTHORIZATION_POLICY,
  RESOURCE_ENVOY_FILTER,
  RESOURCE_SERVICE,
  RESOURCE_SERVICE_ACCOUNT,
  RESOURCE_DEPLOYMENT,
};
enum { RESOURCE_KIND_COUNT = RESOURCE_DEPLOYMENT + 1 };

/* "VirtualService" ... "Deployment". */
const char *resource_kind_name(enum resource_kind kind);
/* API group: "networking.istio.io", "security.istio.io", "" (core v1) or "apps". */
const char *resource_kind_group(enum resource_kind kind);
/* The apiVersion writers emit: networking.istio.io/v1, security.istio.io/v1,
 * networking.istio.io/v1alpha3 (EnvoyFilter), v1, apps/v1. */
const char *resource_kind_api_version(enum resource_kind kind);
/* kubectl's resource name: "virtualservice.networking.istio.io", "service", "deployment.apps". */
const char *resource_kind_resource_name(enum resource_kind kind);
/* Looks up a kind the way `kubectl get` does: Kind, lowercase, plural or short name ("vs",
 * "dr", "gw", "se", "pa", "ra", "ap", "svc", "sa", "deploy"), case-insensitive. Borrows name.
 * Returns 0 and sets *kind, or -ENOENT. */
int resource_kind_parse(const char *name, enum resource_kind *kind);
/* True for the Istio kinds (strict validation), false for Kubernetes topology objects. */
bool resource_kind_is_istio(enum resource_kind kind);

/* ---- small building blocks ---------------------------------------------------------------- */

struct resource_pos {
  int line, col; /* 1-based; 0 when built without source text */
};

/* A uint32 field with an Istio default: value is effective, set says the user wrote it. */
struct resource_u32 {
  uint32_t value;
  bool set;
};
/* A duration in milliseconds (Istio accepts ms precision, minimum 1ms). */
struct resource_ms {
  int64_t ms;
  bool set;
};
/* A percentage 0..100 (Istio's `Percent {value: double}`). */
struct resource_pct {
  double value;
  bool set;
};
struct resource_flag {
  bool value;
  bool set;
};

struct resource_strings {
  char **items;
  struct resource_pos *pos; /* pos[i] is where items[i] was written */
  size_t len;
};

struct resource_map_entry {
  char *key;
  char *value;
};
/* A string-to-string map (labels, selectors, header values) in document order. */
struct resource_map {
  struct resource_map_entry *items;
  size_t len;
};
/* The value under key, or NULL. Borrows both; the result is borrowed from map. */
const char *resource_map_get(const struct resource_map *map, const char *key);
/* True when every entry of `selector` is present with the same value in `labels`. */
bool resource_map_matches(const struct resource_map *selector, const struct resource_map *labels);

/* A host as written ("reviews") and resolved against the resource's namespace
 * ("reviews.default.svc.cluster.local"); see resource_host_fqdn(). */
struct resource_host {
  char *written;
  char *fqdn;
  struct resource_pos pos;
};

enum resource_match_type {
  RESOURCE_MATCH_NONE, /* not set; for headers/queryParams `{}` means "present" */
  RESOURCE_MATCH_EXACT,
  RESOURCE_MATCH_PREFIX,
  RESOURCE_MATCH_REGEX, /* RE2 syntax, as Envoy; stored, not compiled here */
};
struct resource_string_match {
  enum resource_match_type type;
  char *value;
};
struct resource_named_match { /* headers, queryParams, withoutHeaders entries */
  char *name;
  struct resource_string_match match;
};

/* ---- VirtualService ------------------------------------------------------------------------ */

struct resource_destination {
  struct resource_host host;
  char *subset;  /* NULL: every endpoint of the host */
  uint32_t port; /* port.number; 0 when not written */
  struct resource_pos pos;
  struct resource_pos subset_pos;
};

struct resource_header_ops {
  struct resource_map set, add;
  struct resource_strings remove;
};
struct resource_headers {
  bool present;
  struct resource_header_ops request, response;
};

struct resource_http_match {
  char *name;
  struct resource_string_match uri, scheme, method, authority;
  struct resource_named_match *headers;
  size_t headers_len;
  struct resource_named_match *query_params;
  size_t query_params_len;
  struct resource_named_match *without_headers;
  size_t without_headers_len;
  uint32_t port; /* 0 = any */
  struct resource_map source_labels;
  struct resource_strings gateways;
  struct resource_flag ignore_uri_case;
};

struct resource_route_destination {
  struct resource_destination destination;
  struct resource_u32 weight; /* relative; a lone destination gets all traffic */
  struct resource_headers headers;
};

/* Istio's default when a route has no `retries`: attempts 2 on these conditions (plus 503 as
 * a retriable status code and a previous-hosts predicate; see docs/resources.md). */
#define RESOURCE_DEFAULT_RETRY_ON "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"

struct resource_retries {
  bool present;
  struct resource_u32 attempts;       /* default 2; 0 disables retries */
  struct resource_ms per_try_timeout; /* default: none (the route timeout) */
  char *retry_on;                     /* never NULL after parsing; retry_on_set says written */
  bool retry_on_set;
  struct resource_flag retry_remote_localities;
};

struct resource_fault_delay {
  bool present;
  struct resource_ms fixed_delay;
  struct resource_pct percentage; /* not set: 0, no request is delayed (Istio API comment) */
};
struct resource_fault_abort {
  bool present;
  uint32_t http_status; /* 0 when grpc_status is used */
  char *grpc_status;    /* e.g. "UNAVAILABLE" */
  struct resource_pct percentage;
};
struct resource_fault {
  bool present;
  struct resource_fault_delay delay;
  struct resource_fault_abort abort;
};

struct resource_rewrite {
  bool present;
  char *uri;
  char *authority;
};
struct resource_redirect {
  bool present;
  char *uri;
  char *authority;
  uint32_t port;
  char *scheme;
  struct resource_u32 redirect_code; /* default 301 */
};
struct resource_direct_response {
  bool present;
  uint32_t status;
  char *body; /* body.string; NULL when none */
};

struct resource_http_route {
  char *name;
  struct resource_pos pos;
  struct resource_http_match *match; /* OR of blocks; none = match everything */
  size_t match_len;
  struct resource_route_destination *route;
  size_t route_len;
  struct resource_ms timeout; /* default disabled (0) */
  struct resource_retries retries;
  struct resource_fault fault;
  bool mirror_present;
  struct resource_destination mirror;
  struct resource_pct mirror_percentage; /* default 100 when mirror is present */
  struct resource_headers headers;
  struct resource_rewrite rewrite;
  struct resource_redirect redirect;
  struct resource_direct_response direct_response;
};

struct resource_l4_match {
  uint32_t port;
  struct resource_map source_labels;
  struct resource_strings destination_subnets;
  struct resource_strings gateways;
};
struct resource_tcp_route {
  struct resource_pos pos;
  struct resource_l4_match *match;
  size_t match_len;
  struct resource_route_destination *route;
  size_t route_len;
};

struct resource_virtual_service {
  struct resource_host *hosts;
  size_t hosts_len;
  struct resource_strings gateways; /* empty: "mesh" (every sidecar) */
  struct resource_http_route *http;
  size_t http_len;
  struct resource_tcp_route *tcp;
  size_t tcp_len;
};

/* ---- DestinationRule ----------------------------------------------------------------------- */

enum resource_lb_simple {
  RESOURCE_LB_UNSPECIFIED,
  RESOURCE_LB_LEAST_REQUEST, /* Istio's default */
  RESOURCE_LB_ROUND_ROBIN,
  RESOURCE_LB_RANDOM,
  RESOURCE_LB_PASSTHROUGH,
  RESOURCE_LB_LEAST_CONN, /* deprecated alias of LEAST_REQUEST (accepted with a warning) */
};
enum resource_hash_key {
  RESOURCE_HASH_NONE,
  RESOURCE_HASH_HEADER,      /* httpHeaderName */
  RESOURCE_HASH_COOKIE,      /* httpCookie {name, path, ttl} */
  RESOURCE_HASH_SOURCE_IP,   /* useSourceIp */
  RESOURCE_HASH_QUERY_PARAM, /* httpQueryParameterName */
};
struct resource_consistent_hash {
  enum resource_hash_key key;
  char *name; /* header, cookie or query parameter name */
  char *cookie_path;
  struct resource_ms cookie_ttl;
  bool maglev;                           /* maglev written (else ring hash) */
  struct resource_u32 ring_size;         /* ringHash.minimumRingSize, default 1024 */
  struct resource_u32 maglev_table_size; /* maglev.tableSize, default 65537 */
};
struct resource_load_balancer {
  bool present;
  bool simple_set;
  enum resource_lb_simple simple; /* LEAST_REQUEST when not set */
  bool hash_present;
  struct resource_consistent_hash consistent_hash;
};

struct resource_tcp_pool {
  bool present;
  struct resource_u32 max_connections; /* default 2^32-1 */
  struct resource_ms connect_timeout;  /* default 10s */
};
struct resource_http_pool {
  bool present;
  struct resource_u32 http1_max_pending_requests;  /* default 2^32-1; overflow -> 503 UO */
  struct resource_u32 http2_max_requests;          /* default 2^32-1 */
  struct resource_u32 max_requests_per_connection; /* default 0 = unlimited; 1 = no keep-alive */
  struct resource_u32 max_retries;                 /* default 2^32-1 */
};
struct resource_connection_pool {
  bool present;
  struct resource_tcp_pool tcp;
  struct resource_http_pool http;
};

struct resource_outlier_detection {
  bool present;                                          /* absent: no outlier detection at all */
  struct resource_u32 consecutive_5xx_errors;            /* default 5; 0 disables */
  struct resource_u32 consecutive_gateway_errors;        /* default 0 = disabled */
  struct resource_u32 consecutive_local_origin_failures; /* default 5 */
  struct resource_flag split_external_local_origin_errors;
  struct resource_ms interval;              /* default 10s */
  struct resource_ms base_ejection_time;    /* default 30s */
  struct resource_u32 max_ejection_percent; /* default 10 */
  struct resource_u32 min_health_percent;   /* default 0: panic mode off */
};

enum resource_tls_mode {
  RESOURCE_TLS_DISABLE,
  RESOURCE_TLS_SIMPLE,
  RESOURCE_TLS_MUTUAL,
  RESOURCE_TLS_ISTIO_MUTUAL,
};
struct resource_client_tls {
  bool present;
  enum resource_tls_mode mode;
  char *sni;
  struct resource_strings subject_alt_names;
  struct resource_flag insecure_skip_verify;
};

struct resource_port_policy { /* portLevelSettings[] */
  uint32_t port;
  struct resource_load_balancer load_balancer;
  struct resource_connection_pool connection_pool;
  struct resource_outlier_detection outlier_detection;
  struct resource_client_tls tls;
};

struct resource_traffic_policy {
  bool present;
  struct resource_load_balancer load_balancer;
  struct resource_connection_pool connection_pool;
  struct resource_outlier_detection outlier_detection;
  struct resource_client_tls tls;
  struct resource_port_policy *port_level;
  size_t port_level_len;
};

struct resource_subset {
  char *name;
  struct resource_pos pos;
  struct resource_map labels;
  struct resource_traffic_policy traffic_policy;
};

struct resource_destination_rule {
  struct resource_host host;
  struct resource_traffic_policy traffic_policy;
  struct resource_subset *subsets;
  size_t subsets_len;
};

/* ---- Gateway ---------------------------------------------------------------------------------- */

struct resource_port {
  uint32_t number;
  char *name;
  char *protocol;       /* HTTP, HTTPS, GRPC, HTTP2, TCP, TLS ... as written */
  uint32_t target_port; /* 0 when not written */
};

enum resource_server_tls_mode {
  RESOURCE_SERVER_TLS_SIMPLE,
  RESOURCE_SERVER_TLS_PASSTHROUGH,
  RESOURCE_SERVER_TLS_MUTUAL,
  RESOURCE_SERVER_TLS_AUTO_PASSTHROUGH,
  RESOURCE_SERVER_TLS_ISTIO_MUTUAL,
  RESOURCE_SERVER_TLS_OPTIONAL_MUTUAL,
};
struct resource_server_tls {
  bool present;
  struct resource_flag https_redirect;
  bool mode_set;
  enum resource_server_tls_mode mode; /* only SIMPLE is accepted so far */
  char *credential_name;
};

struct resource_server {
  char *name;
  struct resource_pos pos;
  struct resource_port port;
  struct resource_strings hosts; /* may be "ns/host" */
  struct resource_server_tls tls;
};

struct resource_gateway {
  struct resource_map selector; /* e.g. istio: ingressgateway */
  struct resource_server *servers;
  size_t servers_len;
};

/* ---- ServiceEntry ----------------------------------------------------------------------------- */

enum resource_location { RESOURCE_MESH_EXTERNAL, RESOURCE_MESH_INTERNAL };
enum resource_resolution {
  RESOURCE_RESOLUTION_NONE,
  RESOURCE_RESOLUTION_STATIC,
  RESOURCE_RESOLUTION_DNS,
  RESOURCE_RESOLUTION_DNS_ROUND_ROBIN,
};

struct resource_named_port {
  char *name;
  uint32_t number;
};
struct resource_workload_entry { /* ServiceEntry endpoints[] */
  char *address;
  struct resource_named_port *ports;
  size_t ports_len;
  struct resource_map labels;
  char *network;
  char *locality;
  struct resource_u32 weight;
  char *service_account;
};

struct resource_service_entry {
  struct resource_host *hosts; /* written as FQDNs; fqdn == written */
  size_t hosts_len;
  struct resource_port *ports;
  size_t ports_len;
  bool location_set;
  enum resource_location location; /* default MESH_EXTERNAL */
  bool resolution_set;
  enum resource_resolution resolution; /* default NONE */
  struct resource_workload_entry *endpoints;
  size_t endpoints_len;
};

/* ---- security.istio.io ------------------------------------------------------------------------- */

enum resource_mtls_mode {
  RESOURCE_MTLS_UNSET, /* inherit; nothing set anywhere = PERMISSIVE */
  RESOURCE_MTLS_DISABLE,
  RESOURCE_MTLS_PERMISSIVE,
  RESOURCE_MTLS_STRICT,
};
struct resource_port_mtls {
  uint32_t port;
  enum resource_mtls_mode mode;
};
struct resource_peer_authentication {
  bool has_selector; /* false: whole namespace (mesh-wide in istio-system) */
  struct resource_map selector;
  bool mtls_present;
  enum resource_mtls_mode mode;
  struct resource_port_mtls *port_level;
  size_t port_level_len;
};

struct resource_jwt_header {
  char *name;
  char *prefix; /* e.g. "Bearer "; NULL when not written */
};
struct resource_claim_header {
  char *header;
  char *claim;
};
struct resource_jwt_rule {
  char *issuer;
  struct resource_pos pos;
  struct resource_strings audiences;
  char *jwks_uri;
  char *jwks; /* inline JWKS JSON (checked to parse, with a "keys" array) */
  struct resource_jwt_header *from_headers;
  size_t from_headers_len;
  struct resource_strings from_params;
  struct resource_strings from_cookies;
  char *output_payload_to_header;
  struct resource_claim_header *output_claim_to_headers;
  size_t output_claim_to_headers_len;
  struct resource_flag forward_original_token; /* default false */
  struct resource_ms timeout;                  /* JWKS fetch, default 5s */
};
struct resource_request_authentication {
  bool has_selector;
  struct resource_map selector;
  struct resource_jwt_rule *jwt_rules;
  size_t jwt_rules_len;
};

enum resource_authz_action {
  RESOURCE_AUTHZ_ALLOW, /* default */
  RESOURCE_AUTHZ_DENY,
  RESOURCE_AUTHZ_AUDIT, /* recorded when matched, never enforced */
};
/* "ALLOW", "DENY", "AUDIT". */
const char *resource_authz_action_name(enum resource_authz_action action);
struct resource_authz_source {
  struct resource_strings principals, not_principals;
  struct resource_strings request_principals, not_request_principals;
  struct resource_strings namespaces, not_namespaces;
  struct resource_strings service_accounts, not_service_accounts;
  struct resource_strings ip_blocks, not_ip_blocks;
  struct resource_strings remote_ip_blocks, not_remote_ip_blocks;
};
struct resource_authz_operation {
  struct resource_strings hosts, not_hosts;
  struct resource_strings ports, not_ports;
  struct resource_strings methods, not_methods;
  struct resource_strings paths, not_paths;
};
struct resource_authz_condition {
  char *key; /* one of Istio's supported keys, checked at parse time */
  struct resource_pos pos;
  struct resource_strings values, not_values;
};
struct resource_authz_rule {
  struct resource_authz_source *from; /* from[i].source; entries ORed, fields ANDed */
  size_t from_len;
  struct resource_authz_operation *to; /* to[i].operation */
  size_t to_len;
  struct resource_authz_condition *when;
  size_t when_len;
};
struct resource_authorization_policy {
  bool has_selector;
  struct resource_map selector;
  bool action_set;
  enum resource_authz_action action;
  struct resource_authz_rule *rules; /* none with ALLOW = deny everything */
  size_t rules_len;
  bool dry_run; /* annotation istio.io/dry-run: "true" */
};

/* ---- EnvoyFilter (local rate limit only) -------------------------------------------------------- */

enum resource_patch_context {
  RESOURCE_CONTEXT_ANY,
  RESOURCE_CONTEXT_SIDECAR_INBOUND,
  RESOURCE_CONTEXT_SIDECAR_OUTBOUND,
  RESOURCE_CONTEXT_GATEWAY,
};
/* Envoy's local_ratelimit filter as Istio's rate-limiting task configures it. */
struct resource_local_rate_limit {
  enum resource_patch_context context;
  uint32_t port; /* listener.portNumber / routeConfiguration.portNumber; 0 = any */
  char *stat_prefix;
  uint32_t max_tokens;
  uint32_t tokens_per_fill; /* default 1 */
  int64_t fill_interval_ms;
  double enabled_percent;               /* filter_enabled, default 0 in Envoy: 100 in the task */
  double enforced_percent;              /* filter_enforced */
  struct resource_map response_headers; /* response_headers_to_add */
  bool per_route;                       /* came from an HTTP_ROUTE typed_per_filter_config patch */
};
struct resource_envoy_filter {
  struct resource_map workload_selector;
  struct resource_local_rate_limit *limits;
  size_t limits_len;
  char *spec_json; /* the spec exactly as written, as compact JSON, for writers */
};

/* ---- Kubernetes topology ------------------------------------------------------------------------ */

struct resource_service_port {
  char *name;
  uint32_t port;
  uint32_t target_port; /* 0 when named (target_port_name) or not written (= port) */
  char *target_port_name;
  char *protocol; /* TCP (default), UDP, SCTP */
};
struct resource_service {
  struct resource_service_port *ports;
  size_t ports_len;
  struct resource_map selector;
};

struct resource_container_port {
  uint32_t container_port;
  char *name;
  char *protocol;
};
struct resource_env_var {
  char *name;
  char *value; /* valueFrom is noted as ignored; value NULL then */
};
struct resource_container {
  char *name;
  char *image;
  struct resource_strings command, args;
  struct resource_container_port *ports;
  size_t ports_len;
  struct resource_env_var *env;
  size_t env_len;
};
struct resource_deployment {
  struct resource_u32 replicas;        /* default 1 */
  struct resource_map selector;        /* spec.selector.matchLabels */
  struct resource_map labels;          /* spec.template.metadata.labels: app, version ... */
  struct resource_map pod_annotations; /* spec.template.metadata.annotations */
  char *service_account_name;          /* "default" when not written */
  bool service_account_set;
  struct resource_container *containers;
  size_t containers_len;
};

/* ---- the resource ------------------------------------------------------------------------------- */

struct resource_meta {
  char *name;
  char *ns;        /* effective namespace */
  bool ns_written; /* metadata.namespace was in the input */
  struct resource_map labels;
  struct resource_map annotations;
};

struct resource_arena;

struct resource {
  enum resource_kind kind;
  char *api_version; /* as written, e.g. networking.istio.io/v1alpha3 */
  struct resource_meta meta;
  char *file;              /* where it came from, for messages */
  struct resource_pos pos; /* start of its document */
  struct diag_list notes;  /* DIAG_NOTE: ignored Kubernetes fields, for `meshlab analyze` */
  union {
    struct resource_virtual_service virtual_service;
    struct resource_destination_rule destination_rule;
    struct resource_gateway gateway;
    struct resource_service_entry service_entry;
    struct resource_peer_authentication peer_authentication;
    struct resource_request_authentication request_authentication;
    struct resource_authorization_policy authorization_policy;
    struct resource_envoy_filter envoy_filter;
    struct resource_service service;
    struct resource_deployment deployment;
  } spec;
  struct resource_arena *arena; /* owns every string and array above */
};

/* Frees a resource and everything it owns. resource_free(NULL) is a no-op. */
void resource_free(struct resource *r);

struct resource_list {
  struct resource **items;
  size_t len, cap;
};
void resource_list_init(struct resource_list *list);
/* Appends r; takes r (freed here on failure). Returns 0 or -ENOMEM. */
int resource_list_push(struct resource_list *list, struct resource *r);
/* Frees every resource and the array; the list is empty afterwards. NULL is a no-op. */
void resource_list_free(struct resource_list *list);

/* ---- parsing ------------------------------------------------------------------------------------ */

struct resource_parse_options {
  /* Namespace of objects whose metadata names none; NULL means "default". */
  const char *ns;
  /* kubectl's `-n NS` rule: when true, an object naming a namespace other than ns is refused. */
  bool ns_enforced;
};

/* Parses and validates a YAML stream (one or more documents). Borrows text, filename and
 * opts (NULL: namespace "default", not enforced). All-or-nothing: on success appends every
 * object (in document order) to out and returns 0; otherwise appends nothing and returns
 * -EINVAL (or -ENOMEM). Every error, warning (deprecations, LEAST_CONN ...) goes to diags;
 * Kubernetes fields the lab ignores go to each resource's notes instead. Empty documents are
 * skipped. */
int resource_parse(const char *text, size_t len, const char *filename, const struct resource_parse_options *opts,
                   struct resource_list *out, struct diag_list *diags);

/* Parses a duration in Istio's (Go's) format: "1s", "0.5s", "100ms", "1h", "30m", "1m30s",
 * "0". Borrows text. Returns 0 and *ms, or -EINVAL when malformed, negative or not a whole
 * number of milliseconds (Istio's precision). Most fields also need at least 1ms; the
 * validator checks that per field. */
int resource_duration_parse(const char *text, int64_t *ms);
/* Writes a duration in the largest exact unit ("7s", "500ms", "2m", "1h") into buf. */
void resource_duration_format(int64_t ms, char *buf, size_t size);

/* Resolves a host the way Istio does for a resource in namespace ns: a short name (no dot,
 * not "*") becomes "name.ns.svc.cluster.local"; anything else is kept as is. Borrows both;
 * returns an owned string (free()) or NULL when out of memory. */
char *resource_host_fqdn(const char *host, const char *ns);

/* ---- cross-resource checks ---------------------------------------------------------------------- */

/* istioctl-analyze-style checks over a set of resources (the store plus what is being
 * applied), as DIAG_WARNING diagnostics located at the referring field:
 *  - a route (http, tcp or mirror) to a subset no DestinationRule for that host defines
 *    (requests would fail with 503 NC);
 *  - a VirtualService bound to a Gateway that is not in the set;
 *  - a destination host that is neither a known Service nor a ServiceEntry host;
 *  - when the set holds Deployments: a subset no Deployment behind the Service carries the
 *    labels of (503 UH, e.g. Bookinfo's ratings v2-mysql);
 *  - a RequestAuthentication jwksUri other than the lab issuer's (the lab cannot fetch it).
 * Borrows everything. Returns the number of warnings added, or -ENOMEM. */
int resource_analyze(struct resource *const *items, size_t len, struct diag_list *diags);

/* ---- writers ------------------------------------------------------------------------------------ */

/* The resource as current Istio/Kubernetes YAML (networking.istio.io/v1, security.istio.io/v1,
 * v1, apps/v1): apiVersion, kind, metadata (name, namespace, labels, annotations) and only the
 * spec fields the user set. Returns 0 and *out (owned, NUL-terminated; free()), or -ENOMEM. */
int resource_to_yaml(const struct resource *r, char **out);
/* Several resources as one multi-document YAML stream ("---" between documents). Same
 * ownership as resource_to_yaml. */
int resource_list_to_yaml(struct resource *const *items, size_t len, char **out);
/* The same content as JSON (for `-o json`); indent 0 gives one compact line. Returns 0 and
 * *out (owned; free()), or -ENOMEM. */
int resource_to_json(const struct resource *r, int indent, char **out);

#endif
