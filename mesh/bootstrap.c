/* Sidecar bootstrap parsing and validation: see bootstrap.h. jansson is used here and in the
 * later control-plane API; nothing at runtime re-reads the JSON. */
#include "mesh/bootstrap.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int listen_port(const struct conn_addr *a);

struct ctx {
  const char *name;
  char *err;
  size_t errlen;
};

static int fail(struct ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const char *path, const char *fmt, ...) {
  int n = snprintf(c->err, c->errlen, "%s: %s: ", c->name, path);
  va_list ap;
  va_start(ap, fmt);
  if (n >= 0 && (size_t)n < c->errlen) vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return -EINVAL;
}

/* Every key of obj must be in allowed (NULL-terminated). */
static int only_keys(struct ctx *c, json_t *obj, const char *path, const char *const *allowed) {
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    int ok = 0;
    for (const char *const *a = allowed; *a; a++) ok |= strcmp(*a, key) == 0;
    if (!ok) {
      char list[256] = "";
      for (const char *const *a = allowed; *a; a++) {
        strncat(list, *a, sizeof list - strlen(list) - 1);
        if (a[1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
      }
      return fail(c, path, "unknown field \"%s\" (known fields: %s)", key, list);
    }
  }
  return 0;
}

static int get_string(struct ctx *c, json_t *obj, const char *key, const char *path, int required, char **out) {
  json_t *v = json_object_get(obj, key);
  if (!v) return required ? fail(c, path, "missing required field \"%s\"", key) : 0;
  if (!json_is_string(v)) return fail(c, path, "field \"%s\" must be a string", key);
  *out = strdup(json_string_value(v));
  return *out ? 0 : -ENOMEM;
}

static int get_addr(struct ctx *c, json_t *v, const char *path, struct conn_addr *out) {
  if (!json_is_string(v)) return fail(c, path, "must be an address string (\"HOST:PORT\" or \"unix:/path\")");
  if (conn_addr_parse(out, json_string_value(v)) != 0)
    return fail(c, path, "\"%s\" is not HOST:PORT or unix:/path", json_string_value(v));
  return 0;
}

static int get_uint(struct ctx *c, json_t *obj, const char *key, const char *path, uint64_t *out) {
  json_t *v = json_object_get(obj, key);
  if (!v) return 0;
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return fail(c, path, "field \"%s\" must be a non-negative integer", key);
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

static int parse_services(struct ctx *c, json_t *arr, struct bootstrap *b) {
  if (!json_is_array(arr)) return fail(c, "outbound.services", "must be an array");
  b->nservices = json_array_size(arr);
  b->services = calloc(b->nservices ? b->nservices : 1, sizeof *b->services);
  if (!b->services) return -ENOMEM;
  static const char *const keys[] = {"name", "port", "hosts", "endpoints", NULL};
  for (size_t i = 0; i < b->nservices; i++) {
    json_t *s = json_array_get(arr, i);
    struct bootstrap_service *svc = &b->services[i];
    char path[96];
    snprintf(path, sizeof path, "outbound.services[%zu]", i);
    if (!json_is_object(s)) return fail(c, path, "must be an object");
    int rc = only_keys(c, s, path, keys);
    if (rc == 0) rc = get_string(c, s, "name", path, 1, &svc->name);
    if (rc != 0) return rc;
    uint64_t port = 0;
    if ((rc = get_uint(c, s, "port", path, &port)) != 0) return rc;
    if (port > 65535) return fail(c, path, "port %llu is out of range 1-65535", (unsigned long long)port);
    svc->port = (int)port;
    json_t *hosts = json_object_get(s, "hosts");
    if (!json_is_array(hosts) || json_array_size(hosts) == 0)
      return fail(c, path, "field \"hosts\" must be a non-empty array of names");
    svc->nhosts = json_array_size(hosts);
    svc->hosts = calloc(svc->nhosts, sizeof *svc->hosts);
    if (!svc->hosts) return -ENOMEM;
    for (size_t h = 0; h < svc->nhosts; h++) {
      json_t *v = json_array_get(hosts, h);
      if (!json_is_string(v)) return fail(c, path, "hosts[%zu] must be a string", h);
      svc->hosts[h] = strdup(json_string_value(v));
    }
    json_t *eps = json_object_get(s, "endpoints");
    if (!json_is_array(eps)) return fail(c, path, "field \"endpoints\" must be an array of addresses");
    svc->nendpoints = json_array_size(eps);
    svc->endpoints = calloc(svc->nendpoints ? svc->nendpoints : 1, sizeof *svc->endpoints);
    if (!svc->endpoints) return -ENOMEM;
    for (size_t e = 0; e < svc->nendpoints; e++) {
      char epath[128];
      snprintf(epath, sizeof epath, "%s.endpoints[%zu]", path, e);
      if ((rc = get_addr(c, json_array_get(eps, e), epath, &svc->endpoints[e])) != 0) return rc;
    }
  }
  return 0;
}

int bootstrap_parse(struct bootstrap *b, const char *text, size_t len, const char *name, char *err, size_t errlen) {
  memset(b, 0, sizeof *b);
  proxy_limits_default(&b->limits);
  b->access_log_format = ACCESSLOG_ISTIO;
  struct ctx c = {name, err, errlen};
  json_error_t jerr;
  json_t *root = json_loadb(text, len, 0, &jerr);
  if (!root) {
    snprintf(err, errlen, "%s:%d:%d: %s", name, jerr.line, jerr.column, jerr.text);
    return -EINVAL;
  }
  int rc = -EINVAL;
  static const char *const top[] = {"node", "admin", "inbound", "outbound", "limits", "access_log", NULL};
  if (!json_is_object(root)) {
    fail(&c, "(top)", "must be a JSON object");
    goto out;
  }
  if ((rc = only_keys(&c, root, "(top)", top)) != 0) goto out;
  json_t *node = json_object_get(root, "node");
  if (node) {
    static const char *const keys[] = {"id", "workload", "namespace", NULL};
    if (!json_is_object(node)) {
      rc = fail(&c, "node", "must be an object");
      goto out;
    }
    if ((rc = only_keys(&c, node, "node", keys)) || (rc = get_string(&c, node, "id", "node", 0, &b->node_id)) ||
        (rc = get_string(&c, node, "workload", "node", 0, &b->workload)) ||
        (rc = get_string(&c, node, "namespace", "node", 0, &b->ns)))
      goto out;
  }
  json_t *admin = json_object_get(root, "admin");
  if (admin) {
    if ((rc = get_addr(&c, admin, "admin", &b->admin)) != 0) goto out;
    b->has_admin = 1;
  }
  json_t *in = json_object_get(root, "inbound");
  if (in) {
    static const char *const keys[] = {"listen", "app", NULL};
    if (!json_is_object(in)) {
      rc = fail(&c, "inbound", "must be an object");
      goto out;
    }
    if ((rc = only_keys(&c, in, "inbound", keys)) != 0) goto out;
    json_t *listen = json_object_get(in, "listen");
    if (!json_is_array(listen) || json_array_size(listen) == 0) {
      rc = fail(&c, "inbound.listen", "must be a non-empty array of addresses (the service ports the sidecar owns)");
      goto out;
    }
    b->ninbound = json_array_size(listen);
    b->inbound = calloc(b->ninbound, sizeof *b->inbound);
    for (size_t i = 0; i < b->ninbound; i++) {
      char path[64];
      snprintf(path, sizeof path, "inbound.listen[%zu]", i);
      if ((rc = get_addr(&c, json_array_get(listen, i), path, &b->inbound[i])) != 0) goto out;
    }
    for (size_t i = 0; i < b->ninbound; i++)
      for (size_t k = 0; k < i; k++)
        if (listen_port(&b->inbound[i]) == listen_port(&b->inbound[k])) {
          rc = fail(&c, "inbound.listen", "port %d is listed twice (one listener per service port)",
                    listen_port(&b->inbound[i]));
          goto out;
        }
    json_t *app = json_object_get(in, "app");
    if (!app) {
      rc = fail(&c, "inbound", "missing required field \"app\" (where the local app listens)");
      goto out;
    }
    if ((rc = get_addr(&c, app, "inbound.app", &b->app)) != 0) goto out;
    b->has_app = 1;
  }
  json_t *out = json_object_get(root, "outbound");
  if (out) {
    static const char *const keys[] = {"listen", "services", NULL};
    if (!json_is_object(out)) {
      rc = fail(&c, "outbound", "must be an object");
      goto out;
    }
    if ((rc = only_keys(&c, out, "outbound", keys)) != 0) goto out;
    json_t *listen = json_object_get(out, "listen");
    if (!listen) {
      rc = fail(&c, "outbound", "missing required field \"listen\"");
      goto out;
    }
    if ((rc = get_addr(&c, listen, "outbound.listen", &b->outbound)) != 0) goto out;
    b->has_outbound = 1;
    json_t *services = json_object_get(out, "services");
    if (services && (rc = parse_services(&c, services, b)) != 0) goto out;
  }
  json_t *limits = json_object_get(root, "limits");
  if (limits) {
    static const char *const keys[] = {"connect_timeout_ms", "request_timeout_ms",     "header_timeout_ms",
                                       "idle_timeout_ms",    "stream_idle_timeout_ms", "drain_timeout_ms",
                                       "max_header_bytes",   "max_body_bytes",         NULL};
    if (!json_is_object(limits)) {
      rc = fail(&c, "limits", "must be an object");
      goto out;
    }
    uint64_t head = b->limits.max_head_bytes;
    if ((rc = only_keys(&c, limits, "limits", keys)) ||
        (rc = get_uint(&c, limits, "connect_timeout_ms", "limits", &b->limits.connect_timeout_ms)) ||
        (rc = get_uint(&c, limits, "request_timeout_ms", "limits", &b->limits.request_timeout_ms)) ||
        (rc = get_uint(&c, limits, "header_timeout_ms", "limits", &b->limits.header_timeout_ms)) ||
        (rc = get_uint(&c, limits, "idle_timeout_ms", "limits", &b->limits.idle_timeout_ms)) ||
        (rc = get_uint(&c, limits, "stream_idle_timeout_ms", "limits", &b->limits.stream_idle_timeout_ms)) ||
        (rc = get_uint(&c, limits, "drain_timeout_ms", "limits", &b->limits.drain_timeout_ms)) ||
        (rc = get_uint(&c, limits, "max_header_bytes", "limits", &head)) ||
        (rc = get_uint(&c, limits, "max_body_bytes", "limits", &b->limits.max_request_body)))
      goto out;
    b->limits.max_head_bytes = (size_t)head;
  }
  json_t *log = json_object_get(root, "access_log");
  if (log) {
    static const char *const keys[] = {"path", "format", NULL};
    if (!json_is_object(log)) {
      rc = fail(&c, "access_log", "must be an object");
      goto out;
    }
    char *format = NULL;
    if ((rc = only_keys(&c, log, "access_log", keys)) ||
        (rc = get_string(&c, log, "path", "access_log", 1, &b->access_log_path)) ||
        (rc = get_string(&c, log, "format", "access_log", 0, &format)))
      goto out;
    if (format && accesslog_format_parse(format, &b->access_log_format) != 0) {
      rc = fail(&c, "access_log.format", "\"%s\" is not one of envoy, istio, json", format);
      free(format);
      goto out;
    }
    free(format);
  }
  if (!b->ninbound && !b->has_outbound) {
    rc = fail(&c, "(top)", "a sidecar needs \"inbound\", \"outbound\" or both");
    goto out;
  }
  b->json = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
  rc = 0;
out:
  json_decref(root);
  return rc;
}

int bootstrap_load(struct bootstrap *b, const char *path, char *err, size_t errlen) {
  memset(b, 0, sizeof *b);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -errno;
  }
  struct buf text = {0};
  char tmp[8192];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) buf_append(&text, tmp, n);
  fclose(f);
  int rc = bootstrap_parse(b, text.data ? text.data : "", text.len, path, err, errlen);
  buf_free(&text);
  return rc;
}

int bootstrap_for_proxy(struct bootstrap *b, const char *listen, const char *upstream, const char *admin,
                        const struct proxy_limits *limits, const char *log_path, const char *log_format, char *err,
                        size_t errlen) {
  json_t *root = json_object();
  json_object_set_new(root, "node", json_pack("{s:s}", "id", "proxy"));
  json_object_set_new(root, "inbound", json_pack("{s:[s],s:s}", "listen", listen, "app", upstream));
  if (admin) json_object_set_new(root, "admin", json_string(admin));
  json_object_set_new(
      root, "limits",
      json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "connect_timeout_ms", (json_int_t)limits->connect_timeout_ms,
                "request_timeout_ms", (json_int_t)limits->request_timeout_ms, "header_timeout_ms",
                (json_int_t)limits->header_timeout_ms, "idle_timeout_ms", (json_int_t)limits->idle_timeout_ms,
                "stream_idle_timeout_ms", (json_int_t)limits->stream_idle_timeout_ms, "drain_timeout_ms",
                (json_int_t)limits->drain_timeout_ms, "max_header_bytes", (json_int_t)limits->max_head_bytes,
                "max_body_bytes", (json_int_t)limits->max_request_body));
  if (log_path)
    json_object_set_new(root, "access_log",
                        json_pack("{s:s,s:s}", "path", log_path, "format", log_format ? log_format : "envoy"));
  char *text = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  if (!text) {
    memset(b, 0, sizeof *b);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  int rc = bootstrap_parse(b, text, strlen(text), "flags", err, errlen);
  free(text);
  return rc;
}

static int listen_port(const struct conn_addr *a) {
  const char *colon = strrchr(a->text, ':');
  return a->kind == CONN_TCP && colon ? atoi(colon + 1) : 0;
}

/* One endpoint as the pushed config spells it: address and port apart, unix paths whole. */
static json_t *endpoint_json(const struct conn_addr *a) {
  if (a->kind == CONN_PIPE) return json_pack("{s:s,s:i,s:b}", "address", a->text, "port", 0, "healthy", 1);
  char host[128];
  snprintf(host, sizeof host, "%s", a->text);
  char *colon = strrchr(host, ':');
  int port = colon ? atoi(colon + 1) : 0;
  if (colon) *colon = '\0';
  const char *h = host;
  if (host[0] == '[') {
    h = host + 1;
    char *end = strchr(host, ']');
    if (end) *end = '\0';
  }
  return json_pack("{s:s,s:i,s:b}", "address", h, "port", port, "healthy", 1);
}

static json_t *route_to(const char *host, int port, const char *cluster) {
  return json_pack("[{s:s,s:[{s:s,s:i,s:i,s:s}]}]", "action", "route", "route", "host", host, "port", port, "weight",
                   100, "cluster", cluster);
}

int bootstrap_routing(const struct bootstrap *b, struct proxy_config **out, char *err, size_t errlen) {
  json_t *route_configs = json_array(), *clusters = json_array();
  for (size_t i = 0; i < b->ninbound; i++) {
    int port = listen_port(&b->inbound[i]);
    char rc_name[64], cluster[64];
    snprintf(rc_name, sizeof rc_name, "inbound|%d", port);
    snprintf(cluster, sizeof cluster, "inbound|%d||", port);
    json_t *vhost = json_pack("{s:s,s:i,s:[s],s:o}", "name", "inbound|http", "port", 0, "domains", "*", "routes",
                              route_to("inbound", port, cluster));
    json_array_append_new(route_configs,
                          json_pack("{s:s,s:i,s:[o]}", "name", rc_name, "port", port, "virtual_hosts", vhost));
    json_array_append_new(clusters, json_pack("{s:s,s:s,s:i,s:[o]}", "name", cluster, "direction", "inbound", "port",
                                              port, "endpoints", endpoint_json(&b->app)));
  }
  if (b->has_outbound) {
    json_t *vhosts = json_array();
    for (size_t i = 0; i < b->nservices; i++) {
      const struct bootstrap_service *s = &b->services[i];
      char cluster[256], vname[256];
      snprintf(cluster, sizeof cluster, "outbound|%d||%s", s->port, s->name);
      snprintf(vname, sizeof vname, "%s:%d", s->name, s->port);
      json_t *domains = json_array();
      for (size_t h = 0; h < s->nhosts; h++) {
        char with_port[256];
        snprintf(with_port, sizeof with_port, "%s:%d", s->hosts[h], s->port);
        json_array_append_new(domains, json_string(s->hosts[h]));
        json_array_append_new(domains, json_string(with_port));
      }
      json_array_append_new(vhosts, json_pack("{s:s,s:i,s:o,s:o}", "name", vname, "port", s->port, "domains", domains,
                                              "routes", route_to(s->name, s->port, cluster)));
      json_t *eps = json_array();
      for (size_t e = 0; e < s->nendpoints; e++) json_array_append_new(eps, endpoint_json(&s->endpoints[e]));
      json_array_append_new(clusters, json_pack("{s:s,s:s,s:s,s:i,s:o}", "name", cluster, "direction", "outbound",
                                                "service", s->name, "port", s->port, "endpoints", eps));
    }
    json_array_append_new(route_configs,
                          json_pack("{s:s,s:i,s:o}", "name", "outbound", "port", 0, "virtual_hosts", vhosts));
  }
  json_t *root = json_pack("{s:i,s:s,s:{s:s,s:s},s:o,s:o}", "version", 1, "kind", "sidecar", "node", "name",
                           b->workload ? b->workload : (b->node_id ? b->node_id : "proxy"), "namespace",
                           b->ns ? b->ns : "default", "route_configs", route_configs, "clusters", clusters);
  char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
  json_decref(root);
  if (!text) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  int rc = compile_from_json(text, strlen(text), "bootstrap routing", out, err, errlen);
  free(text);
  return rc;
}

void bootstrap_free(struct bootstrap *b) {
  free(b->node_id);
  free(b->workload);
  free(b->ns);
  free(b->inbound);
  for (size_t i = 0; i < b->nservices; i++) {
    struct bootstrap_service *s = &b->services[i];
    free(s->name);
    for (size_t h = 0; h < s->nhosts; h++) free(s->hosts[h]);
    free(s->hosts);
    free(s->endpoints);
  }
  free(b->services);
  free(b->access_log_path);
  free(b->json);
  memset(b, 0, sizeof *b);
}
