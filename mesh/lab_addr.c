/* lab_addr: where replicas listen. Pod addresses come from the lab's CIDR (127.1.0.0/24 by
 * default); where 127.x beyond 127.0.0.1 cannot be bound, every replica shares 127.0.0.1 with a
 * block of ports of its own (docs/lab.md, "Port blocks"). Also the ingress address's port 0,
 * resolved to a free port once so every reader names the same one. */
#include "mesh/lab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- pod addresses -------------------------------------------------------------------------- */

/* Parses "A.B.C.D/LEN" into the first and last host address (host byte order). */
int lab_parse_cidr(const char *cidr, uint32_t *first, uint32_t *last) {
  char ip[64];
  const char *slash = strchr(cidr, '/');
  if (!slash || (size_t)(slash - cidr) >= sizeof ip) return -EINVAL;
  memcpy(ip, cidr, (size_t)(slash - cidr));
  ip[slash - cidr] = '\0';
  char *end;
  long len = strtol(slash + 1, &end, 10);
  struct in_addr in;
  if (*end || len < 8 || len > 30 || inet_pton(AF_INET, ip, &in) != 1) return -EINVAL;
  uint32_t mask = len == 0 ? 0 : 0xffffffffu << (32 - len);
  uint32_t net = ntohl(in.s_addr) & mask;
  *first = net + 1;
  *last = (net | ~mask) - 1;
  return 0;
}

void lab_addr_text(uint32_t a, char *out, size_t n) {
  struct in_addr o = {htonl(a)};
  inet_ntop(AF_INET, &o, out, (socklen_t)n);
}

uint32_t lab_addr_value(const char *text) {
  struct in_addr in;
  return inet_pton(AF_INET, text, &in) == 1 ? ntohl(in.s_addr) : 0;
}

/* ---- port blocks ------------------------------------------------------------------------------ */

/* Port blocks (docs/lab.md): every replica on LAB_BLOCK_ADDRESS, each with REGISTRY_BLOCK_SIZE
 * ports of its own. Blocks are searched from a base below Linux's ephemeral range (32768+, where
 * outgoing connections take their ports), at a random block when no BASE is given, so labs
 * started side by side rarely probe the same ones. */
#define BLOCK_SEARCH_FIRST 20000u
#define BLOCK_SEARCH_LAST 32767u

/* Nonzero when a TCP listener could bind address:port now (SO_REUSEADDR, as libuv binds). */
static bool port_free(uint32_t address, uint32_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = {htonl(address)}};
  bool ok = bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
  close(fd);
  return ok;
}

/* registry_block_cb: the next block whose every port is free now (probed, not reserved: the
 * sidecar binds them a moment later). Wraps once around the search range; 0 when none. */
uint32_t lab_next_block(void *ctx) {
  struct lab *lab = ctx;
  uint32_t lo = lab->opt.port_block_base ? lab->opt.port_block_base : BLOCK_SEARCH_FIRST;
  uint32_t hi = lab->opt.port_block_base ? 65535u : BLOCK_SEARCH_LAST;
  uint32_t blocks = (hi + 1 - lo) / REGISTRY_BLOCK_SIZE;
  for (uint32_t tried = 0; tried < blocks; tried++) {
    if (lab->block_next < lo || lab->block_next + REGISTRY_BLOCK_SIZE - 1 > hi) lab->block_next = lo;
    uint32_t base = lab->block_next;
    lab->block_next += REGISTRY_BLOCK_SIZE;
    bool free_all = true;
    for (uint32_t p = 0; p < REGISTRY_BLOCK_SIZE && free_all; p++) free_all = port_free(INADDR_LOOPBACK, base + p);
    if (free_all) return base;
  }
  return 0;
}

/* Whether pod addresses work here: bind the first one (port 0). EADDRNOTAVAIL means only
 * 127.0.0.1 is configured (macOS without aliases, some containers). */
bool lab_pod_addresses_bindable(uint32_t first) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return true; /* not the question asked: let the sidecars report it */
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(first)}};
  bool ok = bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 || errno != EADDRNOTAVAIL;
  close(fd);
  return ok;
}

uint32_t lab_replica_port(const struct lab_replica *rep, uint32_t slot, uint32_t istio_port) {
  return rep->port_base ? rep->port_base + slot : istio_port;
}

/* An ingress address with port 0 gets a free port now, so the gateway sidecar, `status` and
 * the `ingress` file all name the same one (bind, read the port, release: the sidecar binds
 * it a moment later). */
int lab_resolve_port(uv_loop_t *loop, const char *in, char *out, size_t n) {
  struct conn_addr a;
  if (conn_addr_parse(&a, in) != 0 || a.kind != CONN_TCP) return -EINVAL;
  const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.sa;
  if (a.sa.ss_family != AF_INET || sin->sin_port != 0) {
    if (strlen(a.text) >= n) return -ENAMETOOLONG;
    memcpy(out, a.text, strlen(a.text) + 1);
    return 0;
  }
  uv_tcp_t t;
  uv_tcp_init(loop, &t);
  int rc = uv_tcp_bind(&t, (const struct sockaddr *)&a.sa, 0);
  if (rc == 0) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    rc = uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
    if (rc == 0) conn_addr_format((struct sockaddr *)&ss, out, n);
  }
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return rc;
}

void lab_blocks_begin(struct lab *lab) {
  /* A random first block without BASE: labs side by side rarely probe the same ones. */
  uint32_t span = (BLOCK_SEARCH_LAST + 1 - BLOCK_SEARCH_FIRST) / REGISTRY_BLOCK_SIZE;
  lab->block_next = lab->opt.port_block_base
                        ? lab->opt.port_block_base
                        : BLOCK_SEARCH_FIRST +
                              (uint32_t)((uv_hrtime() ^ (uint64_t)getpid() * 2654435761u) % span) * REGISTRY_BLOCK_SIZE;
}
