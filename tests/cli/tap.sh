# Shared by the command-line tests (sourced): TAP-style results and a bounded wait for a line.
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
tap_finish() {
  echo "1..$((passed + failed + skipped))"
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" = 0 ]
  exit
}
