/* resource_kube: the Kubernetes objects that describe the lab's topology (Service,
 * ServiceAccount, Deployment), read into resource.h's structs. The lab turns each Deployment
 * replica into an app process plus its sidecar; Services give the names and ports sidecars
 * route to; the service account becomes the workload's SPIFFE identity.
 *
 * Unlike the Istio kinds these are lenient, as the design asks: a real manifest carries
 * volumes, probes, resources and pull policies that mean nothing on a laptop. Such fields are
 * accepted and recorded as notes on the resource (path and line) for `meshlab analyze`; the
 * fields the lab does use are still type-checked strictly.
 */
#include "mesh/resource_internal.h"

#include <stdio.h>
#include <string.h>

#define END \
  { NULL, RF_OK, NULL }
#define OK(name) \
  { name, RF_OK, NULL }
#define IGN(name) \
  { name, RF_IGNORED, NULL }

/* ---- Service --------------------------------------------------------------------------------- */

static const struct rfield SERVICE_PORT_FIELDS[] = {
    OK("port"), OK("name"), OK("targetPort"), OK("protocol"), IGN("appProtocol"), IGN("nodePort"), END};
static const struct rfield SERVICE_FIELDS[] = {OK("ports"),
                                               OK("selector"),
                                               IGN("type"),
                                               IGN("clusterIP"),
                                               IGN("clusterIPs"),
                                               IGN("sessionAffinity"),
                                               IGN("sessionAffinityConfig"),
                                               IGN("externalTrafficPolicy"),
                                               IGN("internalTrafficPolicy"),
                                               IGN("ipFamilies"),
                                               IGN("ipFamilyPolicy"),
                                               IGN("loadBalancerIP"),
                                               IGN("loadBalancerSourceRanges"),
                                               IGN("externalIPs"),
                                               IGN("publishNotReadyAddresses"),
                                               IGN("healthCheckNodePort"),
                                               IGN("allocateLoadBalancerNodePorts"),
                                               IGN("externalName"),
                                               END};

static const char *const PROTOCOLS[] = {"TCP", "UDP", "SCTP", NULL};

void rparse_service(struct rctx *c, const struct yamldoc_node *spec) {
  struct resource_service *svc = &c->res->spec.service;
  rcheck_keys(c, spec, "spec", SERVICE_FIELDS);
  rget_labels(c, spec, "selector", "spec", &svc->selector);
  const struct yamldoc_node *seq;
  if (rget_seq(c, spec, "ports", "spec", &seq) <= 0) return;
  char ip[RPATH_MAX], tp[RPATH_MAX];
  svc->ports = rarena_alloc(c, (seq->len + 1) * sizeof *svc->ports);
  for (size_t i = 0; svc->ports && i < seq->len; i++) {
    const struct yamldoc_node *n = seq->items[i];
    struct resource_service_port *p = &svc->ports[svc->ports_len++];
    rpath_index(ip, "spec.ports", i);
    if (!rexpect_map(c, n, ip)) continue;
    rcheck_keys(c, n, ip, SERVICE_PORT_FIELDS);
    if (rrequire(c, n, "port", ip)) rget_u32(c, n, "port", ip, 1, 65535, &p->port);
    rget_str(c, n, "name", ip, &p->name);
    /* targetPort is an IntOrString: a number, or the name of a container port. */
    const struct yamldoc_node *t = yamldoc_get(n, "targetPort");
    rpath_key(tp, ip, "targetPort");
    if (t && !yamldoc_is_null(t)) {
      if (t->type == YAMLDOC_SCALAR && yamldoc_scalar_kind(t) == YAMLDOC_STRING)
        rscalar_str(c, t, tp, &p->target_port_name);
      else rscalar_u32(c, t, tp, 1, 65535, &p->target_port);
    }
    int proto = 0;
    p->protocol = "TCP";
    if (rget_enum(c, n, "protocol", ip, PROTOCOLS, NULL, &proto) > 0) p->protocol = rarena_strdup(c, PROTOCOLS[proto]);
    if (seq->len > 1 && p->name == NULL)
      rerror(c, n, ip, "a Service with several ports must name each one (ports[].name)");
  }
}

/* ---- Deployment ------------------------------------------------------------------------------ */

static const struct rfield CONTAINER_PORT_FIELDS[] = {OK("containerPort"), OK("name"),    OK("protocol"),
                                                      IGN("hostPort"),     IGN("hostIP"), END};
static const struct rfield ENV_FIELDS[] = {OK("name"), OK("value"), IGN("valueFrom"), END};
static const struct rfield CONTAINER_FIELDS[] = {OK("name"),
                                                 OK("image"),
                                                 OK("ports"),
                                                 OK("env"),
                                                 OK("command"),
                                                 OK("args"),
                                                 IGN("imagePullPolicy"),
                                                 IGN("resources"),
                                                 IGN("volumeMounts"),
                                                 IGN("volumeDevices"),
                                                 IGN("securityContext"),
                                                 IGN("livenessProbe"),
                                                 IGN("readinessProbe"),
                                                 IGN("startupProbe"),
                                                 IGN("lifecycle"),
                                                 IGN("workingDir"),
                                                 IGN("envFrom"),
                                                 IGN("terminationMessagePath"),
                                                 IGN("terminationMessagePolicy"),
                                                 IGN("stdin"),
                                                 IGN("stdinOnce"),
                                                 IGN("tty"),
                                                 IGN("resizePolicy"),
                                                 IGN("restartPolicy"),
                                                 END};
static const struct rfield POD_SPEC_FIELDS[] = {OK("serviceAccountName"),
                                                OK("containers"),
                                                OK("serviceAccount"),
                                                IGN("volumes"),
                                                IGN("securityContext"),
                                                IGN("terminationGracePeriodSeconds"),
                                                IGN("nodeSelector"),
                                                IGN("nodeName"),
                                                IGN("affinity"),
                                                IGN("tolerations"),
                                                IGN("initContainers"),
                                                IGN("imagePullSecrets"),
                                                IGN("restartPolicy"),
                                                IGN("dnsPolicy"),
                                                IGN("dnsConfig"),
                                                IGN("hostNetwork"),
                                                IGN("hostPID"),
                                                IGN("hostIPC"),
                                                IGN("priorityClassName"),
                                                IGN("priority"),
                                                IGN("automountServiceAccountToken"),
                                                IGN("schedulerName"),
                                                IGN("topologySpreadConstraints"),
                                                IGN("hostAliases"),
                                                IGN("hostname"),
                                                IGN("subdomain"),
                                                IGN("enableServiceLinks"),
                                                IGN("shareProcessNamespace"),
                                                IGN("runtimeClassName"),
                                                IGN("readinessGates"),
                                                IGN("activeDeadlineSeconds"),
                                                IGN("preemptionPolicy"),
                                                IGN("overhead"),
                                                END};
static const struct rfield TEMPLATE_FIELDS[] = {OK("metadata"), OK("spec"), END};
static const struct rfield TEMPLATE_META_FIELDS[] = {OK("labels"),     OK("annotations"),        IGN("name"),
                                                     IGN("namespace"), IGN("creationTimestamp"), END};
static const struct rfield LABEL_SELECTOR_FIELDS[] = {OK("matchLabels"), IGN("matchExpressions"), END};
static const struct rfield DEPLOYMENT_FIELDS[] = {OK("replicas"),
                                                  OK("selector"),
                                                  OK("template"),
                                                  IGN("strategy"),
                                                  IGN("minReadySeconds"),
                                                  IGN("revisionHistoryLimit"),
                                                  IGN("progressDeadlineSeconds"),
                                                  IGN("paused"),
                                                  END};

static void parse_container(struct rctx *c, const struct yamldoc_node *n, const char *path,
                            struct resource_container *ct) {
  if (!rexpect_map(c, n, path)) return;
  rcheck_keys(c, n, path, CONTAINER_FIELDS);
  if (rrequire(c, n, "name", path)) rget_str(c, n, "name", path, &ct->name);
  if (rrequire(c, n, "image", path)) rget_str(c, n, "image", path, &ct->image);
  rget_strings(c, n, "command", path, &ct->command);
  rget_strings(c, n, "args", path, &ct->args);
  const struct yamldoc_node *seq;
  char p[RPATH_MAX], ip[RPATH_MAX];
  if (rget_seq(c, n, "ports", path, &seq) > 0) {
    rpath_key(p, path, "ports");
    ct->ports = rarena_alloc(c, (seq->len + 1) * sizeof *ct->ports);
    for (size_t i = 0; ct->ports && i < seq->len; i++) {
      rpath_index(ip, p, i);
      struct resource_container_port *cp = &ct->ports[ct->ports_len++];
      if (!rexpect_map(c, seq->items[i], ip)) continue;
      rcheck_keys(c, seq->items[i], ip, CONTAINER_PORT_FIELDS);
      if (rrequire(c, seq->items[i], "containerPort", ip))
        rget_u32(c, seq->items[i], "containerPort", ip, 1, 65535, &cp->container_port);
      rget_str(c, seq->items[i], "name", ip, &cp->name);
      int proto = 0;
      cp->protocol = "TCP";
      if (rget_enum(c, seq->items[i], "protocol", ip, PROTOCOLS, NULL, &proto) > 0)
        cp->protocol = rarena_strdup(c, PROTOCOLS[proto]);
    }
  }
  if (rget_seq(c, n, "env", path, &seq) > 0) {
    rpath_key(p, path, "env");
    ct->env = rarena_alloc(c, (seq->len + 1) * sizeof *ct->env);
    for (size_t i = 0; ct->env && i < seq->len; i++) {
      rpath_index(ip, p, i);
      struct resource_env_var *e = &ct->env[ct->env_len++];
      if (!rexpect_map(c, seq->items[i], ip)) continue;
      rcheck_keys(c, seq->items[i], ip, ENV_FIELDS);
      if (rrequire(c, seq->items[i], "name", ip)) rget_str(c, seq->items[i], "name", ip, &e->name);
      rget_str(c, seq->items[i], "value", ip, &e->value);
    }
  }
}

void rparse_deployment(struct rctx *c, const struct yamldoc_node *spec) {
  struct resource_deployment *d = &c->res->spec.deployment;
  rcheck_keys(c, spec, "spec", DEPLOYMENT_FIELDS);
  d->replicas.value = 1;
  ropt_u32(c, spec, "replicas", "spec", 0, 1000, &d->replicas);
  const struct yamldoc_node *sel, *tmpl, *meta, *pod, *seq;
  if (rget_map(c, spec, "selector", "spec", &sel) > 0) {
    rcheck_keys(c, sel, "spec.selector", LABEL_SELECTOR_FIELDS);
    rget_labels(c, sel, "matchLabels", "spec.selector", &d->selector);
  }
  if (!rrequire(c, spec, "template", "spec") || rget_map(c, spec, "template", "spec", &tmpl) <= 0) return;
  rcheck_keys(c, tmpl, "spec.template", TEMPLATE_FIELDS);
  if (rget_map(c, tmpl, "metadata", "spec.template", &meta) > 0) {
    rcheck_keys(c, meta, "spec.template.metadata", TEMPLATE_META_FIELDS);
    rget_labels(c, meta, "labels", "spec.template.metadata", &d->labels);
    rget_labels(c, meta, "annotations", "spec.template.metadata", &d->pod_annotations);
  }
  /* Kubernetes: the selector must match the pod template's labels. */
  if (sel && !resource_map_matches(&d->selector, &d->labels))
    rerror(c, sel, "spec.selector",
           "selector does not match the template labels "
           "(spec.template.metadata.labels); every matchLabels entry must be there");
  d->service_account_name = "default";
  if (!rrequire(c, tmpl, "spec", "spec.template") || rget_map(c, tmpl, "spec", "spec.template", &pod) <= 0) return;
  rcheck_keys(c, pod, "spec.template.spec", POD_SPEC_FIELDS);
  char *sa = NULL;
  if (rget_str(c, pod, "serviceAccountName", "spec.template.spec", &sa) > 0 ||
      rget_str(c, pod, "serviceAccount", "spec.template.spec", &sa) > 0) {
    d->service_account_name = sa;
    d->service_account_set = true;
  }
  if (!rrequire(c, pod, "containers", "spec.template.spec") ||
      rget_seq(c, pod, "containers", "spec.template.spec", &seq) <= 0)
    return;
  if (seq->len == 0) rerror(c, seq, "spec.template.spec.containers", "a Deployment needs at least one container");
  char ip[RPATH_MAX];
  d->containers = rarena_alloc(c, (seq->len + 1) * sizeof *d->containers);
  for (size_t i = 0; d->containers && i < seq->len; i++) {
    rpath_index(ip, "spec.template.spec.containers", i);
    parse_container(c, seq->items[i], ip, &d->containers[d->containers_len++]);
  }
}
