# Shared by the command-line tests (sourced): TAP-style results, a bounded wait for a line, and
# a file origin outside meshlab.
# A test calls check/ok/not_ok/skip as it goes and tap_finish last; its exit status is 0 only
# when nothing failed.
passed=0 failed=0 skipped=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
# not_ok NAME [DIAGNOSTIC]: the diagnostic may span lines; each is printed as a "# " line.
not_ok() {
  echo "not ok - $1"
  if [ $# -gt 1 ] && [ -n "$2" ]; then printf '%s\n' "$2" | sed 's/^/# /'; fi
  failed=$((failed + 1))
}
skip() { echo "ok - $1 # SKIP $2"; skipped=$((skipped + 1)); }
# check NAME CONDITION [DIAGNOSTIC]: CONDITION is evaluated as shell code.
check() { if eval "$2"; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }
# wait_line FILE PATTERN: waits up to 5 s for a line of FILE matching PATTERN, and prints it.
wait_line() {
  for _ in $(seq 1 100); do
    if grep -m1 -E "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}
# start_file_origin DIR: an origin outside meshlab, python's http.server over DIR (which gets a
# hello.txt) on an OS-assigned port; sets origin_port and adds its pid to the caller's pids
# array. Bails out when it does not start.
start_file_origin() {
  mkdir -p "$1"
  printf 'hello from the origin\n' > "$1/hello.txt"
  (cd "$1" && exec python3 -u -m http.server 0 --bind 127.0.0.1) > "$1.out" 2>&1 &
  pids+=($!)
  origin_port=$(wait_line "$1.out" 'port [0-9]+' | sed -E 's/.*port ([0-9]+).*/\1/')
  [ -n "$origin_port" ] || { echo "Bail out! origin did not start"; cat "$1.out"; exit 1; }
}
# need_conformance PATH...: sets conf to the conformance inputs ($MESHLAB_CONFORMANCE, else
# ../shared beside the repository) and checks that each PATH (relative to it) exists. When one
# is missing the test is skipped, except under CI (CI=true), where it bails out: CI must run it.
need_conformance() {
  conf=${MESHLAB_CONFORMANCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../../shared/conformance}
  local p
  for p in "$@"; do
    if [ ! -e "$conf/$p" ]; then
      if [ "${CI:-}" = true ]; then echo "Bail out! conformance input missing: $conf/$p"; exit 1; fi
      echo "1..0 # SKIP conformance input not found: $conf/$p (set MESHLAB_CONFORMANCE)"
      exit 0
    fi
  done
}
# until_ok SECONDS CMD: evaluates CMD every 0.2 s until it succeeds (0) or SECONDS pass (1).
until_ok() {
  local end=$(( $(date +%s) + $1 )); shift
  while :; do eval "$1" && return 0; [ "$(date +%s)" -ge $end ] && return 1; sleep 0.2; done
}
# gone PID...: every process has exited (zombies count as exited).
gone() {
  for p in "$@"; do
    [ -e "/proc/$p" ] || continue
    [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$p/stat" 2>/dev/null)" = Z ] || return 1
  done
  return 0
}
tap_finish() {
  echo "1..$((passed + failed + skipped))"
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" = 0 ]
  exit
}

# circuit_breaking_dr: the DestinationRule of Istio's circuit-breaking task (httpbin: one
# connection, one pending request, one request per connection), on stdout.
circuit_breaking_dr() {
  cat <<'YAML'
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 1
      http:
        http1MaxPendingRequests: 1
        maxRequestsPerConnection: 1
YAML
}
