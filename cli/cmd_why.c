/* `meshlab why REQUEST_ID`: why one request got the answer it got, hop by hop (docs/why.md).
 *
 * Every proxy keeps a decision trace of its recent requests (mesh/trace.h); the lab gathers a
 * request's traces from every proxy (GET /v1/why/REQUEST_ID, mesh/lab_why.c) and renders them,
 * so this file only finds the lab, asks, prints and sets the exit code: 0 when some proxy has
 * the request, 1 when none has (or the lab refused), 3 when no lab runs, 2 on a usage error.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/labcli.h"

void cmd_why_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab why REQUEST_ID [-o json] [--lab-dir DIR]\n\n"
          "Explains one request: for every proxy it crossed (gateway, the caller's sidecar, the\n"
          "callee's sidecar), in order, the decisions it made and why: the route matched (which\n"
          "VirtualService rule and match), the fault draw, the load balancer's pick, the\n"
          "connection pool's admission, and each try with its host, status, timing and whether it\n"
          "was retried; then a one-line summary. REQUEST_ID is the request's x-request-id (the\n"
          "access log's %%REQ(X-REQUEST-ID)%%). Each proxy keeps its last 128 requests and, apart,\n"
          "the last 128 that failed (a response flag or a 5xx). -o json prints the records\n"
          "(docs/why.md). Exit 0 when found, 1 when no proxy has it.\n");
}

/* The lab prints the same line in the text form (mesh/lab_why.c). */
#define NOT_FOUND "no trace of request %s (traces keep the last 128 requests per proxy and the last 128 that failed)\n"

int cmd_why(int argc, char **argv) {
  const char *dir_flag = NULL, *output = NULL, *id = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc;
    if (argv[i][0] != '-') {
      if (id) return args_usage_error(argv[0], "unexpected argument \"%s\": REQUEST_ID is given once", argv[i]);
      id = argv[i];
    } else if ((rc = args_flag(argc, argv, &i, "lab-dir", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      dir_flag = v;
    } else if ((rc = args_flag(argc, argv, &i, "output", "-o", &v)) != 0) {
      if (rc < 0) return 2;
      output = v;
    } else {
      return args_usage_error(argv[0], "unknown flag \"%s\"", argv[i]);
    }
  }
  if (!id || !*id) return args_usage_error(argv[0], "REQUEST_ID expected: meshlab why REQUEST_ID [-o json]");
  if (output && strcmp(output, "json") != 0 && strcmp(output, "text") != 0)
    return args_usage_error(argv[0], "-o takes json (or text, the default)");
  bool json = output && strcmp(output, "json") == 0;
  char dir[4096];
  int rc = labcli_find(dir_flag, dir, sizeof dir);
  if (rc) return rc;
  /* The id is a path segment: percent-encoded, "/" included. */
  struct buf target = {0};
  buf_append_str(&target, "/v1/why/");
  for (const char *s = id; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c))
      buf_append(&target, s, 1);
    else buf_appendf(&target, "%%%02X", c);
  }
  if (!json) buf_append_str(&target, "?o=text");
  struct labcli_reply rep;
  rc = labcli_call(dir, "GET", buf_cstr(&target), NULL, NULL, 0, 10000, &rep);
  buf_free(&target);
  if (rc) return labcli_failed(argv[0], rc);
  if (!json) return labcli_print_console(argv[0], &rep);
  /* JSON: 200 found, 404 (same shape, no records) not found; anything else is the lab's error. */
  int code = 1;
  if (rep.status == 200 || rep.status == 404) {
    fwrite(rep.body.data, 1, rep.body.len, stdout);
    fflush(stdout);
    if (rep.status == 200) code = 0;
    else fprintf(stderr, NOT_FOUND, id);
  } else {
    fwrite(rep.body.data, 1, rep.body.len, stderr);
    fprintf(stderr, "meshlab %s: the lab answered HTTP %d\n", argv[0], rep.status);
  }
  buf_free(&rep.body);
  return code;
}
