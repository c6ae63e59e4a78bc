/* model: everything the dashboard shows, as plain data, and what the keys do to it.
 *
 * Where it sits: tui/dash.c polls the lab API (or reads a journal) and hands each answer to a
 * dash_model_feed_* function, which parses it into the structs below; the views
 * (tui/view_*.c) draw the model into a frame. Pure: no I/O, no curses, no clock of its own (the
 * time comes in with dash_model_set_now), so unit tests feed it fixtures and compare screens.
 *
 * The lesson runner (`meshlab run`) drives the lesson pane through dash_model_set_lesson and
 * learns of the presenter's keys (space, n) through the dash_action that dash_model_key
 * returns; tui/README.md describes the contract.
 */
#ifndef TUI_MODEL_H
#define TUI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DASH_MAX_SERVICES 32
#define DASH_MAX_VERSIONS 8
#define DASH_MAX_EDGES 64
#define DASH_MAX_CLUSTERS 64
#define DASH_MAX_HOSTS 256
#define DASH_MAX_REQUESTS 200
#define DASH_MAX_EVENTS 64
#define DASH_MAX_REPLICAS 128
#define DASH_TEXT 8192
#define DASH_MAX_WEIGHTS 64

/* What the lesson runner shows in the lesson pane. Every string is borrowed for the call to
 * dash_model_set_lesson (the model copies it); NULL means empty. */
struct dash_lesson_view {
  const char *lesson_title;
  int step, steps; /* step N of M, from 1 */
  const char *step_title;
  const char *narration;
  const char *watch; /* what to look at on the dashboard now */
  const char *keys;  /* the presenter's keys, e.g. "space continue  n next step" */
  bool paused;
};

/* Health of a node, an edge or a host: by colour and by glyph. */
enum dash_health {
  DASH_HEALTH_IDLE, /* no traffic in the window: '.' */
  DASH_HEALTH_OK,   /* >= 99.5 % success: '+' */
  DASH_HEALTH_WARN, /* >= 95 %: '~' */
  DASH_HEALTH_BAD,  /* below 95 %, or ejected: 'x' */
};

struct dash_version {
  char name[32];
  double observed; /* share of the service's requests in the window, 0..1 */
  double weight;   /* configured share from VirtualService weights, 0..1; -1 when none */
};

struct dash_service {
  char name[96];                 /* short: "reviews", "httpbin.other" outside default */
  char fqdn[160];                /* "reviews.default.svc.cluster.local" */
  double rps, success, p50, p99; /* success < 0: no requests */
  struct dash_version versions[DASH_MAX_VERSIONS];
  size_t nversions;
  char flags[96]; /* "UO 3,URX 1" or "" */
  bool external;  /* a ServiceEntry host / outside the mesh */
};

/* A service as its own sidecars answered it (reporter="destination": every try that reached
 * it, retries included), Kiali's view of a node; the callers' view (struct dash_service) counts
 * what they got in the end. A caller's retries can hide a failing service: ratings answering
 * 30 % 503 while reviews gets every answer on the second try. */
struct dash_served {
  char fqdn[160];
  double rps, success, p99; /* success < 0: no requests */
};

struct dash_edge {
  char source[96]; /* source workload ("istio-ingressgateway" is shown as ingress) */
  char dest[96];   /* short service name */
  double rps, success, p99;
  uint64_t uo, uh, urx; /* response flags in the window */
  bool mtls;
};

/* One caller's cluster (per destination service), with its pool and outlier settings. */
struct dash_cluster {
  char caller[96];  /* the replica, "fortio-deploy-0" */
  char name[192];   /* "outbound|8000||httpbin.default.svc.cluster.local" */
  char service[96]; /* short service name */
  uint64_t max_connections, max_pending, max_requests, max_retries;
  uint64_t cx_active, rq_pending_active, rq_active;
  uint64_t pending_overflow, cx_overflow, retry_overflow;
  bool outlier; /* outlier detection configured */
  bool partial; /* known from journal events only: no limits or counters */
  unsigned threshold, max_ejection_percent;
  size_t first_host, nhosts; /* into dash_model.hosts */
};

struct dash_host {
  char address[64];
  char replica[64];
  char health[32]; /* "healthy", "/failed_outlier_check", "/failed_eds_health" */
  bool ejected;
  int64_t ejection_until_ms; /* model clock; 0 when not ejected */
  uint64_t times_ejected, rq_active, cx_active, rq_total, rq_error;
  unsigned consecutive_5xx;
};

struct dash_request {
  char id[64];
  int64_t time_ms;
  char method[12], path[128], authority[96];
  int code;
  char flags[32]; /* "-" or "UO", "UF,URX" */
  double duration_ms;
  char upstream[64], source[96], dest[96];
  char reporter[12];
};

struct dash_replica {
  char name[96], workload[96], app[16], sidecar[16];
  char address[64]; /* pod address, to name the replica behind a host */
};

enum dash_view_id {
  DASH_VIEW_TOPOLOGY,
  DASH_VIEW_SPLIT,
  DASH_VIEW_BREAKERS,
  DASH_VIEW_REQUESTS,
  DASH_VIEW_COUNT, /* the views tab cycles through */
};

/* What a key asks of the I/O loop (or of the lesson runner). */
enum dash_action {
  DASH_ACTION_NONE,
  DASH_ACTION_QUIT,
  DASH_ACTION_OPEN_TRACE,    /* fetch the trace of dash_model.trace_id */
  DASH_ACTION_LESSON_TOGGLE, /* space: continue / pause the lesson (or the replay) */
  DASH_ACTION_LESSON_NEXT,   /* n: next step (or the replay's next event) */
  DASH_ACTION_SEEK_BACK,     /* left: replay 10 s back */
  DASH_ACTION_SEEK_FORWARD,  /* right: replay 10 s on */
};

/* Keys beyond plain characters, as tui/term.c reports them. */
enum {
  DASH_KEY_UP = 0x10000,
  DASH_KEY_DOWN,
  DASH_KEY_LEFT,
  DASH_KEY_RIGHT,
  DASH_KEY_PGUP,
  DASH_KEY_PGDN,
  DASH_KEY_ENTER,
  DASH_KEY_ESC,
  DASH_KEY_BACKSPACE,
  DASH_KEY_TAB,
  DASH_KEY_BTAB,
  DASH_KEY_WHEEL_UP, /* the mouse wheel: like up/down */
  DASH_KEY_WHEEL_DOWN,
};

struct dash_model {
  int64_t now_ms;     /* the clock, wall time in ms (replay: the journal's) */
  int64_t updated_ms; /* when the last answer from the lab came in; 0 never */
  bool lab_down;      /* the last poll failed */
  char lab_note[128]; /* "lab API unreachable" ... */
  bool replay;
  char replay_note[128]; /* "replay 12.3 s / 60.0 s  (paused)" */
  double mesh_rps, mesh_5xx;

  struct dash_replica replicas[DASH_MAX_REPLICAS];
  size_t nreplicas;
  struct dash_service services[DASH_MAX_SERVICES];
  size_t nservices;
  struct dash_served served[DASH_MAX_SERVICES];
  size_t nserved;
  struct dash_edge edges[DASH_MAX_EDGES];
  size_t nedges;
  struct dash_cluster clusters[DASH_MAX_CLUSTERS];
  size_t nclusters;
  struct dash_host hosts[DASH_MAX_HOSTS];
  size_t nhosts;
  struct {
    char service[96], version[32];
    double weight;             /* 0..1 */
  } weights[DASH_MAX_WEIGHTS]; /* from VirtualServices */
  size_t nweights;
  struct dash_request requests[DASH_MAX_REQUESTS]; /* oldest first */
  size_t nrequests;
  char events[DASH_MAX_EVENTS][160]; /* journal events (replay), oldest first */
  size_t nevents;

  bool has_lesson;
  struct {
    char lesson_title[128], step_title[128], narration[1024], watch[256], keys[128];
    int step, steps;
    bool paused;
  } lesson;

  /* what the presenter looks at */
  enum dash_view_id view;
  bool help;
  int selected;         /* in the requests view: index among the filtered rows, newest first */
  char selected_id[64]; /* once the presenter moved the selection: the request it stays on */
  int scroll;           /* first row shown of a long view (trace) */
  char filter[64];
  bool filtering; /* '/' typed: keys edit the filter */
  bool trace_open;
  char trace_id[64];
  char trace[DASH_TEXT]; /* the trace's text (meshlab why's), or a message */
};

/* An empty model, first view, clock at 0. */
void dash_model_init(struct dash_model *m);
/* Sets the clock (ms). */
void dash_model_set_now(struct dash_model *m, int64_t now_ms);

/* Feeds an answer of the lab API (text borrowed, JSON). Each returns 0, or -EINVAL when the
 * text is not the expected JSON (the model then keeps what it had). */
int dash_model_feed_status(struct dash_model *m, const char *json, size_t len);  /* GET /v1/status */
int dash_model_feed_metrics(struct dash_model *m, const char *json, size_t len); /* /v1/metrics group_by */
/* GET /v1/metrics?reporter=destination&group_by=destination_service: the services as their
 * own sidecars answered (Kiali's node health), replacing the last such answer. */
int dash_model_feed_served(struct dash_model *m, const char *json, size_t len);
/* The service fqdn as its sidecars answered it, or NULL (no inbound reports: an external
 * service, or nothing reached it in the window). */
const struct dash_served *dash_model_served(const struct dash_model *m, const char *fqdn);
/* GET /v1/metrics?reporter=source&source_workload=W&group_by=destination_service: the calls
 * workload W makes, replacing W's edges. */
int dash_model_feed_edges(struct dash_model *m, const char *source, const char *json, size_t len);
int dash_model_feed_requests(struct dash_model *m, const char *json, size_t len); /* GET /v1/requests */
int dash_model_feed_clusters(struct dash_model *m, const char *json, size_t len); /* GET /v1/clusters */
/* Before GET /v1/clusters: one sidecar's admin /clusters text (cluster::host::stat::value lines)
 * for caller (its replica name); replaces that caller's clusters. Outbound clusters only. */
int dash_model_feed_admin_clusters(struct dash_model *m, const char *caller, const char *text, size_t len);
/* `get virtualservice -A -o json` and `get destinationrule -A -o json` (a List): the
 * configured weights of the split view. Either may be NULL. */
int dash_model_feed_routes(struct dash_model *m, const char *vs_json, size_t vs_len, const char *dr_json,
                           size_t dr_len);
/* The trace of trace_id: meshlab why's text (borrowed), shown in the trace pane. */
void dash_model_set_trace(struct dash_model *m, const char *text, size_t len);
/* Marks the lab reachable (updated now) or not, with a note. */
void dash_model_set_lab(struct dash_model *m, bool up, const char *note);
/* One journal line (replay): applies rate, ejection, overflow and other events. */
int dash_model_feed_journal(struct dash_model *m, const char *line, size_t len);

/* Shows (view not NULL) or hides (NULL) the lesson pane; copies every string. */
void dash_model_set_lesson(struct dash_model *m, const struct dash_lesson_view *view);

/* Applies a key (a character or DASH_KEY_*) to the presenter's state; returns what the I/O
 * loop should do. */
enum dash_action dash_model_key(struct dash_model *m, int key);

/* Helpers the views share. */
enum dash_health dash_health_of(double success, double rps);
char dash_health_glyph(enum dash_health h);
/* The requests the filter selects, newest first: fills idx with indexes into requests. */
size_t dash_model_filtered(const struct dash_model *m, size_t *idx, size_t max);
/* A request as one access-log line (Envoy's default format, shortened to fit). */
void dash_request_line(const struct dash_request *r, char *out, size_t n);
/* Short service name: "reviews.default.svc.cluster.local" -> "reviews", other namespaces keep
 * theirs ("httpbin.other"). */
void dash_short_service(const char *fqdn, char *out, size_t n);

#endif
