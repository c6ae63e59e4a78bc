/* `meshlab top`: live traffic per destination service, from the lab's telemetry sink
 * (docs/telemetry.md): requests per second, success rate, p50/p99 latency, the share each
 * version takes and the response flags seen, over a sliding window. The lab renders the table
 * (GET /v1/metrics?o=text&group_by=destination_service), so every client prints the same;
 * -o json prints the API's JSON with one summary per service.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/labcli.h"

void cmd_top_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab top [--window 10s] [--reporter source|destination] [-o json] [--lab-dir DIR]\n\n"
          "Traffic per destination service over the last --window (1s to 300s; default 10s), as the\n"
          "sidecars report it to the lab: RPS, SUCCESS (responses that are not 5xx), P50 and P99\n"
          "latency in ms, the share of requests each destination version took, and response\n"
          "flags (UO, UF, NR ...) with their counts. Requests are counted by the calling side's\n"
          "proxy (--reporter source, the default) or the called side's (destination).\n");
}

int cmd_top(int argc, char **argv) {
  const char *dir = NULL, *window = "10s", *output = NULL, *reporter = "source";
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc;
    if ((rc = args_flag(argc, argv, &i, "lab-dir", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      dir = v;
    } else if ((rc = args_flag(argc, argv, &i, "window", "-w", &v)) != 0) {
      if (rc < 0) return 2;
      window = v;
    } else if ((rc = args_flag(argc, argv, &i, "reporter", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      reporter = v;
    } else if ((rc = args_flag(argc, argv, &i, "output", "-o", &v)) != 0) {
      if (rc < 0) return 2;
      output = v;
    } else {
      return args_usage_error(argv[0], "unknown argument \"%s\"", argv[i]);
    }
  }
  uint64_t ms;
  if (args_duration_ms(window, &ms) != 0 || ms < 1000 || ms > 300000)
    return args_usage_error(argv[0], "--window takes a duration from 1s to 300s, such as 10s");
  if (strcmp(reporter, "source") != 0 && strcmp(reporter, "destination") != 0)
    return args_usage_error(argv[0], "--reporter takes source or destination");
  if (output && strcmp(output, "json") != 0 && strcmp(output, "text") != 0)
    return args_usage_error(argv[0], "-o takes json (or text, the default)");
  char labdir[4096];
  int rc = labcli_find(dir, labdir, sizeof labdir);
  if (rc != 0) return rc;
  struct buf target = {0};
  buf_append_str(&target, "/v1/metrics");
  char secs[32];
  snprintf(secs, sizeof secs, "%llus", (unsigned long long)(ms / 1000));
  labcli_query_add(&target, "window", secs);
  labcli_query_add(&target, "reporter", reporter);
  labcli_query_add(&target, "group_by", "destination_service");
  if (!output || strcmp(output, "text") == 0) labcli_query_add(&target, "o", "text");
  struct labcli_reply rep;
  rc = labcli_call(labdir, "GET", buf_cstr(&target), NULL, NULL, 0, 10000, &rep);
  buf_free(&target);
  if (rc != 0) return labcli_failed(argv[0], rc);
  fwrite(rep.body.data, 1, rep.body.len, rep.status == 200 ? stdout : stderr);
  buf_free(&rep.body);
  return rep.status == 200 ? 0 : 1;
}
