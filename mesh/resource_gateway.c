/* resource_gateway: the edges of the mesh, Gateway (what the ingress gateway listens for) and
 * ServiceEntry (hosts outside the registry), from the positioned YAML tree into resource.h's
 * structs.
 */
#include "mesh/resource_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define END \
  { NULL, RF_OK, NULL }
#define OK(name) \
  { name, RF_OK, NULL }
#define LATER(name) \
  { name, RF_LATER, NULL }

static const uint32_t INT32_MAX_U = 2147483647u;

/* ---- Gateway ------------------------------------------------------------------------------- */

static const struct rfield SERVER_PORT_FIELDS[] = {OK("number"), OK("name"), OK("protocol"), LATER("targetPort"), END};
static const struct rfield SERVER_TLS_FIELDS[] = {OK("httpsRedirect"),
                                                  OK("mode"),
                                                  OK("credentialName"),
                                                  LATER("serverCertificate"),
                                                  LATER("privateKey"),
                                                  LATER("caCertificates"),
                                                  LATER("caCrl"),
                                                  LATER("caCertCredentialName"),
                                                  LATER("credentialNames"),
                                                  LATER("tlsCertificates"),
                                                  LATER("subjectAltNames"),
                                                  LATER("verifyCertificateSpki"),
                                                  LATER("verifyCertificateHash"),
                                                  LATER("minProtocolVersion"),
                                                  LATER("maxProtocolVersion"),
                                                  LATER("cipherSuites"),
                                                  LATER("insecureSkipVerify"),
                                                  END};
static const struct rfield SERVER_FIELDS[] = {
    OK("port"), OK("hosts"), OK("tls"), OK("name"), LATER("bind"), LATER("defaultEndpoint"), END};
static const struct rfield GATEWAY_FIELDS[] = {OK("selector"), OK("servers"), END};

static const char *const PROTOCOLS[] = {"HTTP", "HTTPS", "GRPC", "HTTP2", "TCP", "TLS", NULL};
static const char *const PROTOCOLS_LATER[] = {"GRPC-WEB", "MONGO", "MYSQL", "REDIS", "UDP", NULL};

/* Istio parses protocols case-insensitively; keep what was written. */
static void check_protocol(struct rctx *c, const struct yamldoc_node *at, const char *path, const char *proto) {
  for (int i = 0; PROTOCOLS[i]; i++)
    if (strcasecmp(proto, PROTOCOLS[i]) == 0) return;
  for (int i = 0; PROTOCOLS_LATER[i]; i++) {
    if (strcasecmp(proto, PROTOCOLS_LATER[i]) == 0) {
      rerror(c, at, path,
             "protocol %s is valid in Istio but not supported by meshlab yet; use "
             "HTTP, HTTPS, GRPC, HTTP2, TCP or TLS",
             proto);
      return;
    }
  }
  rerror(c, at, path,
         "invalid protocol '%s'; expected one of: HTTP, HTTPS, GRPC, HTTP2, TCP, "
         "TLS",
         proto);
}

static void parse_port(struct rctx *c, const struct yamldoc_node *n, const char *path, const struct rfield *fields,
                       bool name_required, struct resource_port *p) {
  if (!rexpect_map(c, n, path)) return;
  rcheck_keys(c, n, path, fields);
  if (rrequire(c, n, "number", path)) rget_u32(c, n, "number", path, 1, 65535, &p->number);
  if (!name_required || rrequire(c, n, "name", path)) rget_str(c, n, "name", path, &p->name);
  if (rget_str(c, n, "protocol", path, &p->protocol) > 0) {
    char pp[RPATH_MAX];
    rpath_key(pp, path, "protocol");
    check_protocol(c, yamldoc_get(n, "protocol"), pp, p->protocol);
  }
  rget_u32(c, n, "targetPort", path, 1, 65535, &p->target_port);
}

void rparse_gateway(struct rctx *c, const struct yamldoc_node *spec) {
  struct resource_gateway *gw = &c->res->spec.gateway;
  rcheck_keys(c, spec, "spec", GATEWAY_FIELDS);
  rget_labels(c, spec, "selector", "spec", &gw->selector);
  const struct yamldoc_node *seq;
  if (!rrequire(c, spec, "servers", "spec") || rget_seq(c, spec, "servers", "spec", &seq) <= 0) return;
  if (seq->len == 0) rerror(c, seq, "spec.servers", "servers must list at least one server");
  char ip[RPATH_MAX], p[RPATH_MAX];
  gw->servers = rarena_alloc(c, (seq->len + 1) * sizeof *gw->servers);
  for (size_t i = 0; gw->servers && i < seq->len; i++) {
    const struct yamldoc_node *n = seq->items[i];
    struct resource_server *s = &gw->servers[gw->servers_len++];
    rpath_index(ip, "spec.servers", i);
    if (!rexpect_map(c, n, ip)) continue;
    rcheck_keys(c, n, ip, SERVER_FIELDS);
    s->pos = rpos(n);
    rget_str(c, n, "name", ip, &s->name);
    rpath_key(p, ip, "port");
    if (rrequire(c, n, "port", ip)) {
      parse_port(c, yamldoc_get(n, "port"), p, SERVER_PORT_FIELDS, true, &s->port);
      if (s->port.protocol == NULL && yamldoc_get(n, "port")->type == YAMLDOC_MAPPING)
        rrequire(c, yamldoc_get(n, "port"), "protocol", p);
    }
    if (rrequire(c, n, "hosts", ip) && rget_strings(c, n, "hosts", ip, &s->hosts) > 0 && s->hosts.len == 0)
      rerror(c, yamldoc_get(n, "hosts"), ip, "hosts must list at least one host (\"*\" for any)");
    for (size_t h = 0; h < s->hosts.len; h++) {
      const char *host = s->hosts.items[h];
      const char *slash = strchr(host, '/');
      if (host[0] == '\0' || (slash && slash[1] == '\0') || slash == host) {
        char hp[RPATH_MAX], hip[RPATH_MAX];
        rpath_key(hp, ip, "hosts");
        rpath_index(hip, hp, h);
        rerror(c, yamldoc_get(n, "hosts")->items[h], hip, "invalid host '%s'; write a host name or namespace/host",
               host);
      }
    }
    const struct yamldoc_node *tls;
    rpath_key(p, ip, "tls");
    if (rget_map(c, n, "tls", ip, &tls) > 0) {
      rcheck_keys(c, tls, p, SERVER_TLS_FIELDS);
      s->tls.present = true;
      ropt_bool(c, tls, "httpsRedirect", p, &s->tls.https_redirect);
      static const char *const modes[] = {"SIMPLE", NULL};
      static const char *const later[] = {"PASSTHROUGH",  "MUTUAL",          "AUTO_PASSTHROUGH",
                                          "ISTIO_MUTUAL", "OPTIONAL_MUTUAL", NULL};
      int mode = 0;
      if (rget_enum(c, tls, "mode", p, modes, later, &mode) > 0) {
        s->tls.mode_set = true;
        s->tls.mode = RESOURCE_SERVER_TLS_SIMPLE;
      }
      rget_str(c, tls, "credentialName", p, &s->tls.credential_name);
    }
    /* Istio: HTTPS and TLS servers need TLS settings (other than a bare httpsRedirect). */
    if (s->port.protocol && (strcasecmp(s->port.protocol, "HTTPS") == 0 || strcasecmp(s->port.protocol, "TLS") == 0) &&
        !s->tls.mode_set)
      rerror(c, n, ip, "a %s server needs tls.mode (SIMPLE) and tls.credentialName", s->port.protocol);
  }
}

/* ---- ServiceEntry -------------------------------------------------------------------------- */

static const struct rfield SE_PORT_FIELDS[] = {OK("number"), OK("name"), OK("protocol"), OK("targetPort"), END};
static const struct rfield ENDPOINT_FIELDS[] = {OK("address"),  OK("ports"),  OK("labels"),         OK("network"),
                                                OK("locality"), OK("weight"), OK("serviceAccount"), END};
static const struct rfield SE_FIELDS[] = {OK("hosts"),
                                          OK("ports"),
                                          OK("location"),
                                          OK("resolution"),
                                          OK("endpoints"),
                                          LATER("addresses"),
                                          LATER("workloadSelector"),
                                          LATER("exportTo"),
                                          LATER("subjectAltNames"),
                                          END};

static bool is_ip(const char *s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

void rparse_service_entry(struct rctx *c, const struct yamldoc_node *spec) {
  struct resource_service_entry *se = &c->res->spec.service_entry;
  rcheck_keys(c, spec, "spec", SE_FIELDS);
  char ip[RPATH_MAX];
  struct resource_strings hosts = {0};
  if (rrequire(c, spec, "hosts", "spec") && rget_strings(c, spec, "hosts", "spec", &hosts) > 0) {
    if (hosts.len == 0) rerror(c, yamldoc_get(spec, "hosts"), "spec.hosts", "hosts must list at least one host");
    se->hosts = rarena_alloc(c, (hosts.len + 1) * sizeof *se->hosts);
    for (size_t i = 0; se->hosts && i < hosts.len; i++) {
      /* ServiceEntry hosts name things outside the registry: used as written. */
      se->hosts[i].written = se->hosts[i].fqdn = hosts.items[i];
      se->hosts[i].pos = hosts.pos[i];
      se->hosts_len++;
      if (strcmp(hosts.items[i], "*") == 0) {
        rpath_index(ip, "spec.hosts", i);
        rerror(c, yamldoc_get(spec, "hosts")->items[i], ip,
               "a ServiceEntry cannot use the host \"*\"; name the hosts (wildcards like "
               "*.example.com are fine)");
      }
    }
  }
  const struct yamldoc_node *seq;
  if (rget_seq(c, spec, "ports", "spec", &seq) > 0) {
    se->ports = rarena_alloc(c, (seq->len + 1) * sizeof *se->ports);
    for (size_t i = 0; se->ports && i < seq->len; i++) {
      rpath_index(ip, "spec.ports", i);
      struct resource_port *p = &se->ports[se->ports_len++];
      parse_port(c, seq->items[i], ip, SE_PORT_FIELDS, true, p);
      for (size_t j = 0; j < i; j++)
        if (p->number && se->ports[j].number == p->number)
          rerror(c, seq->items[i], ip, "port %u is listed twice", p->number);
    }
  }
  static const char *const locations[] = {"MESH_EXTERNAL", "MESH_INTERNAL", NULL};
  static const char *const resolutions[] = {"NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", NULL};
  static const char *const resolutions_later[] = {"DYNAMIC_DNS", NULL};
  int v = 0;
  if (rget_enum(c, spec, "location", "spec", locations, NULL, &v) > 0) {
    se->location_set = true;
    se->location = (enum resource_location)v;
  }
  if (rget_enum(c, spec, "resolution", "spec", resolutions, resolutions_later, &v) > 0) {
    se->resolution_set = true;
    se->resolution = (enum resource_resolution)v;
  }
  if (rget_seq(c, spec, "endpoints", "spec", &seq) > 0) {
    se->endpoints = rarena_alloc(c, (seq->len + 1) * sizeof *se->endpoints);
    for (size_t i = 0; se->endpoints && i < seq->len; i++) {
      const struct yamldoc_node *n = seq->items[i];
      struct resource_workload_entry *e = &se->endpoints[se->endpoints_len++];
      rpath_index(ip, "spec.endpoints", i);
      if (!rexpect_map(c, n, ip)) continue;
      rcheck_keys(c, n, ip, ENDPOINT_FIELDS);
      if (rrequire(c, n, "address", ip) && rget_str(c, n, "address", ip, &e->address) > 0 &&
          se->resolution == RESOURCE_RESOLUTION_STATIC && !is_ip(e->address) &&
          strncmp(e->address, "unix://", 7) != 0) {
        char ap[RPATH_MAX];
        rpath_key(ap, ip, "address");
        rerror(c, yamldoc_get(n, "address"), ap,
               "'%s' is not an IP address; resolution STATIC "
               "needs IP addresses (use resolution: DNS for host names)",
               e->address);
      }
      const struct yamldoc_node *ports;
      if (rget_map(c, n, "ports", ip, &ports) > 0) {
        char pp[RPATH_MAX], kp[RPATH_MAX];
        rpath_key(pp, ip, "ports");
        e->ports = rarena_alloc(c, (ports->len + 1) * sizeof *e->ports);
        for (size_t j = 0; e->ports && j < ports->len; j++) {
          rpath_key(kp, pp, ports->pairs[j].key->str);
          struct resource_named_port *np = &e->ports[e->ports_len++];
          np->name = rarena_strdup(c, ports->pairs[j].key->str);
          rscalar_u32(c, ports->pairs[j].value, kp, 1, 65535, &np->number);
        }
      }
      rget_labels(c, n, "labels", ip, &e->labels);
      rget_str(c, n, "network", ip, &e->network);
      rget_str(c, n, "locality", ip, &e->locality);
      ropt_u32(c, n, "weight", ip, 0, INT32_MAX_U, &e->weight);
      rget_str(c, n, "serviceAccount", ip, &e->service_account);
    }
  }
  /* Istio: NONE cannot list endpoints; STATIC needs them (workloadSelector is not supported
   * yet, so endpoints are the only source). */
  if (se->resolution == RESOURCE_RESOLUTION_NONE && se->endpoints_len > 0)
    rerror(c, yamldoc_get(spec, "endpoints"), "spec.endpoints",
           "endpoints need resolution STATIC or DNS (resolution is NONE)");
  if (se->resolution == RESOURCE_RESOLUTION_STATIC && se->endpoints_len == 0)
    rerror(c, spec, "spec", "resolution STATIC needs endpoints with IP addresses");
}
