/* Shared by the proxy's socket-level tests (test_proxy.c: the data path; test_proxy_config.c:
 * what a pushed config turns on): start/stop of the fixture (support/fixture.h), the proxy's
 * and the origin's counters read on the loop thread, and a plain GET. Header-only, like
 * bookinfo_world.h. */
#ifndef TESTS_MESH_PROXY_FIXTURES_H
#define TESTS_MESH_PROXY_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mesh/flags.h"
#include "support/client.h"
#include "support/fixture.h"
#include "support/test.h"

#define START(f, limits) ASSERT_INT_EQ(fixture_start(&(f), (limits), 0, NULL), 0)
#define STOP(f) EXPECT_INT_EQ(fixture_stop(&(f)), 0)

struct counts {
  uint64_t origin_connections, origin_requests, cx_total, cx_idle, protocol_errors, down_cx_active;
  uint64_t by_flag[FLAG_COUNT];
  uint64_t code_count[600];
};

static inline void read_counts(struct fixture *f, void *arg) {
  struct counts *c = arg;
  memset(c, 0, sizeof *c);
  c->origin_connections = f->origin.connections;
  c->origin_requests = f->origin.requests;
  c->cx_total = f->px.clusters.items[0]->hosts[0]->stats.cx_total;
  c->cx_idle = f->px.clusters.items[0]->hosts[0]->stats.cx_idle;
  c->protocol_errors = f->px.stats.downstream_cx_protocol_error;
  c->down_cx_active = f->px.stats.downstream_cx_active;
  for (size_t i = 0; i < f->px.stats.nby_code; i++) {
    const struct code_flags_count *e = &f->px.stats.by_code[i];
    if (e->code >= 0 && e->code < 600) c->code_count[e->code] += e->n;
    for (int b = 0; b < FLAG_COUNT; b++)
      if (e->flags & (1u << b)) c->by_flag[b] += e->n;
  }
}

static inline int flag_index(uint32_t flag) {
  for (int b = 0; b < FLAG_COUNT; b++)
    if (flag == (1u << b)) return b;
  return 0;
}

static inline void get(struct client *c, const char *path, struct client_response *r) {
  char req[512];
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path);
  if (client_send_str(c, req) != 0 || client_read(c, r) != 0)
    test_fail(__FILE__, __LINE__, "GET %s: no complete response", path);
}

#endif
