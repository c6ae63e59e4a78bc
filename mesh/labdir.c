/* The lab's state folder: see labdir.h. */
#include "mesh/labdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int labdir_resolve(const char *flag, char *out, size_t n) {
  const char *v;
  int w;
  if (flag && *flag) w = snprintf(out, n, "%s", flag);
  else if ((v = getenv("MESHLAB_HOME")) && *v) w = snprintf(out, n, "%s", v);
  else if ((v = getenv("XDG_STATE_HOME")) && *v) w = snprintf(out, n, "%s/meshlab", v);
  else if ((v = getenv("HOME")) && *v) w = snprintf(out, n, "%s/.local/state/meshlab", v);
  else return -ENOENT;
  return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

int labdir_make(const char *dir) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) return -ENAMETOOLONG;
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0700) != 0 && errno != EEXIST) return -errno;
    *p = '/';
  }
  if (mkdir(path, 0700) != 0 && errno != EEXIST) return -errno;
  return 0;
}

int labdir_path(char *out, size_t n, const char *dir, const char *rel) {
  int w = snprintf(out, n, "%s/%s", dir, rel);
  return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

int labdir_replica_rel(char *out, size_t n, const char *ns, const char *replica) {
  bool qualified = ns && *ns && strcmp(ns, "default") != 0;
  int w = qualified ? snprintf(out, n, "replicas/%s.%s", replica, ns) : snprintf(out, n, "replicas/%s", replica);
  return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

int labdir_replica_find(const char *dir, const char *name, char *out, size_t n) {
  char path[4096];
  struct stat st;
  if (snprintf(path, sizeof path, "%s/replicas/%s", dir, name) < (int)sizeof path && stat(path, &st) == 0 &&
      S_ISDIR(st.st_mode))
    return labdir_replica_rel(out, n, NULL, name);
  if (snprintf(path, sizeof path, "%s/replicas", dir) >= (int)sizeof path) return -ENAMETOOLONG;
  DIR *d = opendir(path);
  if (!d) return -ENOENT;
  size_t len = strlen(name), found = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, name, len) == 0 && e->d_name[len] == '.' && e->d_name[len + 1] &&
        !strchr(e->d_name + len + 1, '.') && found++ == 0 && labdir_replica_rel(out, n, e->d_name + len + 1, name) != 0)
      found = 2; /* too long: treated as unusable */
  closedir(d);
  return found == 1 ? 0 : found ? -EEXIST : -ENOENT;
}

int labdir_read(const char *dir, const char *name, char *out, size_t n) {
  char path[4096];
  int rc = labdir_path(path, sizeof path, dir, name);
  if (rc != 0) return rc;
  FILE *f = fopen(path, "r");
  if (!f) return -errno;
  size_t len = fread(out, 1, n - 1, f);
  fclose(f);
  out[len] = '\0';
  while (len && (out[len - 1] == '\n' || out[len - 1] == '\r')) out[--len] = '\0';
  return 0;
}

int labdir_write(const char *dir, const char *name, const char *text) {
  char path[4096], tmp[4200];
  int rc = labdir_path(path, sizeof path, dir, name);
  if (rc != 0) return rc;
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -errno;
  size_t len = strlen(text), off = 0;
  while (off < len) {
    ssize_t w = write(fd, text + off, len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      rc = -errno;
      close(fd);
      unlink(tmp);
      return rc;
    }
    off += (size_t)w;
  }
  close(fd);
  if (rename(tmp, path) != 0) {
    rc = -errno;
    unlink(tmp);
    return rc;
  }
  return 0;
}

pid_t labdir_running(const char *dir) {
  char text[32];
  if (labdir_read(dir, "pid", text, sizeof text) != 0) return 0;
  long pid = strtol(text, NULL, 10);
  if (pid <= 0) return 0;
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 0;
  return (pid_t)pid;
}
