#!/usr/bin/env bash
# End to end: `meshlab dash` in tmux against a running lab (docs/dashboard.md). Istio's httpbin
# (scaled to 3 replicas, httpbin-2 answering 503 to everything) and fortio, a DestinationRule
# with outlierDetection (3 consecutive 5xx, 1 s interval, 5 s base ejection, 100 %), load from
# fortio's sidecar; the test drives the dashboard with send-keys and reads it with capture-pane:
# the services and their rates show (the httpbin node, what it answered, below the call fortio
# got after its retries), the ejection of httpbin-2 shows in the breakers view, a
# request's trace opens, the too-small message appears and goes on resize, q quits, the
# recording is asciicast v2; the idle CPU of the dashboard (quiet lab, ~5 s) is measured and
# must stay under 2 % of a core. Then `meshlab replay` on a journal shows its ejection.
# The lab runs in a temp folder on its own pod addresses (127.1.209.0/24); tmux runs on a
# private socket; the trap stops exactly those two (tmux -L SOCKET kill-server, meshlab down).
# shellcheck disable=SC2016,SC2034  # check() evals its single-quoted condition, which reads these variables
set -u
MESHLAB=${MESHLAB_BIN:?MESHLAB_BIN must name the meshlab binary}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
lab=$tmp/lab
sock=meshlab-dash-$$
cleanup() {
  tmux -L "$sock" kill-server >/dev/null 2>&1
  "$MESHLAB" down --lab-dir "$lab" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$here/tap.sh"
L=(--lab-dir "$lab")

if ! command -v tmux >/dev/null; then
  if [ "${CI:-}" = true ]; then echo "Bail out! tmux missing (scripts/setup installs it)"; exit 1; fi
  echo "1..0 # SKIP tmux not installed (scripts/setup installs it)"
  exit 0
fi
need_conformance istio/samples-httpbin/httpbin.yaml istio/samples-clients/fortio-deploy.yaml

T() { tmux -L "$sock" "$@"; }
screen() { T capture-pane -p -t dash 2>/dev/null; }
# shows PATTERN [SECONDS]: waits until the dashboard's screen matches an extended regex.
shows() {
  want=$1
  until_ok "${2:-10}" 'screen | grep -Eq -- "$want"'
}
# expect NAME PATTERN... [SECONDS]: a check that the screen shows each PATTERN in turn.
expect() {
  local name=$1 secs=10; shift
  if [[ ${!#} =~ ^[0-9]+$ ]]; then secs=${!#}; set -- "${@:1:$#-1}"; fi
  for p in "$@"; do
    if ! shows "$p" "$secs"; then not_ok "$name" "$(echo "waiting for: $p"; screen)"; return; fi
  done
  ok "$name"
}

# ---- without a lab, and usage ----
out=$("$MESHLAB" dash --lab-dir "$tmp/nolab" 2>&1); rc=$?
check "no lab: 'dash' exits 3 with CLI.md's message" \
  '[ $rc = 3 ] && [ "$out" = "no lab is running (start one with: meshlab up)" ]' "rc=$rc out=$out"
out=$("$MESHLAB" replay 2>&1); rc=$?
check "replay without JOURNAL is a usage error (exit 2)" '[ $rc = 2 ] && echo "$out" | grep -q JOURNAL' "rc=$rc $out"
out=$("$MESHLAB" replay "$tmp/none" 2>&1); rc=$?
check "replay of a missing journal exits 1 and names it" '[ $rc = 1 ] && echo "$out" | grep -q "$tmp/none"' "rc=$rc $out"
check "dash --help names the keys" '"$MESHLAB" dash --help | grep -q "? help"'

# ---- a lab: httpbin x3 (one failing), fortio, outlier detection ----
"$MESHLAB" up --detach "${L[@]}" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 --addresses 127.1.209.0/24 \
  --wait 20s -f "$conf/istio/samples-httpbin/httpbin.yaml" -f "$conf/istio/samples-clients/fortio-deploy.yaml" \
  > "$tmp/up.out" 2>&1
rc=$?
check "up --detach with Istio's httpbin and fortio" '[ $rc = 0 ]' "$(cat "$tmp/up.out")"
[ $rc = 0 ] || tap_finish
# apply_httpbin_dr [TLS_MODE]: httpbin's DestinationRule with outlier detection (and a tls mode).
apply_httpbin_dr() {
  {
    printf 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: httpbin\n'
    printf 'spec:\n  host: httpbin\n  trafficPolicy:\n'
    [ -n "${1:-}" ] && printf '    tls:\n      mode: %s\n' "$1"
    printf '    outlierDetection:\n      consecutive5xxErrors: 3\n      interval: 1s\n'
    printf '      baseEjectionTime: 5s\n      maxEjectionPercent: 100\n'
  } | "$MESHLAB" apply "${L[@]}" -f - > "$tmp/apply.out" 2>&1
}
apply_httpbin_dr
rc=$?
check "apply the outlierDetection DestinationRule" '[ $rc = 0 ]' "$(cat "$tmp/apply.out")"
"$MESHLAB" scale httpbin "${L[@]}" --replicas 3 > "$tmp/scale.out" 2>&1
until_ok 15 '[ "$("$MESHLAB" status -o json "${L[@]}" | python3 -c "import json,sys; print(sum(1 for r in json.load(sys.stdin)[\"replicas\"] if r[\"name\"].startswith(\"httpbin-\") and r[\"app\"] == \"running\"))")" = 3 ]'; rc=$?
check "scale httpbin to 3 replicas" '[ $rc = 0 ]' "$(cat "$tmp/scale.out")"
"$MESHLAB" chaos httpbin-2 "${L[@]}" --error-rate 1 --code 503 > "$tmp/chaos.out" 2>&1; rc=$?
check "chaos: httpbin-2 answers 503" '[ $rc = 0 ]' "$(cat "$tmp/chaos.out")"

# ---- the dashboard in tmux ----
T new-session -d -s dash -x 120 -y 40 "exec '$MESHLAB' dash ${L[*]} --record '$tmp/dash.cast' 2>'$tmp/dash.err'"
expect "the dashboard starts in tmux (120x40) on the topology view" "meshlab dash .*1 Topology" 10
expect "the header counts the lab's sidecars" "5/5 sidecars serving" 10

# Idle CPU: the lab is quiet; the dashboard still polls 4 times a second.
sleep 1
pid=$(T list-panes -t dash -F '#{pane_pid}')
hz=$(getconf CLK_TCK)
t0=$(awk '{print $14 + $15}' "/proc/$pid/stat"); s0=$(date +%s.%N)
sleep 5
t1=$(awk '{print $14 + $15}' "/proc/$pid/stat"); s1=$(date +%s.%N)
cpu=$(python3 -c "print('%.2f' % (100.0 * ($t1 - $t0) / $hz / ($s1 - $s0)))")
echo "# idle CPU of the dashboard over $(python3 -c "print('%.1f' % ($s1 - $s0))") s: $cpu % of a core"
check "idle CPU of the dashboard under 2 % of a core ($cpu %)" 'python3 -c "import sys; sys.exit(0 if $cpu < 2.0 else 1)"'

"$MESHLAB" load --from fortio-deploy "${L[@]}" --qps 40 --connections 2 --duration 25s http://httpbin:8000/get \
  > "$tmp/load.out" 2>&1 &
load_pid=$!
# mTLS is on by default (auto mTLS): the edge is drawn ==>, as the destination's metrics say
expect "topology: the call fortio-deploy ==> httpbin (mTLS) with its rate" "fortio-deploy +==> httpbin +[0-9]+\.[0-9]" 12
expect "topology: the httpbin node with its version, rate and success" "^ [+~x] httpbin +v1 +[0-9]+\.[0-9]+ +[0-9.]+%" 5
# A node counts what the service answered (reporter=destination, every try), a call what the
# caller got (after Istio's default retries, 503 on another host): httpbin-2's 503s put the
# httpbin node below the call fortio-deploy ==> httpbin.
served_below_call() {
  screen | awk '
    /^ [+~x] httpbin +v1 / { for (i = 1; i <= NF; i++) if ($i ~ /%$/) { node = $i + 0; seen++; break } }
    / fortio-deploy +==> httpbin / { for (i = 1; i <= NF; i++) if ($i ~ /%$/) { call = $i + 0; seen++; break } }
    END { exit !(seen == 2 && node < call) }'
}
until_ok 15 served_below_call
check "topology: the httpbin node (what it answered) reads below the call fortio ==> httpbin (what fortio got)" \
  '[ $? = 0 ]' "$(screen)"

T send-keys -t dash 3
expect "breakers: fortio's cluster for httpbin, per caller" "fortio-deploy-0 -> httpbin" 5
expect "breakers: the outlier settings of the DestinationRule" "outlier detection: eject after 3 consecutive 5xx" 3
expect "breakers: httpbin-2 EJECTED with its countdown" "x httpbin-2 +127\.1\.209\.[0-9]+:[0-9]+ +EJECTED [0-9.]+s left" 15

T send-keys -t dash 2
expect "split: httpbin's share by version" "TRAFFIC SPLIT" "httpbin +\(" 3

T send-keys -t dash 4
expect "requests: the live log in access-log style" '"GET /get" [0-9]{3} ' 5
T send-keys -t dash Enter
expect "enter opens the selected request's trace (the why)" "WHY  request" "try 1 " 5
T send-keys -t dash Escape
expect "esc goes back to the log" "REQUESTS  newest first" 3
T send-keys -t dash / 5 0 3 Enter
expect "/ filters the log" 'filter "503"' 3

T send-keys -t dash '?'
expect "? shows the help" "left/right replay" 3
T send-keys -t dash x

T resize-window -t dash -x 70 -y 20
expect "a 70x20 terminal gets the plain too-small message" "terminal too small: 70x20" 3
T resize-window -t dash -x 80 -y 24
expect "back at 80x24 the dashboard redraws" "meshlab dash .*Requests" 3
check "... and no line is wider than 80 columns" '[ "$(screen | awk "{ if (length(\$0) > 80) n++ } END { print n + 0 }")" = 0 ]'

# The client side turns TLS off for httpbin (the same outlier detection kept, so the replay
# below still finds the ejection): once the 10 s window holds only plaintext calls the edge is
# drawn --> again.
apply_httpbin_dr DISABLE
rc=$?
check "apply a DestinationRule with tls mode DISABLE" '[ $rc = 0 ]' "$(cat "$tmp/apply.out")"
kill "$load_pid" 2>/dev/null
wait "$load_pid" 2>/dev/null
"$MESHLAB" load --from fortio-deploy "${L[@]}" --qps 20 --connections 1 --duration 20s http://httpbin:8000/get \
  > "$tmp/load2.out" 2>&1 &
load_pid=$!
T send-keys -t dash 1
expect "topology: in plaintext the edge is fortio-deploy --> httpbin" "fortio-deploy +--> httpbin +[0-9]+\.[0-9]" 18

T send-keys -t dash q
until_ok 5 '! T has-session -t dash 2>/dev/null'; rc=$?
check "q quits" '[ $rc = 0 ]' "$(screen)"
check "the dashboard wrote nothing on stderr" '[ ! -s "$tmp/dash.err" ]' "$(cat "$tmp/dash.err")"
check "--record wrote an asciicast v2 file: header, then [time, \"o\", data] events" 'python3 - "$tmp/dash.cast" <<PY
import json, sys
lines = open(sys.argv[1]).read().splitlines()
h = json.loads(lines[0])
assert h["version"] == 2 and h["width"] == 120 and h["height"] == 40 and h["timestamp"] > 0, h
evs = [json.loads(l) for l in lines[1:]]
assert len(evs) > 5, len(evs)
assert all(e[1] in ("o", "r") for e in evs) and all(a[0] <= b[0] for a, b in zip(evs, evs[1:]))
out = "".join(e[2] for e in evs if e[1] == "o")
assert "httpbin" in out and "EJECTED" in out
assert ["r" == e[1] for e in evs].count(True) >= 2
PY' "$(head -c 600 "$tmp/dash.cast")"
wait "$load_pid"

# ---- NO_COLOR: still readable, health by glyph ----
T new-session -d -s dash -x 80 -y 24 "NO_COLOR=1 exec '$MESHLAB' dash ${L[*]} 2>'$tmp/dash.err'"
expect "NO_COLOR: the dashboard runs and health reads by glyph" "meshlab dash" "^ [+~x.] httpbin" 10
"$MESHLAB" down "${L[@]}" > /dev/null 2>&1
expect "the lab stopping shows as LAB UNREACHABLE, the last data stays" "LAB UNREACHABLE" "httpbin" 5
T send-keys -t dash q
until_ok 5 '! T has-session -t dash 2>/dev/null'

# ---- replay a journal ----
T new-session -d -s dash -x 80 -y 24 "exec '$MESHLAB' replay '$here/../tui/fixtures/journal' 2>'$tmp/replay.err'"
expect "replay: the dashboard runs from a journal" "REPLAY journal" 5
expect "replay: the ejection of httpbin-2 appears with its countdown" "fortio-deploy-0: ejected httpbin-2" "EJECTED [0-9.]+s left" 8
T send-keys -t dash Space
expect "replay: space pauses" "REPLAY journal +[0-9.]+ s of [0-9.]+ s +\(paused\)" 3
T send-keys -t dash Left
expect "replay: left seeks back to the start" "REPLAY journal +0\.0 s of" 3
T send-keys -t dash n n n n n
expect "replay: n steps to the next events, the ejection again" "REPLAY journal +3\.4 s" "EJECTED 5\.0s left" 3
T send-keys -t dash q
until_ok 5 '! T has-session -t dash 2>/dev/null'; rc=$?
check "replay: q quits" '[ $rc = 0 ]'

# ---- replay this lab's own journal: the ejection the dashboard showed live is in it ----
if grep -q '"event":"host_ejected".*httpbin-2' "$lab/journal" 2>/dev/null; then
  T new-session -d -s dash -x 120 -y 40 "exec '$MESHLAB' replay '$lab' 2>'$tmp/replay.err'"
  expect "replay of the lab's journal (the lab folder as JOURNAL)" "REPLAY journal" 5
  T send-keys -t dash Space Right Right Right Right Right Right Right Right Right Right Right Right
  expect "... rewinds to httpbin-2's ejection by fortio's sidecar" "fortio-deploy-0 -> httpbin" \
    "x? ?httpbin-2 .*ejected [0-9]+x" 5
  T send-keys -t dash q
  until_ok 5 '! T has-session -t dash 2>/dev/null'
else
  not_ok "the lab's journal records httpbin-2's ejection (host_ejected)" "$(grep -c . "$lab/journal" 2>&1)"
fi

tap_finish
