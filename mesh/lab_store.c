/* The lab's resource store and the commands that read or change it: apply, delete, get,
 * analyze, export (see lab.h).
 *
 * Objects are keyed, as in Kubernetes, by kind, namespace and name. An apply is all or
 * nothing: every file is parsed and validated first (resource_parse), and only when every one
 * passed does the store change; a refused apply leaves the running config as it was. Each
 * object then reports kubectl's verdict: `created`, `configured` (its content changed) or
 * `unchanged` (same content, compared through resource_to_json, which writes only what the
 * user set).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mesh/lab.h"

struct resource **lab_store_items(const struct lab *lab, size_t *len) {
  *len = 0;
  if (!lab->objects_len) return NULL;
  struct resource **items = malloc(lab->objects_len * sizeof *items);
  if (!items) return NULL;
  for (size_t i = 0; i < lab->objects_len; i++) items[i] = lab->objects[i].r;
  *len = lab->objects_len;
  return items;
}

static bool same_key(const struct resource *r, enum resource_kind kind, const char *ns, const char *name) {
  return r->kind == kind && strcmp(r->meta.ns, ns) == 0 && strcmp(r->meta.name, name) == 0;
}

long lab_store_find(const struct lab *lab, enum resource_kind kind, const char *ns, const char *name) {
  for (size_t i = 0; i < lab->objects_len; i++)
    if (same_key(lab->objects[i].r, kind, ns, name)) return (long)i;
  return -1;
}

static int store_reserve(struct lab *lab, size_t extra) {
  if (lab->objects_len + extra <= lab->objects_cap) return 0;
  size_t cap = lab->objects_cap ? lab->objects_cap : 64;
  while (cap < lab->objects_len + extra) cap *= 2;
  struct lab_object *o = realloc(lab->objects, cap * sizeof *o);
  if (!o) return -ENOMEM;
  lab->objects = o;
  lab->objects_cap = cap;
  return 0;
}

static void store_remove(struct lab *lab, size_t i) {
  resource_free(lab->objects[i].r);
  memmove(&lab->objects[i], &lab->objects[i + 1], (lab->objects_len - i - 1) * sizeof lab->objects[0]);
  lab->objects_len--;
}

/* kubectl's plural resource name: "virtualservices.networking.istio.io", "deployments.apps",
 * "authorizationpolicies.security.istio.io". */
static void plural_name(enum resource_kind kind, char *out, size_t n) {
  const char *full = resource_kind_resource_name(kind);
  const char *dot = strchr(full, '.');
  size_t base = dot ? (size_t)(dot - full) : strlen(full);
  if (base && full[base - 1] == 'y') snprintf(out, n, "%.*sies%s", (int)base - 1, full, dot ? dot : "");
  else snprintf(out, n, "%.*ss%s", (int)base, full, dot ? dot : "");
}

static void print_diags(struct buf *b, const struct diag_list *diags, enum diag_severity only, bool all) {
  for (size_t i = 0; i < diags->len; i++) {
    if (!all && diags->items[i].severity != only) continue;
    char line[2048];
    diag_format(&diags->items[i], line, sizeof line);
    buf_appendf(b, "%s\n", line);
  }
}

/* Parses every file; all or nothing. On failure prints every diagnostic on o->err. */
static int parse_files(const struct lab_file *files, size_t nfiles, const char *ns, bool ns_enforced,
                       struct resource_list *out, struct diag_list *diags, struct lab_output *o) {
  struct resource_parse_options opts = {ns && *ns ? ns : NULL, ns_enforced};
  int failed = 0;
  for (size_t f = 0; f < nfiles; f++) {
    int rc = resource_parse(files[f].text, files[f].len, files[f].name, &opts, out, diags);
    if (rc != 0) failed = rc;
  }
  if (!failed && out->len == 0 && diag_count(diags, DIAG_ERROR) == 0) {
    buf_append_str(&o->err, "error: no objects in the input\n");
    o->exit_code = 1;
    return -EINVAL;
  }
  if (failed || diag_count(diags, DIAG_ERROR)) {
    print_diags(&o->err, diags, DIAG_ERROR, true);
    buf_appendf(&o->err, "error: nothing was changed (%zu error%s)\n", diag_count(diags, DIAG_ERROR),
                diag_count(diags, DIAG_ERROR) == 1 ? "" : "s");
    o->exit_code = 1;
    return failed ? failed : -EINVAL;
  }
  return 0;
}

static bool from_files(const struct diag *d, const struct lab_file *files, size_t nfiles) {
  for (size_t f = 0; f < nfiles; f++)
    if (d->file && strcmp(d->file, files[f].name) == 0) return true;
  return false;
}

void lab_apply(struct lab *lab, const struct lab_file *files, size_t nfiles, const char *ns, bool ns_enforced,
               struct lab_output *o) {
  struct resource_list parsed;
  struct diag_list diags;
  resource_list_init(&parsed);
  diag_list_init(&diags);
  if (parse_files(files, nfiles, ns, ns_enforced, &parsed, &diags, o) != 0) goto done;
  print_diags(&o->err, &diags, DIAG_WARNING, false);

  /* The candidate store: today's objects with the new ones merged in, in apply order. Nothing
   * is freed or changed in the running store until every step below has succeeded. */
  size_t cap = lab->objects_len + parsed.len;
  struct lab_object *cand = malloc((cap ? cap : 1) * sizeof *cand);
  struct resource **replaced = calloc(parsed.len ? parsed.len : 1, sizeof *replaced);
  const char **verdict = calloc(parsed.len ? parsed.len : 1, sizeof *verdict);
  if (!cand || !replaced || !verdict || store_reserve(lab, parsed.len) != 0) {
    free(cand), free(replaced), free(verdict);
    buf_append_str(&o->err, "error: out of memory; nothing was applied\n");
    o->exit_code = 1;
    goto done;
  }
  memcpy(cand, lab->objects, lab->objects_len * sizeof *cand);
  size_t len = lab->objects_len;
  int64_t now = (int64_t)time(NULL);
  for (size_t i = 0; i < parsed.len; i++) {
    struct resource *r = parsed.items[i];
    size_t k = 0;
    while (k < len && !same_key(cand[k].r, r->kind, r->meta.ns, r->meta.name)) k++;
    if (k == len) {
      cand[len++] = (struct lab_object){r, now};
      verdict[i] = "created";
      continue;
    }
    char *a = NULL, *b = NULL;
    bool same = resource_to_json(cand[k].r, 0, &a) == 0 && resource_to_json(r, 0, &b) == 0 && strcmp(a, b) == 0;
    free(a), free(b);
    if (same) {
      verdict[i] = "unchanged";
      replaced[i] = r; /* the new copy is the one dropped */
    } else {
      verdict[i] = "configured";
      replaced[i] = cand[k].r;
      cand[k].r = r;
    }
  }
  /* istioctl-analyze-style warnings about what this apply brought in. */
  struct resource **items = malloc((len ? len : 1) * sizeof *items);
  if (items) {
    struct diag_list warn;
    diag_list_init(&warn);
    for (size_t i = 0; i < len; i++) items[i] = cand[i].r;
    resource_analyze(items, len, &warn);
    for (size_t i = 0; i < warn.len; i++) {
      if (!from_files(&warn.items[i], files, nfiles)) continue;
      char line[2048];
      diag_format(&warn.items[i], line, sizeof line);
      buf_appendf(&o->err, "%s\n", line);
    }
    diag_list_free(&warn);
    free(items);
  }
  /* Commit. */
  memcpy(lab->objects, cand, len * sizeof *cand);
  lab->objects_len = len;
  for (size_t i = 0; i < parsed.len; i++) {
    buf_appendf(&o->out, "%s/%s %s\n", resource_kind_resource_name(parsed.items[i]->kind), parsed.items[i]->meta.name,
                verdict[i]);
  }
  for (size_t i = 0; i < parsed.len; i++) resource_free(replaced[i]);
  parsed.len = 0; /* the store owns them now */
  free(cand), free(replaced), free(verdict);
  if (lab_store_changed(lab) != 0) buf_append_str(&o->err, "warning: the lab could not update its replicas\n");
done:
  resource_list_free(&parsed);
  diag_list_free(&diags);
}

static void delete_one(struct lab *lab, enum resource_kind kind, const char *ns, const char *name,
                       struct lab_output *o) {
  long i = lab_store_find(lab, kind, ns, name);
  if (i < 0) {
    char plural[128];
    plural_name(kind, plural, sizeof plural);
    buf_appendf(&o->err, "Error from server (NotFound): %s \"%s\" not found\n", plural, name);
    o->exit_code = 1;
    return;
  }
  store_remove(lab, (size_t)i);
  buf_appendf(&o->out, "%s \"%s\" deleted\n", resource_kind_resource_name(kind), name);
}

void lab_delete_files(struct lab *lab, const struct lab_file *files, size_t nfiles, const char *ns, bool ns_enforced,
                      struct lab_output *o) {
  struct resource_list parsed;
  struct diag_list diags;
  resource_list_init(&parsed);
  diag_list_init(&diags);
  if (parse_files(files, nfiles, ns, ns_enforced, &parsed, &diags, o) == 0) {
    /* As kubectl: every object found is deleted; each missing one is an error (exit 1). */
    for (size_t i = 0; i < parsed.len; i++)
      delete_one(lab, parsed.items[i]->kind, parsed.items[i]->meta.ns, parsed.items[i]->meta.name, o);
    if (o->out.len) lab_store_changed(lab);
  }
  resource_list_free(&parsed);
  diag_list_free(&diags);
}

void lab_delete_named(struct lab *lab, const char *kind, const char *name, const char *ns, struct lab_output *o) {
  enum resource_kind k;
  if (resource_kind_parse(kind, &k) != 0) {
    buf_appendf(&o->err, "error: the lab doesn't have a resource type \"%s\"\n", kind);
    o->exit_code = 1;
    return;
  }
  delete_one(lab, k, ns && *ns ? ns : "default", name, o);
  if (o->out.len) lab_store_changed(lab);
}

/* ---- reset ------------------------------------------------------------------------------------ */

static bool was_initial(const struct lab *lab, const struct resource *r) {
  for (size_t i = 0; i < lab->initial_len; i++)
    if (same_key(r, lab->initial[i].kind, lab->initial[i].ns, lab->initial[i].name)) return true;
  return false;
}

void lab_reset_store(struct lab *lab, struct lab_output *o) {
  bool changed = false;
  /* Istio resources the lab did not start with, newest first (the reverse of apply order). */
  for (size_t i = lab->objects_len; i-- > 0;) {
    const struct resource *r = lab->objects[i].r;
    if (!resource_kind_is_istio(r->kind) || was_initial(lab, r)) continue;
    buf_appendf(&o->out, "%s \"%s\" deleted\n", resource_kind_resource_name(r->kind), r->meta.name);
    store_remove(lab, i);
    changed = true;
  }
  /* The initial Deployments' replica counts, as `meshlab scale` sets them. */
  for (size_t k = 0; k < lab->initial_len; k++) {
    const struct lab_initial *in = &lab->initial[k];
    if (in->kind != RESOURCE_DEPLOYMENT) continue;
    long i = lab_store_find(lab, RESOURCE_DEPLOYMENT, in->ns, in->name);
    if (i < 0) continue;
    struct resource *d = lab->objects[i].r;
    if (d->spec.deployment.replicas.value == in->replicas) continue;
    d->spec.deployment.replicas.value = in->replicas;
    buf_appendf(&o->out, "deployment.apps/%s scaled\n", in->name);
    changed = true;
  }
  if (changed && lab_store_changed(lab) != 0)
    buf_append_str(&o->err, "warning: the lab could not update its replicas\n");
}

/* ---- get ---------------------------------------------------------------------------------------- */

static void format_age(int64_t secs, char *out, size_t n) {
  if (secs < 0) secs = 0;
  if (secs < 120) snprintf(out, n, "%llds", (long long)secs);
  else if (secs < 600) snprintf(out, n, "%lldm%llds", (long long)secs / 60, (long long)secs % 60);
  else if (secs < 3 * 3600) snprintf(out, n, "%lldm", (long long)secs / 60);
  else if (secs < 2 * 86400) snprintf(out, n, "%lldh", (long long)secs / 3600);
  else snprintf(out, n, "%lldd", (long long)secs / 86400);
}

/* kubectl prints list columns as JSON arrays: ["bookinfo-gateway"]. */
static void json_list(struct buf *b, char **items, size_t n) {
  buf_append_str(b, "[");
  for (size_t i = 0; i < n; i++) buf_appendf(b, "%s\"%s\"", i ? "," : "", items[i]);
  buf_append_str(b, "]");
}

static const char *header_for(enum resource_kind kind) {
  switch (kind) {
  case RESOURCE_VIRTUAL_SERVICE:
    return "NAME\tGATEWAYS\tHOSTS\tAGE";
  case RESOURCE_DESTINATION_RULE:
    return "NAME\tHOST\tAGE";
  case RESOURCE_SERVICE_ENTRY:
    return "NAME\tHOSTS\tLOCATION\tRESOLUTION\tAGE";
  case RESOURCE_PEER_AUTHENTICATION:
    return "NAME\tMODE\tAGE";
  case RESOURCE_AUTHORIZATION_POLICY:
    return "NAME\tACTION\tAGE";
  case RESOURCE_SERVICE:
    return "NAME\tTYPE\tPORT(S)\tAGE";
  case RESOURCE_DEPLOYMENT:
    return "NAME\tREADY\tUP-TO-DATE\tAVAILABLE\tAGE";
  case RESOURCE_GATEWAY:
  case RESOURCE_REQUEST_AUTHENTICATION:
  case RESOURCE_ENVOY_FILTER:
  case RESOURCE_SERVICE_ACCOUNT:
    return "NAME\tAGE";
  }
  return "NAME\tAGE";
}

/* The middle columns of one table row (between NAME and AGE), each followed by a tab. */
static void row_columns(struct lab *lab, const struct resource *r, struct buf *b) {
  switch (r->kind) {
  case RESOURCE_VIRTUAL_SERVICE: {
    const struct resource_virtual_service *vs = &r->spec.virtual_service;
    json_list(b, vs->gateways.items, vs->gateways.len);
    buf_append_str(b, "\t[");
    for (size_t i = 0; i < vs->hosts_len; i++) buf_appendf(b, "%s\"%s\"", i ? "," : "", vs->hosts[i].written);
    buf_append_str(b, "]\t");
    return;
  }
  case RESOURCE_DESTINATION_RULE:
    buf_appendf(b, "%s\t", r->spec.destination_rule.host.written);
    return;
  case RESOURCE_SERVICE_ENTRY: {
    const struct resource_service_entry *se = &r->spec.service_entry;
    buf_append_str(b, "[");
    for (size_t i = 0; i < se->hosts_len; i++) buf_appendf(b, "%s\"%s\"", i ? "," : "", se->hosts[i].written);
    static const char *const res[] = {"NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"};
    buf_appendf(b, "]\t%s\t%s\t", se->location == RESOURCE_MESH_INTERNAL ? "MESH_INTERNAL" : "MESH_EXTERNAL",
                res[se->resolution]);
    return;
  }
  case RESOURCE_PEER_AUTHENTICATION:
    buf_appendf(b, "%s\t",
                r->spec.peer_authentication.mtls_present ? compile_mtls_name(r->spec.peer_authentication.mode) : "");
    return;
  case RESOURCE_AUTHORIZATION_POLICY:
    buf_appendf(b, "%s\t", resource_authz_action_name(r->spec.authorization_policy.action));
    return;
  case RESOURCE_SERVICE: {
    buf_append_str(b, "ClusterIP\t");
    for (size_t i = 0; i < r->spec.service.ports_len; i++)
      buf_appendf(b, "%s%u/%s", i ? "," : "", r->spec.service.ports[i].port,
                  r->spec.service.ports[i].protocol ? r->spec.service.ports[i].protocol : "TCP");
    buf_append_str(b, "\t");
    return;
  }
  case RESOURCE_DEPLOYMENT: {
    size_t ready = 0, running = 0;
    for (struct lab_replica *rep = lab->replicas; rep; rep = rep->next) {
      if (!rep->present || rep->gateway || strcmp(rep->ns, r->meta.ns) != 0 || strcmp(rep->workload, r->meta.name) != 0)
        continue;
      running++;
      bool app_ok = !rep->app_kind || (rep->app && rep->app->state == PROC_RUNNING);
      if (app_ok && strcmp(lab_sidecar_state(rep), "serving") == 0) ready++;
    }
    buf_appendf(b, "%zu/%u\t%zu\t%zu\t", ready, r->spec.deployment.replicas.value, running, ready);
    return;
  }
  case RESOURCE_GATEWAY:
  case RESOURCE_REQUEST_AUTHENTICATION:
  case RESOURCE_ENVOY_FILTER:
  case RESOURCE_SERVICE_ACCOUNT:
    return;
  }
}

static int by_ns_name(const void *a, const void *b) {
  const struct lab_object *x = *(const struct lab_object *const *)a, *y = *(const struct lab_object *const *)b;
  int c = strcmp(x->r->meta.ns, y->r->meta.ns);
  return c ? c : strcmp(x->r->meta.name, y->r->meta.name);
}

void lab_get(struct lab *lab, const char *kind, const char *name, const char *ns, bool all_ns, const char *format,
             struct lab_output *o) {
  enum resource_kind k;
  if (!ns || !*ns) ns = "default";
  if (resource_kind_parse(kind, &k) != 0) {
    buf_appendf(&o->err,
                "error: the lab doesn't have a resource type \"%s\" (try virtualservice, destinationrule, gateway, "
                "serviceentry, peerauthentication, requestauthentication, authorizationpolicy, envoyfilter, service, "
                "serviceaccount, deployment)\n",
                kind);
    o->exit_code = 1;
    return;
  }
  if (format && *format && strcmp(format, "yaml") != 0 && strcmp(format, "json") != 0 && strcmp(format, "wide") != 0) {
    buf_appendf(&o->err, "error: unable to match a printer for output format \"%s\" (yaml, json)\n", format);
    o->exit_code = 1;
    return;
  }
  const struct lab_object **found = malloc((lab->objects_len ? lab->objects_len : 1) * sizeof *found);
  if (!found) {
    o->exit_code = 1;
    return;
  }
  size_t n = 0;
  for (size_t i = 0; i < lab->objects_len; i++) {
    const struct resource *r = lab->objects[i].r;
    if (r->kind != k || (!all_ns && strcmp(r->meta.ns, ns) != 0) || (name && strcmp(r->meta.name, name) != 0)) continue;
    found[n++] = &lab->objects[i];
  }
  qsort(found, n, sizeof *found, by_ns_name);
  if (n == 0) {
    if (name) {
      char plural[128];
      plural_name(k, plural, sizeof plural);
      buf_appendf(&o->err, "Error from server (NotFound): %s \"%s\" not found\n", plural, name);
      o->exit_code = 1;
    } else if (all_ns) {
      buf_append_str(&o->err, "No resources found\n");
    } else {
      buf_appendf(&o->err, "No resources found in %s namespace.\n", ns);
    }
    free(found);
    return;
  }
  if (format && strcmp(format, "yaml") == 0) {
    struct resource **items = malloc(n * sizeof *items);
    char *text = NULL;
    for (size_t i = 0; items && i < n; i++) items[i] = found[i]->r;
    if (items && resource_list_to_yaml(items, n, &text) == 0) buf_append_str(&o->out, text);
    free(text);
    free(items);
  } else if (format && strcmp(format, "json") == 0) {
    if (name && n == 1) {
      char *text = NULL;
      if (resource_to_json(found[0]->r, 2, &text) == 0) buf_appendf(&o->out, "%s\n", text);
      free(text);
    } else {
      buf_append_str(&o->out, "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [\n");
      for (size_t i = 0; i < n; i++) {
        char *text = NULL;
        if (resource_to_json(found[i]->r, 0, &text) == 0)
          buf_appendf(&o->out, "    %s%s\n", text, i + 1 < n ? "," : "");
        free(text);
      }
      buf_append_str(&o->out, "  ]\n}\n");
    }
  } else {
    struct buf tsv = {0};
    int64_t now = (int64_t)time(NULL);
    buf_appendf(&tsv, "%s%s\n", all_ns ? "NAMESPACE\t" : "", header_for(k));
    for (size_t i = 0; i < n; i++) {
      const struct resource *r = found[i]->r;
      char age[32];
      format_age(now - found[i]->created, age, sizeof age);
      if (all_ns) buf_appendf(&tsv, "%s\t", r->meta.ns);
      buf_appendf(&tsv, "%s\t", r->meta.name);
      row_columns(lab, r, &tsv);
      buf_appendf(&tsv, "%s\n", age);
    }
    lab_table_render(&o->out, buf_cstr(&tsv));
    buf_free(&tsv);
  }
  free(found);
}

/* ---- analyze, export ---------------------------------------------------------------------------- */

void lab_analyze(struct lab *lab, struct lab_output *o) {
  size_t n;
  struct resource **items = lab_store_items(lab, &n);
  struct diag_list diags;
  diag_list_init(&diags);
  resource_analyze(items, n, &diags);
  for (size_t i = 0; i < n; i++) diag_list_append(&diags, &items[i]->notes);
  print_diags(&o->out, &diags, DIAG_WARNING, true);
  size_t warnings = diag_count(&diags, DIAG_WARNING), notes = diag_count(&diags, DIAG_NOTE);
  if (!warnings && !notes) buf_append_str(&o->out, "No validation issues found.\n");
  else
    buf_appendf(&o->err, "%zu warning%s, %zu note%s (notes: Kubernetes fields the lab accepts and ignores)\n", warnings,
                warnings == 1 ? "" : "s", notes, notes == 1 ? "" : "s");
  diag_list_free(&diags);
  free(items);
}

void lab_export(struct lab *lab, struct lab_output *o) {
  size_t n = 0;
  struct resource **items = malloc((lab->objects_len ? lab->objects_len : 1) * sizeof *items);
  if (!items) {
    o->exit_code = 1;
    return;
  }
  /* Istio's resources first, then the workloads they route to. */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < lab->objects_len; i++)
      if (resource_kind_is_istio(lab->objects[i].r->kind) == (pass == 0)) items[n++] = lab->objects[i].r;
  char *text = NULL;
  if (n && resource_list_to_yaml(items, n, &text) == 0) buf_append_str(&o->out, text);
  free(text);
  free(items);
}
