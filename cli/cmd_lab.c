/* The lab's commands: `meshlab up`, `down`, `status`, `proxy-status`, `apply`, `get`,
 * `delete`, `analyze` and `export istio` (contracts in ../shared/CLI.md, design in
 * docs/lab.md).
 *
 * `up` runs the lab process itself (mesh/lab.c), in the foreground or as a daemon
 * (`--detach`). Every other command finds the lab through its state folder (labdir.h) and
 * talks to the lab API over HTTP on loopback; the lab renders what they print (the API's
 * "console" answers), so this file only moves bytes and sets exit codes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/labcli.h"
#include "mesh/client.h"
#include "mesh/lab.h"
#include "mesh/labdir.h"
#include "services/manifests/manifests.h"

#define DEFAULT_INGRESS "127.0.0.1:8080"
#define DEFAULT_INGRESS_TLS "127.0.0.1:8443"
#define DEFAULT_ADDRESSES "127.1.0.0/16"
#define DEFAULT_WAIT_MS 15000
#define DOWN_WAIT_MS 10000

/* ---- input files -------------------------------------------------------------------------------- */

/* Files named by -f, read whole. */
struct inputs {
  struct lab_file *files;
  char **owned; /* texts and names we allocated */
  size_t len, cap, nowned;
};

static char *keep(struct inputs *in, char *p) {
  char **o = realloc(in->owned, (in->nowned + 1) * sizeof *o);
  if (!o) return p;
  in->owned = o;
  in->owned[in->nowned++] = p;
  return p;
}

static int push_file(struct inputs *in, const char *name, const char *text, size_t len) {
  if (in->len == in->cap) {
    size_t cap = in->cap ? in->cap * 2 : 8;
    struct lab_file *f = realloc(in->files, cap * sizeof *f);
    if (!f) return -ENOMEM;
    in->files = f;
    in->cap = cap;
  }
  in->files[in->len++] = (struct lab_file){name, text, len};
  return 0;
}

static void inputs_free(struct inputs *in) {
  for (size_t i = 0; i < in->nowned; i++) free(in->owned[i]);
  free(in->owned);
  free(in->files);
  memset(in, 0, sizeof *in);
}

static char *read_stream(FILE *f, size_t *len) {
  struct buf b = {0};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(&b, chunk, n);
  buf_append(&b, "", 1);
  *len = b.len - 1;
  return b.data;
}

static int has_yaml_ext(const char *name) {
  size_t n = strlen(name);
  return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) || (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* -f ARG: "-" (stdin), a folder (its *.yaml and *.yml, sorted), a file, or the name of a
 * built-in manifest ("bookinfo-gateway", services/manifests). Returns 0 or prints why not and
 * returns 1. */
static int add_input(struct inputs *in, const char *cmd, const char *arg) {
  size_t len;
  if (strcmp(arg, "-") == 0) {
    char *text = keep(in, read_stream(stdin, &len));
    return text ? push_file(in, "<stdin>", text, len) : 1;
  }
  struct stat st;
  if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
    DIR *d = opendir(arg);
    if (!d) {
      fprintf(stderr, "meshlab %s: cannot read folder %s: %s\n", cmd, arg, strerror(errno));
      return 1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
      if (e->d_name[0] != '.' && has_yaml_ext(e->d_name)) {
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown) break;
        names = grown;
        names[n++] = strdup(e->d_name);
      }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
      size_t plen = strlen(arg) + strlen(names[i]) + 2;
      char *path = keep(in, malloc(plen));
      size_t dlen = strlen(arg);
      while (dlen > 1 && arg[dlen - 1] == '/') dlen--;
      snprintf(path, plen, "%.*s/%s", (int)dlen, arg, names[i]);
      if (rc == 0) rc = add_input(in, cmd, path);
      free(names[i]);
    }
    free(names);
    if (n == 0) fprintf(stderr, "meshlab %s: warning: no *.yaml or *.yml files in %s\n", cmd, arg);
    return rc;
  }
  FILE *f = fopen(arg, "r");
  if (!f) {
    char base[256];
    snprintf(base, sizeof base, "%s", arg);
    if (has_yaml_ext(base)) base[strlen(base) - (base[strlen(base) - 4] == '.' ? 4 : 5)] = '\0';
    const struct manifest *m = errno == ENOENT && !strchr(arg, '/') ? manifest_find(base) : NULL;
    if (m) return push_file(in, m->name, m->text, m->len);
    size_t nm;
    const struct manifest *all = manifest_all(&nm);
    fprintf(stderr, "meshlab %s: cannot read %s: %s (built-in manifests:", cmd, arg, strerror(errno));
    for (size_t i = 0; i < nm; i++) fprintf(stderr, " %s", all[i].name);
    fprintf(stderr, ")\n");
    return 1;
  }
  char *text = keep(in, read_stream(f, &len));
  fclose(f);
  return push_file(in, arg, text, len);
}

/* ---- up ------------------------------------------------------------------------------------------- */

void cmd_up_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab up [-f FILE|DIR|-|BUILTIN ...] [--detach] [flags]\n\n"
          "Starts a lab: the control plane, and for every replica of every Deployment its app and\n"
          "its sidecar, plus the ingress gateway. With no -f, the built-in Bookinfo. Like Istio,\n"
          "the ingress routes nothing until a Gateway and VirtualService are applied; up prints\n"
          "the command that applies Bookinfo's. Foreground: prints events until Ctrl-C, then stops\n"
          "everything. See docs/lab.md.\n\n"
          "Flags:\n"
          "  -f, --filename X        manifests: a file, a folder (*.yaml, *.yml), - for stdin, or a\n"
          "                          built-in name (bookinfo, httpbin, curl, fortio ...); repeatable\n"
          "  --detach                run in the background; exit 0 once every sidecar is serving and\n"
          "                          synced, non-zero with the reason after --wait\n"
          "  --wait D                how long --detach waits for readiness (default 15s)\n"
          "  --seed N                seed every app's random choices (repeatable runs)\n"
          "  --lab-dir DIR           state folder (default $MESHLAB_HOME, $XDG_STATE_HOME/meshlab,\n"
          "                          ~/.local/state/meshlab)\n"
          "  --ingress HOST:PORT     where Gateway port 80 listens (default " DEFAULT_INGRESS
          "; port 0: a free one)\n"
          "  --ingress-tls HOST:PORT where Gateway port 443 listens (default " DEFAULT_INGRESS_TLS
          ")\n"
          "  --addresses CIDR        pod addresses (default " DEFAULT_ADDRESSES
          ")\n"
          "  --port-blocks [BASE]    every replica on 127.0.0.1 with a block of 16 ports instead of\n"
          "                          its own address (free blocks from BASE, else from a random\n"
          "                          one); chosen by itself where pod addresses cannot be bound\n"
          "  --cert-ttl D            workload certificate lifetime (default 24h, Istio's); each is\n"
          "                          re-issued at half of it (docs/security.md, \"Identity\")\n"
          "  --outbound-traffic-policy MODE\n"
          "                          what sidecars do with a host in no registry (Istio's mesh option\n"
          "                          outboundTrafficPolicy.mode): ALLOW_ANY (default) passes it through\n"
          "                          to its own address, REGISTRY_ONLY answers 502 (docs/routing.md)\n");
}

static void print_tail(const char *path, int lines) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  char *all;
  size_t len;
  all = read_stream(f, &len);
  fclose(f);
  if (!all) return;
  const char *p = all + len;
  int seen = 0;
  while (p > all && seen <= lines)
    if (*--p == '\n') seen++;
  fprintf(stderr, "last lines of %s:\n%s", path, p == all ? p : p + 1);
  free(all);
}

/* The parent of a detached lab: waits for the daemon's API, then for readiness. */
static int wait_detached(const char *dir, pid_t child, uint64_t wait_ms, const char *dirflag) {
  uint64_t deadline = uv_hrtime() / 1000000 + wait_ms;
  char logp[4200];
  snprintf(logp, sizeof logp, "%s/lab.log", dir);
  struct labcli_reply rep = {0};
  for (;;) {
    int status;
    if (waitpid(child, &status, WNOHANG) == child) {
      fprintf(stderr, "meshlab up: the lab exited during start-up (%s %d)\n", WIFEXITED(status) ? "code" : "signal",
              WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
      print_tail(logp, 20);
      return 1;
    }
    buf_free(&rep.body);
    int rc = labcli_call(dir, "GET", "/v1/ready", NULL, NULL, 0, 2000, &rep);
    if (rc == 0 && rep.status == 200) break;
    if (uv_hrtime() / 1000000 >= deadline) {
      fprintf(stderr, "meshlab up: the lab is not ready after %.1f s. Not ready:\n%.*s", (double)wait_ms / 1000,
              (int)rep.body.len, rep.body.data ? rep.body.data : "  (the lab API did not answer)\n");
      fprintf(stderr,
              "The lab keeps running (pid %d): inspect it with 'meshlab status%s%s', stop it with "
              "'meshlab down%s%s'. Its log: %s\n",
              (int)child, dirflag ? " --lab-dir " : "", dirflag ? dirflag : "", dirflag ? " --lab-dir " : "",
              dirflag ? dirflag : "", logp);
      buf_free(&rep.body);
      return 1;
    }
    usleep(20 * 1000);
  }
  buf_free(&rep.body);
  char ms[32] = "?", ingress[128] = "?";
  labdir_read(dir, "ready_ms", ms, sizeof ms);
  labdir_read(dir, "ingress", ingress, sizeof ingress);
  char blocks[64];
  if (labdir_read(dir, "port_blocks", blocks, sizeof blocks) == 0)
    printf(
        "notice: replicas share %s, each with a block of ports (docs/lab.md, \"Port blocks\"; see: meshlab "
        "status)\n",
        blocks);
  printf("lab ready in %s ms (pid %d, state in %s)\n", ms, (int)child, dir);
  printf("Route the ingress gateway: meshlab apply -f bookinfo-gateway%s%s\n", dirflag ? " --lab-dir " : "",
         dirflag ? dirflag : "");
  printf("then open: http://%s/productpage\n", ingress);
  return 0;
}

/* Removes the replica folders of an earlier lab in dir, so no stale `outbound` or socket
 * misleads a command (logs of a stopped lab go with them). */
static void clean_replicas(const char *dir) {
  char path[4200];
  snprintf(path, sizeof path, "%s/replicas", dir);
  DIR *d = opendir(path);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char rdir[4500];
    snprintf(rdir, sizeof rdir, "%s/%s", path, e->d_name);
    DIR *r = opendir(rdir);
    struct dirent *f;
    while (r && (f = readdir(r))) {
      if (f->d_name[0] == '.' && (!f->d_name[1] || (f->d_name[1] == '.' && !f->d_name[2]))) continue;
      char file[4800];
      snprintf(file, sizeof file, "%s/%s", rdir, f->d_name);
      unlink(file);
    }
    if (r) closedir(r);
    rmdir(rdir);
  }
  if (d) closedir(d);
  static const char *const stale[] = {"api", "ingress", "ready_ms", "pid", "port_blocks"};
  for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, stale[i]);
    unlink(path);
  }
}

int cmd_up(int argc, char **argv) {
  struct lab_options opt = {.ingress = DEFAULT_INGRESS,
                            .ingress_tls = DEFAULT_INGRESS_TLS,
                            .addresses = DEFAULT_ADDRESSES,
                            .t0_ns = uv_hrtime()};
  const char *dirflag = NULL, *seed = NULL, *wait = NULL, *cert_ttl = NULL, *outbound = NULL;
  const char *files[64];
  size_t nfiles = 0;
  int detach = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc;
    if (strcmp(argv[i], "--detach") == 0 || strcmp(argv[i], "-d") == 0) {
      detach = 1;
      continue;
    }
    /* --port-blocks [BASE]: the value is optional, so only a number after it is taken. */
    if (strcmp(argv[i], "--port-blocks") == 0 || strncmp(argv[i], "--port-blocks=", 14) == 0) {
      const char *base = argv[i][13] == '='                                               ? argv[i] + 14
                         : i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9' ? argv[++i]
                                                                                          : NULL;
      opt.port_blocks = LAB_PORT_BLOCKS_ON;
      if (base) {
        char *end;
        unsigned long b = strtoul(base, &end, 10);
        if (*end || !*base || b < 1024 || b > 65536 - 16)
          return args_usage_error(argv[0], "--port-blocks BASE: a port from 1024 to 65520, not \"%s\"", base);
        opt.port_block_base = (uint32_t)b;
      }
      continue;
    }
    if ((rc = args_flag(argc, argv, &i, "filename", "-f", &v)) != 0) {
      if (rc < 0) return 2;
      if (nfiles == 64) return args_usage_error(argv[0], "at most 64 -f flags");
      files[nfiles++] = v;
      continue;
    }
    static const char *const names[] = {"lab-dir",   "seed", "ingress",  "ingress-tls",
                                        "addresses", "wait", "cert-ttl", "outbound-traffic-policy"};
    const char **dst[] = {&dirflag, &seed, &opt.ingress, &opt.ingress_tls, &opt.addresses, &wait, &cert_ttl, &outbound};
    int matched = 0;
    for (size_t k = 0; k < sizeof names / sizeof names[0] && !matched; k++) {
      if (!(rc = args_flag(argc, argv, &i, names[k], NULL, &v))) continue;
      if (rc < 0) return 2;
      matched = 1;
      *dst[k] = v;
    }
    if (!matched) return args_usage_error(argv[0], "unknown flag \"%s\"", argv[i]);
  }
  uint64_t wait_ms = DEFAULT_WAIT_MS;
  if (wait && args_duration_ms(wait, &wait_ms) != 0)
    return args_usage_error(argv[0], "--wait \"%s\" is not a duration (500ms, 15s, 1m)", wait);
  if (cert_ttl) {
    uint64_t ms;
    if (args_duration_ms(cert_ttl, &ms) != 0 || ms < 2000 || ms > 366ull * 24 * 3600 * 1000)
      return args_usage_error(argv[0], "--cert-ttl \"%s\" is not a duration from 2s to 366d (30s, 1h, 24h)", cert_ttl);
    opt.cert_ttl_s = (uint32_t)(ms / 1000);
  }
  if (outbound && xds_outbound_policy_parse(outbound, &opt.outbound_policy) != 0)
    return args_usage_error(argv[0], "--outbound-traffic-policy \"%s\" is not ALLOW_ANY or REGISTRY_ONLY", outbound);
  if (seed) {
    char *end;
    opt.seed = strtoull(seed, &end, 10);
    if (*end || !*seed) return args_usage_error(argv[0], "--seed \"%s\" is not a whole number", seed);
    opt.seeded = true;
  }
  struct conn_addr a;
  if (conn_addr_parse(&a, opt.ingress) != 0 || a.kind != CONN_TCP)
    return args_usage_error(argv[0], "--ingress \"%s\" is not HOST:PORT", opt.ingress);
  if (conn_addr_parse(&a, opt.ingress_tls) != 0 || a.kind != CONN_TCP)
    return args_usage_error(argv[0], "--ingress-tls \"%s\" is not HOST:PORT", opt.ingress_tls);
  char dir[4096];
  if (labdir_resolve(dirflag, dir, sizeof dir) != 0)
    return args_usage_error(argv[0], "no state folder: pass --lab-dir or set MESHLAB_HOME");
  opt.dir = dir;
  pid_t running = labcli_pid(dir);
  if (running) {
    fprintf(stderr, "meshlab up: a lab is already running in %s (pid %d); stop it with: meshlab down%s%s\n", dir,
            (int)running, dirflag ? " --lab-dir " : "", dirflag ? dirflag : "");
    return 1;
  }
  /* Every manifest is parsed before anything starts: a bad file starts nothing. */
  struct inputs in = {0};
  if (nfiles == 0) files[nfiles++] = "bookinfo";
  for (size_t i = 0; i < nfiles; i++)
    if (add_input(&in, argv[0], files[i]) != 0) {
      inputs_free(&in);
      return 1;
    }
  struct resource_list list;
  struct diag_list diags;
  resource_list_init(&list);
  diag_list_init(&diags);
  int failed = 0;
  for (size_t i = 0; i < in.len; i++)
    if (resource_parse(in.files[i].text, in.files[i].len, in.files[i].name, NULL, &list, &diags) != 0) failed = 1;
  for (size_t i = 0; i < diags.len; i++) {
    char line[2048];
    diag_format(&diags.items[i], line, sizeof line);
    fprintf(stderr, "%s\n", line);
  }
  inputs_free(&in);
  diag_list_free(&diags);
  if (failed) {
    fprintf(stderr, "meshlab up: nothing was started (fix the errors above)\n");
    resource_list_free(&list);
    return 1;
  }
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    fprintf(stderr, "meshlab up: cannot find the meshlab binary (/proc/self/exe): %s\n", strerror(errno));
    resource_list_free(&list);
    return 1;
  }
  self[n] = '\0';
  opt.self_exe = self;
  if (labdir_make(dir) != 0) {
    fprintf(stderr, "meshlab up: cannot create %s: %s\n", dir, strerror(errno));
    resource_list_free(&list);
    return 1;
  }
  clean_replicas(dir);
  if (!detach) {
    printf("meshlab lab in %s (Ctrl-C stops it)\n", dir);
    printf("Route the ingress gateway: meshlab apply -f bookinfo-gateway%s%s\n", dirflag ? " --lab-dir " : "",
           dirflag ? dirflag : "");
    fflush(stdout);
    int rc = lab_run(&opt, &list);
    resource_list_free(&list);
    return rc;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "meshlab up: fork: %s\n", strerror(errno));
    resource_list_free(&list);
    return 1;
  }
  if (child == 0) {
    /* The daemon: its own session, stdio to lab.log. */
    setsid();
    char logp[4200];
    snprintf(logp, sizeof logp, "%s/lab.log", dir);
    int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    if (fd > 2) close(fd);
    if (null > 2) close(null);
    int rc = lab_run(&opt, &list);
    resource_list_free(&list);
    /* exit, not _exit: stdio was flushed before fork, and the sanitizers' leak check runs
     * at exit in the asan build. */
    exit(rc);
  }
  resource_list_free(&list);
  return wait_detached(dir, child, wait_ms, dirflag);
}

/* ---- down ----------------------------------------------------------------------------------------- */

void cmd_down_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab down [--lab-dir DIR]\n\n"
          "Stops the lab: every app and sidecar, then the lab process. Exit 0 also when no lab runs.\n");
}

static int pid_gone(pid_t pid) {
  char path[64], text[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  if (kill(pid, 0) != 0 && errno == ESRCH) return 1;
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  const char *paren = strrchr(text, ')');
  return paren && paren[1] == ' ' && paren[2] == 'Z';
}

int cmd_down(int argc, char **argv) {
  const char *dirflag = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc = args_flag(argc, argv, &i, "lab-dir", NULL, &v);
    if (rc < 0) return 2;
    if (rc == 0) return args_usage_error(argv[0], "unknown flag \"%s\"", argv[i]);
    dirflag = v;
  }
  char dir[4096];
  if (labdir_resolve(dirflag, dir, sizeof dir) != 0) return 0;
  pid_t pid = labcli_pid(dir);
  if (!pid) {
    printf("no lab is running in %s\n", dir);
    return 0;
  }
  struct labcli_reply rep;
  int rc = labcli_call(dir, "POST", "/v1/shutdown", NULL, NULL, 0, 3000, &rep);
  buf_free(&rep.body);
  if (rc != 0 || rep.status != 200) kill(pid, SIGTERM);
  uint64_t deadline = uv_hrtime() / 1000000 + DOWN_WAIT_MS;
  while (!pid_gone(pid) && uv_hrtime() / 1000000 < deadline) usleep(20 * 1000);
  if (!pid_gone(pid)) {
    fprintf(stderr,
            "meshlab down: the lab (pid %d) did not stop within %d s; killing it (its children die "
            "with it)\n",
            (int)pid, DOWN_WAIT_MS / 1000);
    kill(pid, SIGKILL);
    for (int i = 0; i < 100 && !pid_gone(pid); i++) usleep(20 * 1000);
  }
  static const char *const files[] = {"pid", "api", "ingress", "port_blocks"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    unlink(path);
  }
  printf("lab stopped (pid %d)\n", (int)pid);
  return 0;
}

/* ---- status, proxy-status ------------------------------------------------------------------------- */

void cmd_status_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab status [-o json] [-n NS] [--lab-dir DIR]\n\n"
          "Every replica: namespace, name, pod address, the service ports its sidecar owns, app and\n"
          "sidecar state, restarts and config version (acknowledged/latest); then the ingress.\n"
          "-o json prints the shape ../shared/CLI.md pins. -n NS lists that namespace only.\n");
}

void cmd_proxy_status_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab proxy-status [-o json] [-n NS] [--lab-dir DIR]\n\n"
          "Each proxy's config sync, as istioctl proxy-status: SYNCED (it runs the latest config),\n"
          "STALE (it runs an older one, or rejected the latest: NACK shows why), NOT SENT.\n");
}

/* Flags every reading command takes. */
struct common {
  const char *dir, *ns, *output;
  int all_ns;
  const char *files[64];
  size_t nfiles;
  const char *pos[4];
  size_t npos;
};

static int parse_common(int argc, char **argv, struct common *c, const char *allowed) {
  memset(c, 0, sizeof *c);
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc;
    if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
      if (c->npos == 4) return args_usage_error(argv[0], "too many arguments");
      c->pos[c->npos++] = argv[i];
      continue;
    }
    if (strchr(allowed, 'A') && (strcmp(argv[i], "-A") == 0 || strcmp(argv[i], "--all-namespaces") == 0)) {
      c->all_ns = 1;
      continue;
    }
    if ((rc = args_flag(argc, argv, &i, "lab-dir", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      c->dir = v;
    } else if (strchr(allowed, 'n') && (rc = args_flag(argc, argv, &i, "namespace", "-n", &v)) != 0) {
      if (rc < 0) return 2;
      c->ns = v;
    } else if (strchr(allowed, 'o') && (rc = args_flag(argc, argv, &i, "output", "-o", &v)) != 0) {
      if (rc < 0) return 2;
      c->output = v;
    } else if (strchr(allowed, 'f') && (rc = args_flag(argc, argv, &i, "filename", "-f", &v)) != 0) {
      if (rc < 0) return 2;
      if (c->nfiles == 64) return args_usage_error(argv[0], "at most 64 -f flags");
      c->files[c->nfiles++] = v;
    } else {
      return args_usage_error(argv[0], "unknown flag \"%s\"", argv[i]);
    }
  }
  return 0;
}

static int simple_get(int argc, char **argv, const char *path, const char *text_query) {
  struct common c;
  int rc = parse_common(argc, argv, &c, "on");
  if (rc) return rc;
  if (c.npos) return args_usage_error(argv[0], "unexpected argument \"%s\"", c.pos[0]);
  if (c.output && strcmp(c.output, "json") != 0 && strcmp(c.output, "text") != 0 && strcmp(c.output, "wide") != 0)
    return args_usage_error(argv[0], "-o takes json (or text, the default)");
  char dir[4096];
  if ((rc = labcli_find(c.dir, dir, sizeof dir)) != 0) return rc;
  struct buf target = {0};
  buf_appendf(&target, "%s%s", path, c.output && strcmp(c.output, "json") == 0 ? "?o=json" : text_query);
  if (c.ns) labcli_query_add(&target, "ns", c.ns);
  struct labcli_reply rep;
  rc = labcli_call(dir, "GET", buf_cstr(&target), NULL, NULL, 0, 10000, &rep);
  buf_free(&target);
  if (rc != 0) return labcli_failed(argv[0], rc);
  fwrite(rep.body.data, 1, rep.body.len, stdout);
  buf_free(&rep.body);
  return rep.status == 200 ? 0 : 1;
}

int cmd_status(int argc, char **argv) { return simple_get(argc, argv, "/v1/status", "?o=text"); }
int cmd_proxy_status(int argc, char **argv) { return simple_get(argc, argv, "/v1/proxy-status", ""); }

/* ---- apply, delete -------------------------------------------------------------------------------- */

void cmd_apply_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab apply [-n NS] -f FILE|DIR|-|BUILTIN ... [--lab-dir DIR]\n\n"
          "Applies Istio resources (VirtualService, DestinationRule, Gateway, ServiceEntry,\n"
          "PeerAuthentication, RequestAuthentication, AuthorizationPolicy, EnvoyFilter) and\n"
          "Kubernetes objects (Deployment, Service, ServiceAccount: replicas start, scale, stop).\n"
          "All or nothing: on any error nothing changes (exit 1). One line per object:\n"
          "  virtualservice.networking.istio.io/reviews created|configured|unchanged\n"
          "Warnings go to stderr. -f also takes a built-in manifest's name: bookinfo-gateway,\n"
          "destination-rule-all, httpbin, curl, fortio, bookinfo. -n sets the namespace of\n"
          "objects naming none; an object naming another namespace is refused.\n");
}

void cmd_delete_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab delete [-n NS] -f FILE|DIR|-|BUILTIN ... | KIND NAME [--lab-dir DIR]\n\n"
          "Removes objects from the lab (a deleted Deployment's replicas stop). Missing objects\n"
          "are errors (exit 1), as in kubectl.\n");
}

static int send_files(int argc, char **argv, const char *path, int allow_named) {
  struct common c;
  int rc = parse_common(argc, argv, &c, "nf");
  if (rc) return rc;
  struct buf target = {0};
  buf_append_str(&target, path);
  if (c.nfiles == 0) {
    if (allow_named && c.npos == 2) {
      char dir[4096];
      if ((rc = labcli_find(c.dir, dir, sizeof dir)) != 0) {
        buf_free(&target);
        return rc;
      }
      labcli_query_add(&target, "kind", c.pos[0]);
      labcli_query_add(&target, "name", c.pos[1]);
      if (c.ns) labcli_query_add(&target, "ns", c.ns);
      struct labcli_reply rep;
      rc = labcli_call(dir, "POST", buf_cstr(&target), NULL, NULL, 0, 30000, &rep);
      buf_free(&target);
      return rc ? labcli_failed(argv[0], rc) : labcli_print_console(argv[0], &rep);
    }
    buf_free(&target);
    return args_usage_error(argv[0], allow_named ? "-f FILE, or KIND NAME, is required" : "-f FILE is required");
  }
  char dir[4096];
  if (c.npos || (rc = labcli_find(c.dir, dir, sizeof dir)) != 0) {
    buf_free(&target);
    return c.npos ? args_usage_error(argv[0], "unexpected argument \"%s\" (with -f)", c.pos[0]) : rc;
  }
  struct inputs in = {0};
  for (size_t i = 0; i < c.nfiles; i++)
    if (add_input(&in, argv[0], c.files[i]) != 0) {
      inputs_free(&in);
      buf_free(&target);
      return 1;
    }
  if (c.ns) {
    labcli_query_add(&target, "ns", c.ns);
    buf_append_str(&target, "&enforce=1");
  }
  struct buf body = {0};
  const char *headers = NULL;
  if (in.len == 1) {
    labcli_query_add(&target, "file", in.files[0].name);
    buf_append(&body, in.files[0].text, in.files[0].len);
  } else {
    headers = "content-type: application/x-meshlab-files\r\n";
    for (size_t i = 0; i < in.len; i++) {
      buf_appendf(&body, "file %zu %s\n", in.files[i].len, in.files[i].name);
      buf_append(&body, in.files[i].text, in.files[i].len);
    }
  }
  inputs_free(&in);
  struct labcli_reply rep;
  rc = labcli_call(dir, "POST", buf_cstr(&target), headers, body.data ? body.data : "", body.len, 30000, &rep);
  buf_free(&body);
  buf_free(&target);
  return rc ? labcli_failed(argv[0], rc) : labcli_print_console(argv[0], &rep);
}

int cmd_apply(int argc, char **argv) { return send_files(argc, argv, "/v1/apply", 0); }
int cmd_delete(int argc, char **argv) { return send_files(argc, argv, "/v1/delete", 1); }

/* ---- get, analyze, export -------------------------------------------------------------------------- */

void cmd_get_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab get KIND [NAME] [-n NS | -A] [-o yaml|json] [--lab-dir DIR]\n\n"
          "KIND as kubectl takes it: virtualservice (vs), destinationrule (dr), gateway (gw),\n"
          "serviceentry (se), peerauthentication (pa), requestauthentication (ra),\n"
          "authorizationpolicy (ap), envoyfilter, service (svc), serviceaccount (sa),\n"
          "deployment (deploy). A table by default; -o yaml|json prints the objects.\n");
}

void cmd_analyze_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab analyze [--lab-dir DIR]\n\n"
          "istioctl-analyze-style warnings over everything applied (routes to undefined subsets,\n"
          "missing gateways, unknown hosts ...) and notes on Kubernetes fields the lab ignores.\n");
}

void cmd_export_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab export istio [--lab-dir DIR]\n\n"
          "Every Istio resource as current Istio YAML (networking.istio.io/v1, security.istio.io/v1),\n"
          "then the Kubernetes manifests of the workloads, on stdout: ready for a real cluster.\n");
}

int cmd_get(int argc, char **argv) {
  struct common c;
  int rc = parse_common(argc, argv, &c, "noA");
  if (rc) return rc;
  if (c.npos < 1 || c.npos > 2) return args_usage_error(argv[0], "KIND [NAME] expected");
  char dir[4096];
  if ((rc = labcli_find(c.dir, dir, sizeof dir)) != 0) return rc;
  struct buf target = {0};
  buf_append_str(&target, "/v1/get");
  labcli_query_add(&target, "kind", c.pos[0]);
  if (c.npos == 2) labcli_query_add(&target, "name", c.pos[1]);
  if (c.ns) labcli_query_add(&target, "ns", c.ns);
  if (c.all_ns) buf_append_str(&target, "&all=1");
  if (c.output) labcli_query_add(&target, "o", c.output);
  struct labcli_reply rep;
  rc = labcli_call(dir, "GET", buf_cstr(&target), NULL, NULL, 0, 10000, &rep);
  buf_free(&target);
  return rc ? labcli_failed(argv[0], rc) : labcli_print_console(argv[0], &rep);
}

static int console_get(int argc, char **argv, const char *path) {
  struct common c;
  int rc = parse_common(argc, argv, &c, "");
  if (rc) return rc;
  if (strcmp(path, "/v1/export") == 0 && (c.npos != 1 || strcmp(c.pos[0], "istio") != 0))
    return args_usage_error(argv[0], "the form is: meshlab export istio");
  if (strcmp(path, "/v1/export") != 0 && c.npos) return args_usage_error(argv[0], "unexpected \"%s\"", c.pos[0]);
  char dir[4096];
  if ((rc = labcli_find(c.dir, dir, sizeof dir)) != 0) return rc;
  struct labcli_reply rep;
  rc = labcli_call(dir, "GET", path, NULL, NULL, 0, 10000, &rep);
  return rc ? labcli_failed(argv[0], rc) : labcli_print_console(argv[0], &rep);
}

int cmd_analyze(int argc, char **argv) { return console_get(argc, argv, "/v1/analyze"); }
int cmd_export(int argc, char **argv) { return console_get(argc, argv, "/v1/export"); }
