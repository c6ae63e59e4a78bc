/* The CLI's side of the lab API: see labcli.h. */
#include "cli/labcli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "mesh/client.h"
#include "mesh/labdir.h"

/* labdir_running, but a zombie (a dead lab whose parent has not reaped it) counts as gone. */
pid_t labcli_pid(const char *dir) {
  pid_t pid = labdir_running(dir);
  if (!pid) return 0;
  char path[64], stat_text[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return pid;
  size_t n = fread(stat_text, 1, sizeof stat_text - 1, f);
  fclose(f);
  stat_text[n] = '\0';
  const char *paren = strrchr(stat_text, ')');
  return paren && paren[1] == ' ' && paren[2] == 'Z' ? 0 : pid;
}

/* Resolves the state folder; prints CLI.md's message and returns 3 when no lab runs there. */
int labcli_find(const char *flag, char *dir, size_t n) {
  if (labdir_resolve(flag, dir, n) != 0 || !labcli_pid(dir)) {
    fprintf(stderr, "%s\n", LABDIR_NO_LAB);
    return LABDIR_EXIT_NO_LAB;
  }
  return 0;
}

static void on_api_done(struct http_client_call *call, int status) {
  struct labcli_reply *rep = call->data;
  /* The connection would wait in the client's idle pool and keep the loop alive. */
  uv_stop(call->cl->env->loop);
  rep->status = status;
  if (status != 0) return;
  rep->status = call->response.status;
  buf_append(&rep->body, call->response.body.data, call->response.body.len);
  const struct slice *h = http_client_response_header(&call->response, "x-meshlab-exit");
  char tmp[32];
  if (h && h->n < sizeof tmp) {
    memcpy(tmp, h->p, h->n);
    tmp[h->n] = '\0';
    rep->exit_code = atoi(tmp);
  }
  h = http_client_response_header(&call->response, "x-meshlab-stdout-length");
  if (h && h->n < sizeof tmp) {
    memcpy(tmp, h->p, h->n);
    tmp[h->n] = '\0';
    rep->stdout_length = atol(tmp);
  }
}

/* One request to the lab API, synchronously (a private loop). Returns 0 with *rep filled
 * (rep->status may be any HTTP status), or a negative error. */
int labcli_call(const char *dir, const char *method, const char *target, const char *headers, const char *body,
                size_t len, uint64_t timeout_ms, struct labcli_reply *rep) {
  char addr[128], url[4096];
  memset(rep, 0, sizeof *rep);
  rep->exit_code = -1;
  rep->stdout_length = -1;
  if (labdir_read(dir, "api", addr, sizeof addr) != 0) return -ENOENT;
  snprintf(url, sizeof url, "http://%s%s", addr, target);
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct conn_env env;
  conn_env_init(&env, &loop, 64 * 1024);
  struct http_client cl;
  http_client_init(&cl, &env);
  cl.max_body = 256u * 1024 * 1024;
  struct http_client_req req = {method, url, NULL, headers, {body, len}, timeout_ms};
  rep->status = UV_ECANCELED;
  int rc = http_client_send(&cl, &req, on_api_done, rep, NULL);
  if (rc == 0) uv_run(&loop, UV_RUN_DEFAULT);
  http_client_close(&cl, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  conn_env_free(&env);
  if (rc != 0) return rc;
  return rep->status < 0 ? rep->status : 0;
}

/* Prints a console answer (stdout part, then stderr part) and returns its exit code. */
int labcli_print_console(const char *cmd, struct labcli_reply *rep) {
  size_t out = rep->stdout_length >= 0 && (size_t)rep->stdout_length <= rep->body.len ? (size_t)rep->stdout_length
                                                                                      : rep->body.len;
  fwrite(rep->body.data, 1, out, stdout);
  fflush(stdout);
  fwrite(rep->body.data + out, 1, rep->body.len - out, stderr);
  int code = rep->exit_code >= 0 ? rep->exit_code : rep->status == 200 ? 0 : 1;
  if (rep->exit_code < 0 && rep->status != 200)
    fprintf(stderr, "meshlab %s: the lab answered HTTP %d\n", cmd, rep->status);
  buf_free(&rep->body);
  return code;
}

int labcli_failed(const char *cmd, int rc) {
  fprintf(stderr, "meshlab %s: cannot reach the lab API: %s\n", cmd, uv_strerror(rc));
  return 1;
}

/* Percent-encodes s into b for a query string. */
void labcli_query_add(struct buf *b, const char *key, const char *s) {
  buf_appendf(b, "%s%s=", strchr(b->data ? buf_cstr(b) : "", '?') ? "&" : "?", key);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~/", c))
      buf_append(b, s, 1);
    else buf_appendf(b, "%%%02X", c);
  }
}
