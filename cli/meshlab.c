/* meshlab: one executable, subcommands in kubectl/istioctl style.
 *
 * The command table below is the whole CLI; each entry's run function lives in cmd_<name>.c.
 * Contracts that outside checks rely on (names, flags, outputs, exit codes) are pinned in
 * ../shared/CLI.md.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "mesh/supervisor.h"

#define MESHLAB_VERSION "0.1.0"

static const struct command commands[] = {
    {"proxy", "run a one-hop HTTP reverse proxy (benchmarks, tests, any HTTP app)", cmd_proxy, cmd_proxy_help},
    {"load", "send HTTP load at a fixed rate (or max rate) and report latency, codes and flags", cmd_load,
     cmd_load_help},
    {"sidecar", "run a sidecar (inbound, outbound and admin listeners) from a bootstrap file", cmd_sidecar,
     cmd_sidecar_help},
    {"proxy-config", "what one sidecar runs: routes, clusters, endpoints, listeners (istioctl proxy-config)",
     cmd_proxy_config, cmd_proxy_config_help},
    {"demo", "start an origin and a proxy in front of it, and show a request going through", cmd_demo, cmd_demo_help},
    {"app", "run a sample application (productpage, details, reviews, ratings, httpbin, external)", cmd_app,
     cmd_app_help},
    {"up", "start a lab: control plane, Bookinfo (or -f manifests), sidecars, ingress gateway", cmd_up, cmd_up_help},
    {"down", "stop the lab and every process it started", cmd_down, cmd_down_help},
    {"status", "replicas, addresses, app and sidecar state, restarts, config versions", cmd_status, cmd_status_help},
    {"apply", "apply Istio resources and Kubernetes manifests to the lab (-f FILE|DIR|-)", cmd_apply, cmd_apply_help},
    {"get", "list or print applied resources (kubectl get)", cmd_get, cmd_get_help},
    {"delete", "remove resources (-f FILE, or KIND NAME)", cmd_delete, cmd_delete_help},
    {"analyze", "istioctl-analyze-style warnings over everything applied", cmd_analyze, cmd_analyze_help},
    {"export", "print every resource as Istio and Kubernetes YAML (export istio)", cmd_export, cmd_export_help},
    {"proxy-status", "each sidecar's config version and sync state (istioctl proxy-status)", cmd_proxy_status,
     cmd_proxy_status_help},
    {"exec", "run a command as an in-mesh client of a workload (http_proxy = its sidecar)", cmd_exec, cmd_exec_help},
    {"logs", "print (or follow) a replica's app log or its sidecar's access log", cmd_logs, cmd_logs_help},
    {"chaos", "latency, errors, hang, crash or slow start in a workload's app, at runtime", cmd_chaos, cmd_chaos_help},
    {"kill", "SIGKILL a replica's app (the lab restarts it with backoff)", cmd_kill, cmd_kill_help},
    {"restart", "restart a replica's app and sidecar gracefully", cmd_restart, cmd_restart_help},
    {"scale", "set a Deployment's replica count (scale DEPLOYMENT --replicas N)", cmd_scale, cmd_scale_help},
    {"top", "live traffic per service: rps, success, p50/p99, share by version, flags", cmd_top, cmd_top_help},
    {"why", "why one request got its answer: each proxy's decisions, hop by hop (why REQUEST_ID)", cmd_why,
     cmd_why_help},
    {"run", "run a lesson (run NUMBER|NAME|FILE.lua [--headless]): narration, config, load, checks", cmd_run,
     cmd_run_help},
    {"tour", "run every lesson in order (the guided tour)", cmd_tour, cmd_tour_help},
    {"lessons", "list the lessons: number, name, title, duration", cmd_lessons, cmd_lessons_help},
    {"dash", "the live dashboard: topology, traffic split, breakers and ejections, requests and their why", cmd_dash,
     cmd_dash_help},
    {"replay", "drive the dashboard from a lab journal (replay JOURNAL): rewind to when a breaker opened", cmd_replay,
     cmd_replay_help},

    {"token", "mint a test JWT signed by the lab's own issuer (or print its JWKS with --jwks)", cmd_token,
     cmd_token_help},
    {"version", "print meshlab's version", cmd_version, cmd_version_help},
};

static void usage(FILE *f) {
  fprintf(f,
          "meshlab: a service-mesh teaching lab (sidecar proxies, Istio YAML, lessons)\n\n"
          "Usage: meshlab COMMAND [flags]\n\nCommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "  %-13s %s\n", "help", "show this help, or a command's: meshlab help COMMAND");
  fprintf(f, "\nRun 'meshlab COMMAND --help' for a command's flags.\n");
}

void cmd_version_help(FILE *out) { fprintf(out, "Usage: meshlab version\n\nPrints meshlab's version.\n"); }

int cmd_version(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("meshlab %s\n", MESHLAB_VERSION);
  return 0;
}

int main(int argc, char **argv) {
  /* A lab child (app, sidecar) dies with its supervisor. */
  supervisor_child_init();
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *name = argv[1];
  if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
    if (argc > 2) {
      for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, argv[2]) == 0 && commands[i].help) {
          commands[i].help(stdout);
          return 0;
        }
    }
    usage(stdout);
    return 0;
  }
  if (strcmp(name, "--version") == 0) return cmd_version(argc, argv);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (strcmp(commands[i].name, name) != 0) continue;
    /* Up to "--": what follows belongs to another program (`meshlab exec W -- curl --help`). */
    for (int a = 2; a < argc && strcmp(argv[a], "--") != 0; a++)
      if ((strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) && commands[i].help) {
        commands[i].help(stdout);
        return 0;
      }
    return commands[i].run(argc - 1, argv + 1);
  }
  fprintf(stderr, "meshlab: unknown command \"%s\"\n\n", name);
  usage(stderr);
  return 2;
}
