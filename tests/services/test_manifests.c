/* The lab's built-in manifests (services/manifests) parse and validate, and describe the
 * topology Istio's samples do: Bookinfo's six deployments with their versions and service
 * accounts, httpbin on 8000 → 8080, the fortio and curl clients. */
#include <string.h>

#include "mesh/resource.h"
#include "services/manifests/manifests.h"
#include "support/test.h"

static int parse(const char *name, struct resource_list *list) {
  const struct manifest *m = manifest_find(name);
  if (!m) {
    test_fail(__FILE__, __LINE__, "no manifest %s", name);
    return -1;
  }
  struct diag_list diags;
  diag_list_init(&diags);
  resource_list_init(list);
  int rc = resource_parse(m->text, m->len, name, NULL, list, &diags);
  for (size_t i = 0; i < diags.len; i++) {
    char line[512];
    diag_format(&diags.items[i], line, sizeof line);
    if (diags.items[i].severity == DIAG_ERROR || diags.items[i].severity == DIAG_WARNING)
      test_fail(__FILE__, __LINE__, "%s", line);
  }
  diag_list_free(&diags);
  return rc;
}

static const struct resource *find(const struct resource_list *l, enum resource_kind k, const char *name) {
  for (size_t i = 0; i < l->len; i++)
    if (l->items[i]->kind == k && strcmp(l->items[i]->meta.name, name) == 0) return l->items[i];
  return NULL;
}

static const char *label(const struct resource_map *m, const char *key) { return resource_map_get(m, key); }

static void every_manifest_parses_without_warnings(void) {
  size_t n;
  const struct manifest *all = manifest_all(&n);
  EXPECT_INT_EQ(n, 6);
  for (size_t i = 0; i < n; i++) {
    struct resource_list l;
    EXPECT_INT_EQ(parse(all[i].name, &l), 0);
    EXPECT(l.len > 0);
    resource_list_free(&l);
  }
}

static void bookinfo_has_istios_topology(void) {
  struct resource_list l;
  ASSERT_INT_EQ(parse("bookinfo", &l), 0);
  static const struct {
    const char *deployment, *app, *version, *sa;
  } want[] = {
      {"details-v1", "details", "v1", "bookinfo-details"},
      {"ratings-v1", "ratings", "v1", "bookinfo-ratings"},
      {"reviews-v1", "reviews", "v1", "bookinfo-reviews"},
      {"reviews-v2", "reviews", "v2", "bookinfo-reviews"},
      {"reviews-v3", "reviews", "v3", "bookinfo-reviews"},
      {"productpage-v1", "productpage", "v1", "bookinfo-productpage"},
  };
  size_t deployments = 0;
  for (size_t i = 0; i < l.len; i++) deployments += l.items[i]->kind == RESOURCE_DEPLOYMENT;
  EXPECT_INT_EQ(deployments, 6);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const struct resource *d = find(&l, RESOURCE_DEPLOYMENT, want[i].deployment);
    if (!d) {
      test_fail(__FILE__, __LINE__, "no deployment %s", want[i].deployment);
      continue;
    }
    EXPECT_STR_EQ(label(&d->spec.deployment.labels, "app"), want[i].app);
    EXPECT_STR_EQ(label(&d->spec.deployment.labels, "version"), want[i].version);
    EXPECT_STR_EQ(d->spec.deployment.service_account_name, want[i].sa);
    EXPECT_INT_EQ(d->spec.deployment.replicas.value, 1);
    EXPECT_INT_EQ(d->spec.deployment.containers[0].ports[0].container_port, 9080);
    EXPECT(find(&l, RESOURCE_SERVICE_ACCOUNT, want[i].sa) != NULL);
    const struct resource *s = find(&l, RESOURCE_SERVICE, want[i].app);
    ASSERT(s != NULL);
    EXPECT_INT_EQ(s->spec.service.ports[0].port, 9080);
    EXPECT_STR_EQ(label(&s->spec.service.selector, "app"), want[i].app);
  }
  resource_list_free(&l);
}

static void httpbin_maps_8000_to_8080(void) {
  struct resource_list l;
  ASSERT_INT_EQ(parse("httpbin", &l), 0);
  const struct resource *s = find(&l, RESOURCE_SERVICE, "httpbin");
  ASSERT(s != NULL);
  EXPECT_INT_EQ(s->spec.service.ports[0].port, 8000);
  EXPECT_INT_EQ(s->spec.service.ports[0].target_port, 8080);
  const struct resource *d = find(&l, RESOURCE_DEPLOYMENT, "httpbin");
  ASSERT(d != NULL);
  EXPECT_STR_EQ(d->spec.deployment.service_account_name, "httpbin");
  resource_list_free(&l);
}

static void routing_files_define_gateway_and_subsets(void) {
  struct resource_list l;
  ASSERT_INT_EQ(parse("bookinfo-gateway", &l), 0);
  EXPECT(find(&l, RESOURCE_GATEWAY, "bookinfo-gateway") != NULL);
  EXPECT(find(&l, RESOURCE_VIRTUAL_SERVICE, "bookinfo") != NULL);
  resource_list_free(&l);
  ASSERT_INT_EQ(parse("destination-rule-all", &l), 0);
  const struct resource *dr = find(&l, RESOURCE_DESTINATION_RULE, "reviews");
  ASSERT(dr != NULL);
  EXPECT_INT_EQ(dr->spec.destination_rule.subsets_len, 3);
  resource_list_free(&l);
}

TEST_CASES(TEST(every_manifest_parses_without_warnings), TEST(bookinfo_has_istios_topology),
           TEST(httpbin_maps_8000_to_8080), TEST(routing_files_define_gateway_and_subsets))
