/* Tests for mesh/clusters.c: the PassthroughCluster's on-demand host set (clusters.h). No
 * connection is opened: hosts are made, shared, swept and bounded by address alone. */
#include "mesh/clusters.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "support/test.h"

static struct conn_addr addr_of(const char *text) {
  struct conn_addr a;
  if (conn_addr_parse(&a, text) != 0) test_fail(__FILE__, __LINE__, "bad address %s", text);
  return a;
}

static void one_host_per_address(void) {
  struct cluster_manager cm;
  uint64_t handles = 0;
  cluster_manager_init(&cm, NULL, &handles);
  struct cluster *c1, *c2, *c3;
  struct upstream *a, *b, *other;
  struct conn_addr x = addr_of("127.0.0.1:8000"), y = addr_of("[::1]:8000");
  ASSERT_INT_EQ(cluster_manager_passthrough(&cm, &x, 1000, &c1, &a), 0);
  ASSERT_INT_EQ(cluster_manager_passthrough(&cm, &x, 1100, &c2, &b), 0);
  ASSERT_INT_EQ(cluster_manager_passthrough(&cm, &y, 1200, &c3, &other), 0);
  EXPECT(c1 == c2 && c2 == c3 && a == b && a != other);
  EXPECT_STR_EQ(c1->name, "PassthroughCluster");
  EXPECT(cluster_manager_find(&cm, "PassthroughCluster") == NULL); /* never a pushed cluster */
  EXPECT_INT_EQ(c1->nhosts, 2);
  EXPECT_INT_EQ(a->refs, 2);
  EXPECT_INT_EQ(c1->refs, 3);
  EXPECT(!a->tls && !other->tls);
  EXPECT_STR_EQ(other->addr.text, "[::1]:8000");
  /* No balancer: a retry cannot pick another host. */
  struct upstream *picked = NULL;
  EXPECT_INT_EQ(cluster_pick(c1, NULL, NULL, &picked, NULL), LB_NO_HEALTHY);
  cluster_release(c1, a);
  cluster_release(c2, b);
  cluster_release(c3, other);
  /* Unused for the idle interval: dropped at the next lookup (Envoy's cleanup_interval). */
  struct conn_addr z = addr_of("127.0.0.1:9000");
  ASSERT_INT_EQ(cluster_manager_passthrough(&cm, &z, 1100 + CLUSTER_PASSTHROUGH_IDLE_MS, &c1, &a), 0);
  EXPECT_INT_EQ(c1->nhosts, 2); /* x went; y, last used at 1200, stays */
  EXPECT(cluster_host_index(c1, other) >= 0 && cluster_host_index(c1, a) >= 0);
  EXPECT_INT_EQ(cm.nretired_hosts, 1);
  cluster_release(c1, a);
  cluster_manager_collect(&cm);
  EXPECT_INT_EQ(cm.nretired_hosts, 0);
  cluster_manager_free(&cm);
}

static void bounded_by_hosts_in_use(void) {
  struct cluster_manager cm;
  uint64_t handles = 0;
  cluster_manager_init(&cm, NULL, &handles);
  struct cluster *c = NULL;
  struct upstream *held[CLUSTER_PASSTHROUGH_MAX_HOSTS];
  char text[32];
  for (int i = 0; i < CLUSTER_PASSTHROUGH_MAX_HOSTS; i++) {
    snprintf(text, sizeof text, "127.0.0.1:%d", 10000 + i);
    struct conn_addr a = addr_of(text);
    ASSERT_INT_EQ(cluster_manager_passthrough(&cm, &a, 100 + i, &c, &held[i]), 0);
  }
  struct conn_addr extra = addr_of("127.0.0.1:20000");
  struct upstream *up = NULL;
  EXPECT_INT_EQ(cluster_manager_passthrough(&cm, &extra, 1000, &c, &up), -EBUSY);
  /* Two hosts freed: the least recently used of them gives its slot. */
  cluster_release(c, held[7]);
  cluster_release(c, held[3]);
  ASSERT_INT_EQ(cluster_manager_passthrough(&cm, &extra, 1000, &c, &up), 0);
  EXPECT_INT_EQ(c->nhosts, CLUSTER_PASSTHROUGH_MAX_HOSTS);
  EXPECT_INT_EQ(cluster_host_index(c, held[3]), -1);
  EXPECT(cluster_host_index(c, held[7]) >= 0);
  cluster_release(c, up);
  for (int i = 0; i < CLUSTER_PASSTHROUGH_MAX_HOSTS; i++)
    if (i != 3 && i != 7) cluster_release(c, held[i]);
  cluster_manager_collect(&cm);
  EXPECT_INT_EQ(cm.nretired_hosts, 0);
  cluster_manager_free(&cm);
}

TEST_CASES(TEST(one_host_per_address), TEST(bounded_by_hosts_in_use))
