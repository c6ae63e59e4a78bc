/* `meshlab token`: mints test JWTs signed by the lab's own issuer (mesh/issuer.h), and prints
 * the issuer's JWK Set, so lessons on RequestAuthentication and AuthorizationPolicy need no
 * outside tool. Works without a running lab: the keys live in the state folder (issuer.key and
 * issuer-rs256.key, 0600, made on first use) and the lab serves their public halves at GET
 * /v1/jwks. Exit 0, 2 on a
 * usage error, 1 when the key cannot be read or made. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "mesh/issuer.h"
#include "mesh/labdir.h"

void cmd_token_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab token [--sub S] [--iss I] [--aud A[,B]] [--groups g1,g2] [--scope \"a b\"]\n"
          "                     [--exp 1h] [--claim k=v]... [--alg ES256|RS256] [--lab-dir DIR]\n"
          "       meshlab token --jwks [--lab-dir DIR]\n\n"
          "Prints a JWT signed (ES256, or RS256 with --alg) by the lab's own issuer, " ISSUER_NAME
          ":\n"
          "iss (default the lab issuer), sub (default \"tester\"), aud, iat, exp (--exp from now;\n"
          "a negative duration such as -1h gives an expired token), groups (an array), scope, and\n"
          "any --claim k=v (v is JSON when it parses: --claim level=3, --claim 'roles=[\"a\"]').\n"
          "--jwks prints the issuer's public JWK Set instead. Trust the issuer with:\n\n"
          "  jwtRules:\n"
          "  - issuer: " ISSUER_NAME
          "\n"
          "    jwksUri: " ISSUER_JWKS_URI
          "   # the lab serves it\n"
          "    # offline and explicit: jwks: '<output of meshlab token --jwks>'\n\n"
          "then: curl -H \"Authorization: Bearer $(meshlab token --groups group1)\" ...\n");
}

/* Splits a comma-separated list in place into items (at most cap). */
static size_t split(char *s, const char **items, size_t cap) {
  size_t n = 0;
  for (char *tok = strtok(s, ","); tok && n < cap; tok = strtok(NULL, ","))
    if (*tok) items[n++] = tok;
  return n;
}

int cmd_token(int argc, char **argv) {
  const char *dir_flag = NULL, *v;
  struct issuer_claims c = {0};
  char *groups = NULL, *aud = NULL;
  const char *group_items[32], *aud_items[16], *extra[32];
  bool jwks = false;
  int64_t exp = 0;
  for (int i = 1; i < argc; i++) {
    int rc;
    if (strcmp(argv[i], "--jwks") == 0) {
      jwks = true;
    } else if ((rc = args_flag(argc, argv, &i, "lab-dir", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      dir_flag = v;
    } else if ((rc = args_flag(argc, argv, &i, "sub", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      c.sub = v;
    } else if ((rc = args_flag(argc, argv, &i, "alg", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      if (strcmp(v, "ES256") != 0 && strcmp(v, "RS256") != 0)
        return args_usage_error(argv[0], "--alg %s: the lab issuer signs ES256 (the default) or RS256", v);
      c.alg = v;
    } else if ((rc = args_flag(argc, argv, &i, "iss", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      c.iss = v;
    } else if ((rc = args_flag(argc, argv, &i, "aud", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      free(aud);
      aud = strdup(v);
    } else if ((rc = args_flag(argc, argv, &i, "groups", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      free(groups);
      groups = strdup(v);
    } else if ((rc = args_flag(argc, argv, &i, "scope", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      c.scope = v;
    } else if ((rc = args_flag(argc, argv, &i, "claim", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      if (c.extra_len == sizeof extra / sizeof extra[0]) return args_usage_error(argv[0], "at most 32 --claim");
      extra[c.extra_len++] = v;
    } else if ((rc = args_flag(argc, argv, &i, "exp", NULL, &v)) != 0) {
      if (rc < 0) return 2;
      uint64_t ms;
      bool neg = v[0] == '-';
      if (args_duration_ms(v + neg, &ms) != 0 || ms < 1000)
        return args_usage_error(argv[0], "--exp %s: give a duration of at least 1s (30m, 1h, 24h; -1h: expired)", v);
      exp = (neg ? -1 : 1) * (int64_t)(ms / 1000);
    } else {
      return args_usage_error(argv[0], "unknown argument \"%s\" (see meshlab token --help)", argv[i]);
    }
  }
  c.exp_seconds = exp;
  if (groups) c.groups = group_items, c.groups_len = split(groups, group_items, 32);
  if (aud) c.aud = aud_items, c.aud_len = split(aud, aud_items, 16);
  c.extra = extra;
  char dir[4096], err[512];
  int exit_code = 1;
  struct issuer is = {0};
  if (labdir_resolve(dir_flag, dir, sizeof dir) != 0 || labdir_make(dir) != 0) {
    fprintf(stderr, "meshlab token: no state folder (set --lab-dir or MESHLAB_HOME)\n");
  } else if (issuer_load(dir, &is, err, sizeof err) != 0) {
    fprintf(stderr, "meshlab token: %s\n", err);
  } else if (jwks) {
    printf("%s\n", is.jwks);
    exit_code = 0;
  } else {
    char *token = NULL;
    int rc = issuer_mint(&is, &c, (int64_t)time(NULL), &token, err, sizeof err);
    if (rc == 0) {
      printf("%s\n", token);
      exit_code = 0;
    } else {
      fprintf(stderr, "meshlab token: %s\n", rc == -ENOMEM ? "out of memory" : err);
      exit_code = rc == -EINVAL ? 2 : 1;
    }
    free(token);
  }
  issuer_free(&is);
  free(groups);
  free(aud);
  return exit_code;
}
