/* registry: the control plane's view of who runs where (Istio's service registry, the part of
 * istiod that watches Kubernetes).
 *
 * Where it sits: the resource store holds what people applied (Deployments, Services,
 * ServiceEntries and Istio's routing kinds); the lab starts replicas and tells the registry
 * each one's pod address and health; compile.c asks the registry which endpoints back a
 * service port, or a subset of it, when it builds a sidecar's config. Pure data: no I/O.
 *
 *   workload  = a Deployment: name, namespace, pod labels (app, version ...), service account,
 *               the replica count it asks for, and the replicas the lab has started, each named
 *               `<deployment>-<index>` with its address (127.1.0.N) and a healthy flag;
 *   service   = a Kubernetes Service (name, namespace, ports with name/port/targetPort,
 *               selector) or one host of a ServiceEntry (its ports, location, resolution and
 *               static endpoints);
 *   endpoint  = one replica (or ServiceEntry endpoint) behind one service port: address and
 *               the port to connect to (the Service's targetPort resolved against the
 *               container's named ports, as kube-proxy does).
 *
 * registry_sync() rebuilds the topology from a resource list whenever it changes and keeps the
 * replicas the lab already started (same namespace and deployment name); every pointer the
 * registry handed out before is invalid afterwards. Everything the registry holds is its own
 * copy: the resources can be freed after a sync.
 */
#ifndef MESH_REGISTRY_H
#define MESH_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/resource.h"

struct registry_replica {
  char *name;    /* "<deployment>-<index>", e.g. "reviews-v2-0" */
  char *address; /* pod address without port, e.g. "127.1.0.5" */
  uint32_t index;
  bool healthy;       /* new replicas start healthy; registry_set_health changes it */
  uint32_t port_base; /* 0: the replica owns its address (Istio's ports); else its port block */
};

/* Port blocks: where addresses beyond 127.0.0.1 cannot be bound (macOS without aliases, some
 * containers), every replica shares one address and owns REGISTRY_BLOCK_SIZE consecutive ports
 * from its port_base, at fixed offsets in place of Istio's port numbers. */
#define REGISTRY_BLOCK_SIZE 16
#define REGISTRY_BLOCK_ADMIN 0    /* Istio's 15000 */
#define REGISTRY_BLOCK_OUTBOUND 1 /* 15001 */
#define REGISTRY_BLOCK_INBOUND 2  /* 15006; reserved: the sidecar binds each workload port instead */
#define REGISTRY_BLOCK_METRICS 3  /* 15090; reserved */
#define REGISTRY_BLOCK_PORTS 4    /* the workload's ports, in registry_port_slots order, to the end */

/* Gives the next free port block's first port, or 0 when none is left (the lab probes ports;
 * the registry does no I/O). */
typedef uint32_t (*registry_block_cb)(void *ctx);

struct registry_container_port {
  char *name; /* NULL when unnamed */
  uint32_t port;
};

struct registry_workload {
  char *name; /* the Deployment's name, e.g. "reviews-v2" */
  char *ns;
  struct resource_map labels;            /* pod template labels (app, version ...) */
  char *service_account;                 /* "default" when the Deployment names none */
  uint32_t replicas_wanted;              /* spec.replicas */
  struct registry_container_port *ports; /* every container port of every container */
  size_t ports_len;
  struct registry_replica *replicas; /* the ones the lab has started, in index order */
  size_t replicas_len, replicas_cap;
};

struct registry_service_port {
  char *name;           /* may be NULL for a single unnamed Service port */
  uint32_t port;        /* the service port clients use */
  uint32_t target_port; /* numeric targetPort, or 0 when named (target_port_name) */
  char *target_port_name;
  char *protocol; /* Service: TCP/UDP/SCTP; ServiceEntry: HTTP, HTTPS, TCP ... */
};

struct registry_static_endpoint { /* a ServiceEntry endpoints[] entry */
  char *address;
  struct resource_map labels;
  struct resource_map ports; /* port name -> number, as decimal strings */
};

enum registry_service_origin { REGISTRY_KUBERNETES, REGISTRY_SERVICE_ENTRY };

struct registry_service {
  enum registry_service_origin origin;
  char *name; /* Service: metadata.name; ServiceEntry: the host */
  char *ns;
  char *fqdn; /* "reviews.default.svc.cluster.local"; ServiceEntry: the host as written */
  struct registry_service_port *ports;
  size_t ports_len;
  struct resource_map selector;               /* Kubernetes: empty selects nothing (no managed endpoints) */
  enum resource_location location;            /* ServiceEntry only; Services are MESH_INTERNAL */
  enum resource_resolution resolution;        /* ServiceEntry only */
  struct registry_static_endpoint *endpoints; /* ServiceEntry STATIC endpoints */
  size_t endpoints_len;
};

/* One backend of one service port, as the registry sees it now (port: registry_replica_port,
 * so a replica in a port block is reached at its slot). Pointers are borrowed from
 * the registry and valid until its next sync or free. */
struct registry_endpoint {
  const char *address;
  uint32_t port;
  bool healthy;
  const struct resource_map *labels;        /* the pod's (or ServiceEntry endpoint's) labels */
  const struct registry_workload *workload; /* NULL for ServiceEntry endpoints */
  const struct registry_replica *replica;   /* NULL for ServiceEntry endpoints */
};

struct registry;

/* Returns an empty registry (owned; registry_free) or NULL when out of memory. */
struct registry *registry_new(void);
/* Frees everything. registry_free(NULL) is a no-op. */
void registry_free(struct registry *reg);

/* Rebuilds workloads and services from the Deployments, Services and ServiceEntries in items
 * (other kinds are skipped; borrows items, copies what it keeps). Replicas the lab had started
 * for a workload that still exists are kept with their address and health, at most
 * replicas_wanted of them (the highest indexes go first, as a scale-down does). All-or-nothing:
 * on -ENOMEM the registry is unchanged. Returns 0 or -ENOMEM. */
int registry_sync(struct registry *reg, struct resource *const *items, size_t len);

/* Records that the lab started the next replica of deployment `name` in `ns` at `address`
 * (copied; no port). The replica is named "<name>-<index>" with the lowest unused index and
 * starts healthy. Returns 0 and, when out is not NULL, *out (borrowed), -ENOENT when no such
 * workload, -EINVAL for an empty address, or -ENOMEM. */
int registry_add_replica(struct registry *reg, const char *ns, const char *name, const char *address,
                         const struct registry_replica **out);
/* Gives every replica a workload still wants (replicas_wanted minus those started) an address,
 * counting up from the IPv4 address `first` (e.g. "127.1.0.1") past every address already in
 * use, in workload order (namespace, then name). For tests and for the lab's default layout.
 * Returns the number of replicas added, -EINVAL for a bad `first`, or -ENOMEM. */
int registry_assign_addresses(struct registry *reg, const char *first);
/* Port-block layout of registry_assign_addresses: every replica a workload still wants gets
 * `address` (e.g. "127.0.0.1") and the block next_block(ctx) gives. Returns the number of
 * replicas added, -EADDRINUSE when next_block gave none, -EINVAL, or -ENOMEM. */
int registry_assign_port_blocks(struct registry *reg, const char *address, registry_block_cb next_block, void *ctx);
/* The ports a workload listens on, in the order they take a port block's slots: its container
 * ports as declared, then the target ports of the services selecting it that no container
 * declares, in registry order (adding a Service appends, so existing slots rarely move).
 * Fills ports with up to max and returns how many there are (may exceed max). */
size_t registry_port_slots(const struct registry *reg, const struct registry_workload *w, uint32_t *ports, size_t max);
/* Where replica r of w serves its workload port `port` (a resolved target port): port itself
 * when r owns its address, else its slot in r's block; 0 when the block has no slot for it. */
uint32_t registry_replica_port(const struct registry *reg, const struct registry_workload *w,
                               const struct registry_replica *r, uint32_t port);
/* Marks the replica named `replica` in ns healthy or not (an app that crashed, a readiness
 * probe that failed). Returns 0 or -ENOENT. */
int registry_set_health(struct registry *reg, const char *ns, const char *replica, bool healthy);

/* Lookups. Results are borrowed, valid until the next sync or free; NULL when absent. */
const struct registry_workload *registry_workload_find(const struct registry *reg, const char *ns, const char *name);
/* The workload that runs the replica named `replica` ("reviews-v2-0") in ns. */
const struct registry_workload *registry_workload_of_replica(const struct registry *reg, const char *ns,
                                                             const char *replica);
/* The service whose FQDN is fqdn (case-insensitive); ServiceEntry hosts by their exact name. */
const struct registry_service *registry_service_find(const struct registry *reg, const char *fqdn);
/* Every service, in a stable order (namespace, then name). */
const struct registry_service *registry_services(const struct registry *reg, size_t *len);
/* Every workload, in a stable order (namespace, then name). */
const struct registry_workload *registry_workloads(const struct registry *reg, size_t *len);
/* The port entry of svc for service port `port`, or NULL. */
const struct registry_service_port *registry_service_port(const struct registry_service *svc, uint32_t port);

/* The endpoints behind one port of svc, optionally only those whose labels carry every entry of
 * subset_labels (a DestinationRule subset; NULL or empty = all). Kubernetes services: every
 * started replica (healthy or not: the caller decides) of every workload in the service's
 * namespace whose labels match the selector, at the resolved target port; a named targetPort
 * that the workload's containers do not declare leaves that workload out, as Kubernetes does.
 * ServiceEntry: its STATIC endpoints (port from the endpoint's `ports` by port name, else the
 * targetPort, else the port); DNS resolution: the host itself; NONE: nothing.
 * Returns 0 and *out (owned array: free()) with *len entries (out is NULL when none), or
 * -ENOMEM. */
int registry_endpoints(const struct registry *reg, const struct registry_service *svc, uint32_t port,
                       const struct resource_map *subset_labels, struct registry_endpoint **out, size_t *len);

/* The services in the workload's namespace whose selector selects it (the ones its sidecar
 * serves inbound), in registry order. Returns 0 and *out (owned array of borrowed pointers:
 * free()), or -ENOMEM. */
int registry_services_of(const struct registry *reg, const struct registry_workload *w,
                         const struct registry_service ***out, size_t *len);
/* The port a workload listens on for port entry sp: targetPort, a named targetPort resolved
 * against its container ports, or the service port. 0 when a named port is not declared. */
uint32_t registry_target_port(const struct registry_workload *w, const struct registry_service_port *sp);

#endif
