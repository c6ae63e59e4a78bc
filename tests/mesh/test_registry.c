/* Tests for mesh/registry.c: Bookinfo's workloads and services, replica names and addresses,
 * endpoints per service port and subset, health, named target ports, ServiceEntry endpoints,
 * a re-sync keeping started replicas (and dropping them on scale-down), and port blocks. */
#include <errno.h>

#include "bookinfo_world.h"

static void bookinfo_topology(void) {
  struct world w;
  if (world_init(&w, NULL, NULL)) {
    world_free(&w);
    return;
  }
  size_t nw, ns;
  const struct registry_workload *ws = registry_workloads(w.reg, &nw);
  const struct registry_service *ss = registry_services(w.reg, &ns);
  EXPECT_INT_EQ(nw, 6);
  EXPECT_INT_EQ(ns, 4);
  static const struct {
    const char *name, *sa, *version, *address, *replica;
  } want[] = {
      {"details-v1", "bookinfo-details", "v1", "127.1.0.1", "details-v1-0"},
      {"productpage-v1", "bookinfo-productpage", "v1", "127.1.0.2", "productpage-v1-0"},
      {"ratings-v1", "bookinfo-ratings", "v1", "127.1.0.3", "ratings-v1-0"},
      {"reviews-v1", "bookinfo-reviews", "v1", "127.1.0.4", "reviews-v1-0"},
      {"reviews-v2", "bookinfo-reviews", "v2", "127.1.0.5", "reviews-v2-0"},
      {"reviews-v3", "bookinfo-reviews", "v3", "127.1.0.6", "reviews-v3-0"},
  };
  for (size_t i = 0; i < nw && i < 6; i++) {
    EXPECT_STR_EQ(ws[i].name, want[i].name);
    EXPECT_STR_EQ(ws[i].ns, "default");
    EXPECT_STR_EQ(ws[i].service_account, want[i].sa);
    EXPECT_STR_EQ(resource_map_get(&ws[i].labels, "version"), want[i].version);
    ASSERT_INT_EQ(ws[i].replicas_len, 1);
    EXPECT_STR_EQ(ws[i].replicas[0].address, want[i].address);
    EXPECT_STR_EQ(ws[i].replicas[0].name, want[i].replica);
    EXPECT(ws[i].replicas[0].healthy);
  }
  EXPECT_STR_EQ(ss[0].fqdn, "details.default.svc.cluster.local");
  const struct registry_service *reviews = registry_service_find(w.reg, "Reviews.default.svc.cluster.local");
  ASSERT(reviews);
  EXPECT_INT_EQ(reviews->ports_len, 1);
  EXPECT_INT_EQ(reviews->ports[0].port, 9080);
  EXPECT(registry_service_find(w.reg, "reviews") == NULL);

  struct registry_endpoint *eps;
  size_t n;
  ASSERT_INT_EQ(registry_endpoints(w.reg, reviews, 9080, NULL, &eps, &n), 0);
  EXPECT_INT_EQ(n, 3);
  free(eps);
  static const struct resource_map_entry v2[] = {{(char *)"version", (char *)"v2"}};
  struct resource_map subset = {(struct resource_map_entry *)v2, 1};
  ASSERT_INT_EQ(registry_endpoints(w.reg, reviews, 9080, &subset, &eps, &n), 0);
  ASSERT_INT_EQ(n, 1);
  EXPECT_STR_EQ(eps[0].address, "127.1.0.5");
  EXPECT_INT_EQ(eps[0].port, 9080);
  EXPECT_STR_EQ(eps[0].replica->name, "reviews-v2-0");
  EXPECT_STR_EQ(eps[0].workload->name, "reviews-v2");
  free(eps);
  ASSERT_INT_EQ(registry_endpoints(w.reg, reviews, 9081, NULL, &eps, &n), 0);
  EXPECT_INT_EQ(n, 0);

  /* Health is the lab's to set; endpoints keep unhealthy replicas with the flag. */
  EXPECT_INT_EQ(registry_set_health(w.reg, "default", "reviews-v2-0", false), 0);
  EXPECT_INT_EQ(registry_set_health(w.reg, "default", "reviews-v9-0", false), -ENOENT);
  ASSERT_INT_EQ(registry_endpoints(w.reg, reviews, 9080, &subset, &eps, &n), 0);
  ASSERT_INT_EQ(n, 1);
  EXPECT(!eps[0].healthy);
  free(eps);

  const struct registry_workload *pp = registry_workload_of_replica(w.reg, "default", "productpage-v1-0");
  ASSERT(pp);
  const struct registry_service **mine;
  ASSERT_INT_EQ(registry_services_of(w.reg, pp, &mine, &n), 0);
  ASSERT_INT_EQ(n, 1);
  EXPECT_STR_EQ(mine[0]->name, "productpage");
  free(mine);
  world_free(&w);
}

static const char SCALE_YAML[] =
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata: {name: httpbin, namespace: lab}\n"
    "spec:\n"
    "  replicas: %d\n"
    "  selector: {matchLabels: {app: httpbin}}\n"
    "  template:\n"
    "    metadata: {labels: {app: httpbin, version: v1}}\n"
    "    spec:\n"
    "      containers:\n"
    "      - name: httpbin\n"
    "        image: docker.io/kennethreitz/httpbin\n"
    "        ports: [{containerPort: 8080, name: web}]\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: httpbin, namespace: lab}\n"
    "spec:\n"
    "  selector: {app: httpbin}\n"
    "  ports: [{name: http, port: 8000, targetPort: web}, {name: admin, port: 9000, targetPort: nope}]\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: headless, namespace: lab}\n"
    "spec:\n"
    "  ports: [{port: 80}]\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: ServiceEntry\n"
    "metadata: {name: fake-external, namespace: lab}\n"
    "spec:\n"
    "  hosts: [api.example.com]\n"
    "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
    "  location: MESH_EXTERNAL\n"
    "  resolution: STATIC\n"
    "  endpoints:\n"
    "  - {address: 127.2.0.1, labels: {zone: a}}\n"
    "  - {address: 127.2.0.2, ports: {http: 8081}}\n";

static int sync_with(struct registry *reg, int replicas, struct resource_list *list) {
  char yaml[sizeof SCALE_YAML + 16];
  snprintf(yaml, sizeof yaml, SCALE_YAML, replicas);
  struct diag_list d;
  diag_list_init(&d);
  resource_list_free(list);
  resource_list_init(list);
  int rc = resource_parse(yaml, strlen(yaml), "scale.yaml", NULL, list, &d);
  if (rc) world_print_diags(&d);
  diag_list_free(&d);
  return rc ? rc : registry_sync(reg, list->items, list->len);
}

static void replicas_ports_and_entries(void) {
  struct registry *reg = registry_new();
  struct resource_list list;
  resource_list_init(&list);
  ASSERT_INT_EQ(sync_with(reg, 3, &list), 0);
  const struct registry_replica *r;
  EXPECT_INT_EQ(registry_add_replica(reg, "lab", "httpbin", "127.1.0.20", &r), 0);
  EXPECT_STR_EQ(r->name, "httpbin-0");
  EXPECT_INT_EQ(registry_add_replica(reg, "lab", "nosuch", "127.1.0.21", NULL), -ENOENT);
  EXPECT_INT_EQ(registry_add_replica(reg, "lab", "httpbin", "", NULL), -EINVAL);
  EXPECT_INT_EQ(registry_assign_addresses(reg, "127.1.0.20"), 2); /* skips .20, in use */
  EXPECT_INT_EQ(registry_assign_addresses(reg, "not-an-ip"), -EINVAL);
  const struct registry_workload *w = registry_workload_find(reg, "lab", "httpbin");
  ASSERT(w);
  ASSERT_INT_EQ(w->replicas_len, 3);
  EXPECT_STR_EQ(w->replicas[1].name, "httpbin-1");
  EXPECT_STR_EQ(w->replicas[1].address, "127.1.0.21");
  EXPECT_STR_EQ(w->replicas[2].address, "127.1.0.22");
  registry_set_health(reg, "lab", "httpbin-1", false);

  /* targetPort by container-port name; a name the container does not declare: no endpoints. */
  const struct registry_service *svc = registry_service_find(reg, "httpbin.lab.svc.cluster.local");
  ASSERT(svc);
  struct registry_endpoint *eps;
  size_t n;
  ASSERT_INT_EQ(registry_endpoints(reg, svc, 8000, NULL, &eps, &n), 0);
  ASSERT_INT_EQ(n, 3);
  EXPECT_INT_EQ(eps[0].port, 8080);
  free(eps);
  ASSERT_INT_EQ(registry_endpoints(reg, svc, 9000, NULL, &eps, &n), 0);
  EXPECT_INT_EQ(n, 0);
  /* A Service without a selector has no managed endpoints. */
  const struct registry_service *headless = registry_service_find(reg, "headless.lab.svc.cluster.local");
  ASSERT(headless);
  ASSERT_INT_EQ(registry_endpoints(reg, headless, 80, NULL, &eps, &n), 0);
  EXPECT_INT_EQ(n, 0);
  /* ServiceEntry STATIC endpoints, with a per-endpoint port by port name. */
  const struct registry_service *se = registry_service_find(reg, "api.example.com");
  ASSERT(se);
  EXPECT_INT_EQ(se->origin, REGISTRY_SERVICE_ENTRY);
  EXPECT_INT_EQ(se->location, RESOURCE_MESH_EXTERNAL);
  ASSERT_INT_EQ(registry_endpoints(reg, se, 80, NULL, &eps, &n), 0);
  ASSERT_INT_EQ(n, 2);
  EXPECT_STR_EQ(eps[0].address, "127.2.0.1");
  EXPECT_INT_EQ(eps[0].port, 80);
  EXPECT_INT_EQ(eps[1].port, 8081);
  free(eps);

  /* Re-sync (an apply): replicas survive with address and health; scale to 1 drops 1 and 2. */
  ASSERT_INT_EQ(sync_with(reg, 3, &list), 0);
  w = registry_workload_find(reg, "lab", "httpbin");
  ASSERT(w && w->replicas_len == 3);
  EXPECT_STR_EQ(w->replicas[1].address, "127.1.0.21");
  EXPECT(!w->replicas[1].healthy);
  ASSERT_INT_EQ(sync_with(reg, 1, &list), 0);
  w = registry_workload_find(reg, "lab", "httpbin");
  ASSERT(w);
  ASSERT_INT_EQ(w->replicas_len, 1);
  EXPECT_STR_EQ(w->replicas[0].name, "httpbin-0");
  /* Scaling up again reuses the lowest free index. */
  ASSERT_INT_EQ(sync_with(reg, 2, &list), 0);
  EXPECT_INT_EQ(registry_add_replica(reg, "lab", "httpbin", "127.1.0.30", &r), 0);
  EXPECT_STR_EQ(r->name, "httpbin-1");
  /* An empty resource list empties the registry. */
  ASSERT_INT_EQ(registry_sync(reg, NULL, 0), 0);
  EXPECT(registry_workload_find(reg, "lab", "httpbin") == NULL);
  resource_list_free(&list);
  registry_free(reg);
  registry_free(NULL);
}

/* registry_block_cb for the test: blocks of 16 from 20000, none after three. */
static uint32_t test_next_block(void *ctx) {
  uint32_t *next = ctx;
  if (*next >= 20000 + 3 * REGISTRY_BLOCK_SIZE) return 0;
  uint32_t base = *next;
  *next += REGISTRY_BLOCK_SIZE;
  return base;
}

/* Port blocks: one shared address, a block each; endpoints at the block's slot for the target
 * port (8080, the container's first port: slot 0, port base+4), re-sync keeps the blocks. */
static void port_blocks(void) {
  struct registry *reg = registry_new();
  struct resource_list list;
  resource_list_init(&list);
  ASSERT_INT_EQ(sync_with(reg, 2, &list), 0);
  uint32_t next = 20000;
  EXPECT_INT_EQ(registry_assign_port_blocks(reg, "127.0.0.1", test_next_block, &next), 2);
  const struct registry_workload *w = registry_workload_find(reg, "lab", "httpbin");
  ASSERT(w && w->replicas_len == 2);
  EXPECT_STR_EQ(w->replicas[0].address, "127.0.0.1");
  EXPECT_STR_EQ(w->replicas[1].address, "127.0.0.1");
  EXPECT_INT_EQ(w->replicas[0].port_base, 20000);
  EXPECT_INT_EQ(w->replicas[1].port_base, 20016);
  uint32_t slots[4];
  EXPECT_INT_EQ(registry_port_slots(reg, w, slots, 4), 1);
  EXPECT_INT_EQ(slots[0], 8080);
  EXPECT_INT_EQ(registry_replica_port(reg, w, &w->replicas[1], 8080), 20016 + REGISTRY_BLOCK_PORTS);
  EXPECT_INT_EQ(registry_replica_port(reg, w, &w->replicas[1], 9999), 0);
  const struct registry_service *svc = registry_service_find(reg, "httpbin.lab.svc.cluster.local");
  ASSERT(svc);
  struct registry_endpoint *eps;
  size_t n;
  ASSERT_INT_EQ(registry_endpoints(reg, svc, 8000, NULL, &eps, &n), 0);
  ASSERT_INT_EQ(n, 2);
  EXPECT_STR_EQ(eps[0].address, "127.0.0.1");
  EXPECT_INT_EQ(eps[0].port, 20004);
  EXPECT_INT_EQ(eps[1].port, 20020);
  free(eps);
  /* An apply keeps each replica's block; the third block is the last the callback gives. */
  ASSERT_INT_EQ(sync_with(reg, 4, &list), 0);
  EXPECT_INT_EQ(registry_assign_port_blocks(reg, "127.0.0.1", test_next_block, &next), -EADDRINUSE);
  w = registry_workload_find(reg, "lab", "httpbin");
  ASSERT(w && w->replicas_len == 3);
  EXPECT_INT_EQ(w->replicas[0].port_base, 20000);
  EXPECT_INT_EQ(w->replicas[2].port_base, 20032);
  resource_list_free(&list);
  registry_free(reg);
}

TEST_CASES(TEST(bookinfo_topology), TEST(replicas_ports_and_entries), TEST(port_blocks))
