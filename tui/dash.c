/* The dashboard's I/O loop: see dash.h. Everything here is plumbing: the decisions about what
 * to show live in the model and the views, so this file stays thin and is tested end to end
 * (tests/cli/test_dash.sh drives it in tmux against a running lab). */
#include "tui/dash.h"

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mesh/labdir.h"
#include "tui/term.h"
#include "tui/view.h"

#define TICK_MS 250
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define CALL_TIMEOUT_MS 2000

enum poll_kind {
  POLL_STATUS,
  POLL_METRICS,
  POLL_SERVED,
  POLL_EDGES,
  POLL_REQUESTS,
  POLL_CLUSTERS,
  POLL_ADMIN,
  POLL_VS,
  POLL_DR,
  POLL_TRACE
};

struct poll_call {
  struct dash *d;
  enum poll_kind kind;
  char name[96]; /* the source workload (edges) or the caller replica (admin) */
};

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- drawing and recording ---- */

static void cast_write(struct dash *d, const char *type, const char *data, size_t len) {
  if (!d->cast) return;
  double t = (double)(wall_ms() - d->cast_start_ms) / 1000.0;
  json_t *ev = json_pack("[f, s, s#]", t, type, data, len);
  char *text = ev ? json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
  if (text) fprintf(d->cast, "%s\n", text);
  free(text);
  json_decref(ev);
  fflush(d->cast);
}

static void render(struct dash *d) {
  if (d->closing || !d->term) return;
  if (!d->opt.journal) dash_model_set_now(d->model, wall_ms());
  int w, h;
  term_size(d->term, &w, &h);
  if (d->frame.w != w || d->frame.h != h) {
    frame_free(&d->frame);
    if (frame_init(&d->frame, w, h) != 0) return;
  }
  dash_render(d->model, &d->frame);
  term_draw(d->term, &d->frame);
  if (d->cast) {
    struct buf out = {0};
    frame_ansi(d->prev.w ? &d->prev : NULL, &d->frame, term_color(d->term), &out);
    if (out.len) cast_write(d, "o", out.data, out.len);
    buf_free(&out);
    if (d->prev.w != w || d->prev.h != h) {
      frame_free(&d->prev);
      frame_init(&d->prev, w, h);
    }
    if (d->prev.cells) memcpy(d->prev.cells, d->frame.cells, (size_t)w * (size_t)h * sizeof *d->prev.cells);
  }
}

/* ---- the lab ---- */

static void on_call_done(struct http_client_call *call, int status);

static int call_lab(struct dash *d, enum poll_kind kind, const char *name, const char *url_or_target) {
  struct poll_call *pc = calloc(1, sizeof *pc);
  if (!pc) return -ENOMEM;
  pc->d = d;
  pc->kind = kind;
  snprintf(pc->name, sizeof pc->name, "%s", name ? name : "");
  char url[1024];
  if (strncmp(url_or_target, "http://", 7) == 0) snprintf(url, sizeof url, "%s", url_or_target);
  else snprintf(url, sizeof url, "http://%s%s", d->api, url_or_target);
  struct http_client_req req = {"GET", url, NULL, NULL, {NULL, 0}, CALL_TIMEOUT_MS};
  int rc = http_client_send(&d->client, &req, on_call_done, pc, NULL);
  if (rc != 0) {
    free(pc);
    return rc;
  }
  if (kind != POLL_TRACE) d->inflight++;
  return 0;
}

/* The stdout part of a console answer (docs/lab.md): the body up to x-meshlab-stdout-length. */
static size_t console_stdout(const struct http_client_response *r) {
  const struct slice *h = http_client_response_header(r, "x-meshlab-stdout-length");
  if (!h || h->n >= 32) return r->body.len;
  char tmp[32];
  memcpy(tmp, h->p, h->n);
  tmp[h->n] = '\0';
  size_t n = (size_t)strtoul(tmp, NULL, 10);
  return n <= r->body.len ? n : r->body.len;
}

static void poll_done(struct dash *d) {
  if (d->vs_body.len && d->dr_body.len)
    dash_model_feed_routes(d->model, d->vs_body.data, d->vs_body.len, d->dr_body.data, d->dr_body.len);
  buf_free(&d->vs_body);
  buf_free(&d->dr_body);
  render(d);
}

static void on_call_done(struct http_client_call *call, int status) {
  struct poll_call *pc = call->data;
  struct dash *d = pc->d;
  enum poll_kind kind = pc->kind;
  if (!d->closing) {
    const struct http_client_response *r = &call->response;
    const char *body = r->body.data ? r->body.data : "";
    size_t len = r->body.len;
    bool ok = status == 0 && r->status == 200;
    struct dash_model *m = d->model;
    switch (kind) {
    case POLL_STATUS:
      if (ok) dash_model_feed_status(m, body, len);
      break;
    case POLL_METRICS:
      if (ok && dash_model_feed_metrics(m, body, len) == 0) dash_model_set_lab(m, true, NULL);
      else dash_model_set_lab(m, false, status ? uv_strerror(status) : "the lab answered an error");
      d->traffic = ok && m->nservices > 0;
      if (!d->traffic) m->nedges = 0;
      break;
    case POLL_SERVED:
      if (ok) dash_model_feed_served(m, body, len);
      break;
    case POLL_EDGES:
      if (ok) dash_model_feed_edges(m, pc->name, body, len);
      break;
    case POLL_REQUESTS:
      if (ok) dash_model_feed_requests(m, body, len);
      break;
    case POLL_CLUSTERS:
      if (ok) dash_model_feed_clusters(m, body, len);
      else if (status == 0 && r->status == 404) d->v1_clusters = false;
      break;
    case POLL_ADMIN:
      if (ok) dash_model_feed_admin_clusters(m, pc->name, body, len);
      break;
    case POLL_VS:
      if (ok) buf_append(&d->vs_body, body, console_stdout(r));
      break;
    case POLL_DR:
      if (ok) buf_append(&d->dr_body, body, console_stdout(r));
      break;
    case POLL_TRACE:
      if (status != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "cannot reach the lab API: %s", uv_strerror(status));
        dash_model_set_trace(m, msg, strlen(msg));
      } else {
        dash_model_set_trace(m, body, len);
      }
      render(d);
      break;
    }
  }
  free(pc);
  if (kind != POLL_TRACE && --d->inflight == 0 && !d->closing) poll_done(d);
}

/* Each sidecar's admin /clusters, until the lab serves /v1/clusters: the one place that knows
 * where the per-caller breaker state comes from. */
static void poll_clusters(struct dash *d) {
  if (d->v1_clusters) {
    call_lab(d, POLL_CLUSTERS, NULL, "/v1/clusters");
    return;
  }
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/replicas", d->opt.lab_dir);
  DIR *dp = opendir(dir);
  if (!dp) return;
  struct dirent *e;
  while ((e = readdir(dp))) {
    if (e->d_name[0] == '.') continue;
    char rel[512], addr[128], url[256], caller[300];
    snprintf(rel, sizeof rel, "replicas/%s/admin", e->d_name);
    if (labdir_read(d->opt.lab_dir, rel, addr, sizeof addr) != 0) continue;
    snprintf(caller, sizeof caller, "%s", e->d_name);
    char *dot = strchr(caller, '.'); /* NAME.NAMESPACE outside default */
    if (dot) *dot = '\0';
    snprintf(url, sizeof url, "http://%s/clusters", addr);
    call_lab(d, POLL_ADMIN, caller, url);
  }
  closedir(dp);
}

static void poll_lab(struct dash *d) {
  if (d->inflight) return;
  /* re-read the API address: a lab restarted in the folder has a new one */
  char api[128];
  if (labdir_read(d->opt.lab_dir, "api", api, sizeof api) != 0) {
    dash_model_set_lab(d->model, false, "no lab is running in this folder");
    render(d);
    return;
  }
  snprintf(d->api, sizeof d->api, "%s", api);
  unsigned t = d->ticks++;
  call_lab(d, POLL_METRICS, NULL, "/v1/metrics?window=10s&reporter=source&group_by=destination_service");
  call_lab(d, POLL_SERVED, NULL, "/v1/metrics?window=10s&reporter=destination&group_by=destination_service");
  if (t % 4 == 0) call_lab(d, POLL_STATUS, NULL, "/v1/status");
  if (d->traffic || t % 4 == 0) poll_clusters(d);
  if (t % 8 == 0) {
    call_lab(d, POLL_VS, NULL, "/v1/get?kind=virtualservice&all=1&o=json");
    call_lab(d, POLL_DR, NULL, "/v1/get?kind=destinationrule&all=1&o=json");
  }
  if (d->traffic) {
    call_lab(d, POLL_REQUESTS, NULL, "/v1/requests?limit=100");
    /* one query per calling workload: the edges */
    const struct dash_model *m = d->model;
    for (size_t i = 0; i < m->nreplicas; i++) {
      bool seen = false;
      for (size_t j = 0; j < i; j++) seen = seen || strcmp(m->replicas[j].workload, m->replicas[i].workload) == 0;
      if (seen || !m->replicas[i].workload[0]) continue;
      struct buf target = {0};
      buf_appendf(&target, "/v1/metrics?window=10s&reporter=source&group_by=destination_service&source_workload=%s",
                  m->replicas[i].workload);
      call_lab(d, POLL_EDGES, m->replicas[i].workload, buf_cstr(&target));
      buf_free(&target);
    }
  }
}

/* ---- replay ---- */

static int64_t parse_ts(const char *line) {
  const char *p = strstr(line, "\"ts\":");
  int Y, M, D, h, mi, s, ms = 0;
  if (!p || sscanf(p + 5, " \"%d-%d-%dT%d:%d:%d.%dZ", &Y, &M, &D, &h, &mi, &s, &ms) < 6) return 0;
  struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = mi, .tm_sec = s};
  return (int64_t)timegm(&tm) * 1000 + ms;
}

static int replay_load(struct dash *d) {
  size_t len = 0;
  FILE *f = fopen(d->opt.journal, "r");
  if (!f) {
    fprintf(stderr, "meshlab replay: cannot read %s: %s\n", d->opt.journal, strerror(errno));
    return -errno;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  double offset = 0, last = 0;
  while ((n = getline(&line, &cap, f)) > 0) {
    const char *tp = strstr(line, "\"t\":");
    if (!tp) continue;
    double t = strtod(tp + 4, NULL);
    if (t < last) offset += last; /* a new lab in the same folder: t starts again */
    last = t;
    if (d->njlines == len) {
      len = len ? 2 * len : 256;
      d->jlines = realloc(d->jlines, len * sizeof *d->jlines);
      d->jt = realloc(d->jt, len * sizeof *d->jt);
    }
    if (!d->njlines) d->replay_base_ms = parse_ts(line) - (int64_t)(t * 1000);
    d->jlines[d->njlines] = strdup(line);
    d->jt[d->njlines++] = offset + t;
  }
  free(line);
  fclose(f);
  if (!d->njlines) {
    fprintf(stderr, "meshlab replay: %s holds no journal events\n", d->opt.journal);
    return -EINVAL;
  }
  d->replay_end = d->jt[d->njlines - 1];
  return 0;
}

static void replay_note(struct dash *d) {
  const char *name = strrchr(d->opt.journal, '/');
  snprintf(d->model->replay_note, sizeof d->model->replay_note, "REPLAY %s  %.1f s of %.1f s  (%s)",
           name ? name + 1 : d->opt.journal, d->replay_t, d->replay_end,
           d->playing               ? "playing"
           : d->jnext >= d->njlines ? "end"
                                    : "paused");
}

/* Moves the replay to time t: forward by feeding the events up to t, back by starting over. */
static void replay_to(struct dash *d, double t) {
  struct dash_model *m = d->model;
  if (t < 0) t = 0;
  if (t > d->replay_end) t = d->replay_end;
  if (t < d->replay_t) {
    m->nclusters = m->nhosts = m->nevents = 0;
    m->mesh_rps = m->mesh_5xx = 0;
    d->jnext = 0;
  }
  while (d->jnext < d->njlines && d->jt[d->jnext] <= t) {
    dash_model_set_now(m, d->replay_base_ms + (int64_t)(d->jt[d->jnext] * 1000));
    const char *line = d->jlines[d->jnext++];
    dash_model_feed_journal(m, line, strlen(line));
  }
  d->replay_t = t;
  dash_model_set_now(m, d->replay_base_ms + (int64_t)(t * 1000));
  if (d->jnext >= d->njlines) d->playing = false;
  replay_note(d);
}

/* ---- keys, ticks, resize ---- */

/* What a key (or a click) asked for: the model already changed its own state. */
static void run_action(struct dash *d, enum dash_action a) {
  bool replay = d->opt.journal != NULL;
  switch (a) {
  case DASH_ACTION_NONE:
    break;
  case DASH_ACTION_QUIT:
    if (d->on_action) d->on_action(d, a, d->data);
    else dash_close(d, NULL);
    return;
  case DASH_ACTION_OPEN_TRACE: {
    if (replay) {
      const char *msg = "a replay has no lab to ask for traces";
      dash_model_set_trace(d->model, msg, strlen(msg));
      break;
    }
    struct buf target = {0};
    buf_appendf(&target, "/v1/why/%s?o=text", d->model->trace_id);
    call_lab(d, POLL_TRACE, NULL, buf_cstr(&target));
    buf_free(&target);
    break;
  }
  case DASH_ACTION_LESSON_TOGGLE:
  case DASH_ACTION_LESSON_NEXT:
    if (replay) {
      if (a == DASH_ACTION_LESSON_TOGGLE) {
        d->playing = !d->playing;
        if (d->jnext >= d->njlines && d->playing) replay_to(d, 0), d->playing = true;
      } else {
        d->playing = false;
        if (d->jnext < d->njlines) replay_to(d, d->jt[d->jnext]);
      }
      replay_note(d);
    } else if (d->on_action) {
      d->on_action(d, a, d->data);
    }
    break;
  case DASH_ACTION_SEEK_BACK:
  case DASH_ACTION_SEEK_FORWARD:
    if (replay) replay_to(d, d->replay_t + (a == DASH_ACTION_SEEK_BACK ? -10 : 10));
    break;
  }
  render(d);
}

static void on_input(uv_poll_t *h, int status, int events) {
  struct dash *d = container_of(h, struct dash, input);
  (void)events;
  if (status < 0) return;
  int key, x = 0, y = 0;
  while (!d->closing && (key = term_key(d->term, &x, &y)) != -1) {
    if (key == TERM_CLICK) {
      int w, hh;
      term_size(d->term, &w, &hh);
      run_action(d, dash_click(d->model, w, hh, x, y));
    } else {
      run_action(d, dash_model_key(d->model, key));
    }
  }
}

static void on_tick(uv_timer_t *h) {
  struct dash *d = container_of(h, struct dash, tick);
  if (d->opt.journal) {
    if (d->playing) replay_to(d, d->replay_t + TICK_MS / 1000.0);
    render(d);
    return;
  }
  poll_lab(d);
  /* the clock and the ejection countdowns move between polls too (an unchanged frame costs
   * nothing: term_draw writes only the cells that changed) */
  render(d);
}

static void on_winch(uv_signal_t *h, int signum) {
  struct dash *d = container_of(h, struct dash, winch);
  (void)signum;
  term_resize(d->term);
  int w, hh;
  term_size(d->term, &w, &hh);
  if (d->cast) {
    char size[32];
    snprintf(size, sizeof size, "%dx%d", w, hh);
    cast_write(d, "r", size, strlen(size));
    frame_free(&d->prev);
  }
  render(d);
}

/* ---- lifecycle ---- */

int dash_init(struct dash *d, uv_loop_t *loop, const struct dash_options *opt) {
  memset(d, 0, sizeof *d);
  d->loop = loop;
  d->opt = *opt;
  d->v1_clusters = true;
  d->model = malloc(sizeof *d->model);
  if (!d->model) return -ENOMEM;
  dash_model_init(d->model);
  if (opt->journal) {
    int rc = replay_load(d);
    if (rc != 0) return rc;
    d->model->replay = true;
    d->model->view = DASH_VIEW_BREAKERS;
    d->playing = true;
    replay_to(d, 0);
  }
  if (opt->record_path) {
    d->cast = fopen(opt->record_path, "w");
    if (!d->cast) {
      fprintf(stderr, "meshlab dash: cannot write %s: %s\n", opt->record_path, strerror(errno));
      return -errno;
    }
  }
  d->term = term_open(!opt->no_mouse);
  if (!d->term) return -ENOTTY;
  if (d->cast) {
    int w, h;
    term_size(d->term, &w, &h);
    d->cast_start_ms = wall_ms();
    const char *term = getenv("TERM");
    json_t *hdr = json_pack("{s:i, s:i, s:i, s:I, s:s, s:{s:s}}", "version", 2, "width", w, "height", h, "timestamp",
                            (json_int_t)(d->cast_start_ms / 1000), "title", "meshlab dash", "env", "TERM",
                            term ? term : "xterm-256color");
    char *text = json_dumps(hdr, JSON_COMPACT);
    fprintf(d->cast, "%s\n", text ? text : "{}");
    free(text);
    json_decref(hdr);
  }
  conn_env_init(&d->env, loop, 256 * 1024);
  http_client_init(&d->client, &d->env);
  d->client.max_body = 16u * 1024 * 1024;
  d->client.data = d;
  uv_timer_init(loop, &d->tick);
  uv_timer_start(&d->tick, on_tick, 0, TICK_MS);
  uv_poll_init(loop, &d->input, STDIN_FILENO);
  uv_poll_start(&d->input, UV_READABLE, on_input);
  uv_signal_init(loop, &d->winch);
  uv_signal_start(&d->winch, on_winch, SIGWINCH);
  render(d);
  return 0;
}

void dash_set_lesson(struct dash *d, const struct dash_lesson_view *v) {
  dash_model_set_lesson(d->model, v);
  render(d);
}

static void closed_one(struct dash *d) {
  if (--d->closing == 1) {
    /* every handle and the client are closed */
    frame_free(&d->frame);
    frame_free(&d->prev);
    conn_env_free(&d->env);
    for (size_t i = 0; i < d->njlines; i++) free(d->jlines[i]);
    free(d->jlines);
    free(d->jt);
    free(d->model);
    d->model = NULL;
    if (d->on_closed) d->on_closed(d);
  }
}

static void on_handle_closed(uv_handle_t *h) { closed_one(h->data); }

static void on_client_closed(struct http_client *cl) { closed_one(cl->data); }

void dash_close(struct dash *d, void (*on_closed)(struct dash *d)) {
  if (d->closing) return;
  d->on_closed = on_closed;
  /* one count per handle and the client, plus one so the last close is seen as 1 */
  d->closing = 5;
  term_close(d->term);
  d->term = NULL;
  if (d->cast) fclose(d->cast);
  d->cast = NULL;
  buf_free(&d->vs_body);
  buf_free(&d->dr_body);
  d->tick.data = d->input.data = d->winch.data = d;
  uv_close((uv_handle_t *)&d->tick, on_handle_closed);
  uv_close((uv_handle_t *)&d->input, on_handle_closed);
  uv_close((uv_handle_t *)&d->winch, on_handle_closed);
  http_client_close(&d->client, on_client_closed);
}

int dash_run(const struct dash_options *opt) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct dash *d = calloc(1, sizeof *d);
  int rc = d ? dash_init(d, &loop, opt) : -ENOMEM;
  if (rc == 0) {
    uv_run(&loop, UV_RUN_DEFAULT);
  } else if (d) {
    /* dash_init failed before or after starting handles: close what exists */
    if (d->term) dash_close(d, NULL);
    else {
      if (d->cast) fclose(d->cast);
      for (size_t i = 0; i < d->njlines; i++) free(d->jlines[i]);
      free(d->jlines);
      free(d->jt);
      free(d->model);
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  int close_rc = uv_loop_close(&loop);
  free(d);
  if (rc != 0) return 1;
  return close_rc == 0 ? 0 : 1;
}
