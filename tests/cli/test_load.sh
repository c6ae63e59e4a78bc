#!/usr/bin/env bash
# End-to-end checks of `meshlab load` as outside scripts use it (../shared/CLI.md): the fortio-style
# tail (Code lines, then Flag lines), the JSON shape, exact --requests counts, direct and --proxy
# targets, code -1 for requests without a response, exit 2 on bad flags, exit 1 when nothing
# answers, and --from (exit 3 without a lab; a lab state folder's outbound address with one).
# Origins: python's http.server (HTTP/1.0: one connection per request) behind `meshlab proxy`
# (keep-alive), a `meshlab proxy` in front of a dead port (503 with flag UF), and a listener that
# never answers, and a python origin that prints the method and header each request brought
# (-X, -H). Ports are OS-assigned; every process started here is stopped by pid.
set -u
MESHLAB=${MESHLAB_BIN:?MESHLAB_BIN must name the meshlab binary}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/tap.sh"

start_file_origin "$tmp/www"

# A port nothing listens on (bound a moment ago, then released), and a listener that accepts
# connections (the kernel's backlog) but never answers.
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -u -c 'import socket,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(64); print(s.getsockname()[1]); time.sleep(120)' \
  > "$tmp/silent.out" 2>&1 &
pids+=($!)
silent_port=$(wait_line "$tmp/silent.out" '^[0-9]+$')

"$MESHLAB" proxy --listen 127.0.0.1:0 --upstream "127.0.0.1:$origin_port" > "$tmp/proxy.out" 2>&1 &
pids+=($!)
listen=$(wait_line "$tmp/proxy.out" '^listening on ' | sed 's/^listening on //')
"$MESHLAB" proxy --listen 127.0.0.1:0 --upstream "127.0.0.1:$dead_port" > "$tmp/dead.out" 2>&1 &
pids+=($!)
dead_listen=$(wait_line "$tmp/dead.out" '^listening on ' | sed 's/^listening on //')
[ -n "$listen" ] && [ -n "$dead_listen" ] && [ -n "$silent_port" ] || { echo "Bail out! setup failed"; exit 1; }

# ---- text output ----
"$MESHLAB" load "http://$listen/hello.txt" --requests 20 -c 2 --qps 0 > "$tmp/t1.out" 2> "$tmp/t1.err"
rc=$?
check "closed loop through the proxy: exit 0, 20 calls, tail 'Code 200 : 20 (100.0 %)'" \
  '[ $rc = 0 ] && grep -q "^Ended after [0-9.]* s : 20 calls. qps=[0-9.]* (target max)$" "$tmp/t1.out" &&
   [ "$(tail -n1 "$tmp/t1.out")" = "Code 200 : 20 (100.0 %)" ]' "exit $rc: $(cat "$tmp/t1.out" "$tmp/t1.err")"
check "summary has percentiles and keep-alive socket count" \
  'grep -qE "^Latency ms \(round trip\): p50 [0-9.]+, p90 [0-9.]+, p99 [0-9.]+, p99.9 [0-9.]+, max [0-9.]+$" "$tmp/t1.out" &&
   grep -q "^Sockets used: 2 (for perfect keep-alive, would be 2)$" "$tmp/t1.out"' "$(cat "$tmp/t1.out")"

"$MESHLAB" load "http://$dead_listen/x" -n 10 -c 2 --qps 0 > "$tmp/t2.out" 2> "$tmp/t2.err"
rc=$?
check "a proxy's failures end the output with Code lines, then Flag lines" \
  '[ $rc = 0 ] && [ "$(tail -n2 "$tmp/t2.out")" = "Code 503 : 10 (100.0 %)
Flag UF : 10 (100.0 %)" ]' "exit $rc: $(cat "$tmp/t2.out" "$tmp/t2.err")"

"$MESHLAB" load "http://127.0.0.1:$origin_port/hello.txt" -n 25 -c 4 --qps 200 > "$tmp/t3.out" 2> "$tmp/t3.err"
rc=$?
check "open loop --requests 25 direct (server closes each connection): exactly 25, reconnecting" \
  '[ $rc = 0 ] && grep -q "^meshlab load: .* at 200 qps (open loop), 4 connections, 25 requests$" "$tmp/t3.out" &&
   grep -q "^Ended after [0-9.]* s : 25 calls. qps=[0-9.]* (target 200)$" "$tmp/t3.out" &&
   grep -q "^Latency ms (from each request.s intended send time): " "$tmp/t3.out" &&
   grep -q "^Sockets used: 25 " "$tmp/t3.out" && [ "$(tail -n1 "$tmp/t3.out")" = "Code 200 : 25 (100.0 %)" ]' \
  "exit $rc: $(cat "$tmp/t3.out" "$tmp/t3.err")"

"$MESHLAB" load "http://127.0.0.1:$origin_port/hello.txt" --proxy "$listen" -n 6 -c 2 --qps 100 > "$tmp/t4.out" 2>&1
rc=$?
check "--proxy sends absolute-form requests through it" \
  '[ $rc = 0 ] && grep -q "^Sending through the proxy at $listen$" "$tmp/t4.out" &&
   [ "$(tail -n1 "$tmp/t4.out")" = "Code 200 : 6 (100.0 %)" ]' "exit $rc: $(cat "$tmp/t4.out")"

"$MESHLAB" load "http://127.0.0.1:$silent_port/" -n 2 -c 1 --qps 0 --timeout 200ms > "$tmp/t5.out" 2> "$tmp/t5.err"
rc=$?
check "requests without a response count as fortio's code -1" \
  '[ $rc = 0 ] && [ "$(tail -n1 "$tmp/t5.out")" = "Code  -1 : 2 (100.0 %)" ]' \
  "exit $rc: $(cat "$tmp/t5.out" "$tmp/t5.err")"

# ---- -X and -H reach the origin ----
# A small origin that prints, per request, the method, the path and the x-t header it got: the
# load output counts codes only, so this is where -X and -H show.
python3 -u -c 'import http.server, sys
class Echo(http.server.BaseHTTPRequestHandler):
    def answer(self):
        n = int(self.headers.get("content-length") or 0)
        if n: self.rfile.read(n)
        print("%s %s x-t=%s" % (self.command, self.path, self.headers.get("x-t")), flush=True)
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    do_GET = do_POST = do_PUT = answer
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), Echo); print(s.server_address[1], flush=True); s.serve_forever()' \
  > "$tmp/echo.out" 2>&1 &
pids+=($!)
echo_port=$(wait_line "$tmp/echo.out" '^[0-9]+$')
"$MESHLAB" load -X POST -H "x-t: 1" --requests 5 -c 1 --qps 0 "http://127.0.0.1:$echo_port/anything" \
  > "$tmp/x1.out" 2>&1
rc=$?
check "-X POST -H 'x-t: 1' --requests 5: the origin saw 5 POSTs carrying x-t: 1, and nothing else" \
  '[ $rc = 0 ] && [ "$(tail -n1 "$tmp/x1.out")" = "Code 200 : 5 (100.0 %)" ] &&
   [ "$(grep -c "^POST /anything x-t=1$" "$tmp/echo.out")" = 5 ] && [ "$(grep -vc "^[0-9]*$" "$tmp/echo.out")" = 5 ]' \
  "exit $rc: $(cat "$tmp/x1.out" "$tmp/echo.out")"

# ---- JSON ----
"$MESHLAB" load "http://$dead_listen/x" -n 8 -c 2 --qps 100 -o json > "$tmp/j1.out" 2> "$tmp/j1.err"
rc=$?
check "-o json has the pinned shape and exact counts" \
  '[ $rc = 0 ] && python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d[\"codes\"] == {\"503\": 8}, d[\"codes\"]
assert d[\"flags\"] == {\"UF\": 8}, d[\"flags\"]
assert d[\"requests\"] == 8 and d[\"errors\"] == 0 and d[\"connections\"] == 2 and d[\"target_qps\"] == 100
assert isinstance(d[\"qps\"], (int, float)) and d[\"qps\"] > 0
assert abs(d[\"duration_s\"] - 0.08) < 0.05, d[\"duration_s\"]
lat = d[\"latency_ms\"]
assert set(lat) >= {\"p50\", \"p90\", \"p99\", \"p999\", \"max\"}, lat
assert 0 < lat[\"p50\"] <= lat[\"p90\"] <= lat[\"p99\"] <= lat[\"p999\"] <= lat[\"max\"], lat
" "$tmp/j1.out"' "exit $rc: $(cat "$tmp/j1.out" "$tmp/j1.err")"
"$MESHLAB" load "http://127.0.0.1:$silent_port/" -n 1 -c 1 --timeout 100ms -o json > "$tmp/j2.out" 2>&1
check "-o json counts code -1" \
  'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"codes\"]=={\"-1\": 1} and d[\"errors\"]==1" "$tmp/j2.out"' \
  "$(cat "$tmp/j2.out")"

# ---- exit codes ----
bad() { # bad NAME EXPECTED_STDERR ARGS...: exit 2 and a message naming the flag
  local name=$1 want=$2
  shift 2
  "$MESHLAB" load "$@" > /dev/null 2> "$tmp/bad.err"
  local rc=$?
  check "$name" '[ $rc = 2 ] && grep -qF -- "$want" "$tmp/bad.err"' "exit $rc: $(cat "$tmp/bad.err")"
}
bad "--qps that is not a number is exit 2" '--qps: "fast" is not a rate' --qps fast "http://$listen/"
bad "--connections 0 is exit 2" '--connections: "0"' -c 0 "http://$listen/"
bad "--duration without a unit is exit 2" '--duration: "5" is not a duration with a unit' --duration 5 "http://$listen/"
bad "--duration with --requests is exit 2" '--duration and --requests' --duration 1s -n 5 "http://$listen/"
bad "-H without a colon is exit 2" '-H: "nocolon" is not a header in the form "name: value"' -H nocolon "http://$listen/"
bad "an unknown flag is exit 2" 'unknown flag "--nope"' --nope "http://$listen/"
bad "https is exit 2" 'https is not supported' "https://$listen/"
bad "a service name without --from is exit 2" 'add --from WORKLOAD' "http://reviews:9080/"
bad "-o yaml is exit 2" '-o: "yaml"' -o yaml "http://$listen/"

"$MESHLAB" load "http://127.0.0.1:$dead_port/" -n 3 > /dev/null 2> "$tmp/e1.err"
rc=$?
check "nothing to connect to is exit 1, saying where" \
  '[ $rc = 1 ] && grep -q "cannot connect to 127.0.0.1:$dead_port: connection refused" "$tmp/e1.err"' \
  "exit $rc: $(cat "$tmp/e1.err")"

# ---- --from ----
MESHLAB_HOME="$tmp/nolab" XDG_STATE_HOME="$tmp/nostate" "$MESHLAB" load "http://reviews:9080/" --from sleep \
  > /dev/null 2> "$tmp/f1.err"
rc=$?
check "--from without a lab is exit 3 with CLI.md's message" \
  '[ $rc = 3 ] && [ "$(cat "$tmp/f1.err")" = "no lab is running (start one with: meshlab up)" ]' \
  "exit $rc: $(cat "$tmp/f1.err")"
# A lab state folder as the lab writes it: a live supervisor pid and each replica's outbound.
mkdir -p "$tmp/lab/replicas/sleep-0" "$tmp/lab/replicas/sleep-1" "$tmp/lab/replicas/sleep-v2-0"
echo $$ > "$tmp/lab/pid"
echo "$listen" > "$tmp/lab/replicas/sleep-0/outbound"
echo "127.0.0.1:$dead_port" > "$tmp/lab/replicas/sleep-1/outbound"
"$MESHLAB" load "http://127.0.0.1:$origin_port/hello.txt" --from sleep --lab-dir "$tmp/lab" -n 4 --qps 100 > "$tmp/f2.out" 2>&1
rc=$?
check "--from WORKLOAD goes through its first replica's outbound listener" \
  '[ $rc = 0 ] && grep -q "^Sending through the sidecar of sleep-0 (outbound $listen)$" "$tmp/f2.out" &&
   [ "$(tail -n1 "$tmp/f2.out")" = "Code 200 : 4 (100.0 %)" ]' "exit $rc: $(cat "$tmp/f2.out")"
MESHLAB_HOME="$tmp/lab" "$MESHLAB" load "http://127.0.0.1:$origin_port/" --from sleep-1 -n 1 > /dev/null 2> "$tmp/f3.err"
rc=$?
check "--from REPLICA picks that replica (\$MESHLAB_HOME finds the lab)" \
  '[ $rc = 1 ] && grep -q "cannot connect to 127.0.0.1:$dead_port: .*sleep-1" "$tmp/f3.err"' "exit $rc: $(cat "$tmp/f3.err")"
"$MESHLAB" load "http://127.0.0.1:$origin_port/" --from nosuch --lab-dir "$tmp/lab" -n 1 > /dev/null 2> "$tmp/f4.err"
rc=$?
check "--from an unknown workload is exit 1 naming it" '[ $rc = 1 ] && grep -q -- "--from nosuch: no such workload" "$tmp/f4.err"' \
  "exit $rc: $(cat "$tmp/f4.err")"

tap_finish
