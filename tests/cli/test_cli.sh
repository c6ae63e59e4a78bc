#!/usr/bin/env bash
# End-to-end checks of the `meshlab proxy` and `meshlab sidecar` commands as outside scripts use
# them (../shared/CLI.md): ready lines, proxying, admin paths, Prometheus format (promtool),
# access log, bad input, SIGTERM and SIGINT → drain and exit 0, admin /ready through start-up and
# drain, and every subcommand's --help. Every process started here is stopped by pid.
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

# An origin outside meshlab: python's http.server on an OS-assigned port.
start_file_origin "$tmp/www"

# ---- meshlab proxy ----
"$MESHLAB" proxy --listen 127.0.0.1:0 --upstream "127.0.0.1:$origin_port" --admin 127.0.0.1:0 \
  --access-log "$tmp/access.log" > "$tmp/proxy.out" 2> "$tmp/proxy.err" &
proxy_pid=$!
pids+=($proxy_pid)
listen=$(wait_line "$tmp/proxy.out" '^listening on ' | sed 's/^listening on //')
admin=$(wait_line "$tmp/proxy.out" '^admin on ' | sed 's/^admin on //')
check "proxy prints 'listening on' first, then 'admin on'" \
  '[ "$(sed -n 1p "$tmp/proxy.out")" = "listening on $listen" ] && [ "$(sed -n 2p "$tmp/proxy.out")" = "admin on $admin" ]'
body=$(curl -s "http://$listen/hello.txt")
check "proxies a request to the origin" '[ "$body" = "hello from the origin" ]' "got: $body"
check "admin /ready is 200 LIVE" '[ "$(curl -s -w " %{http_code}" "http://$admin/ready")" = "LIVE
 200" ]'
check "admin /server_info is JSON with state LIVE" \
  'curl -s "http://$admin/server_info" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d[\"state\"]==\"LIVE\""'
check "admin /clusters shows the inbound cluster and its host stats" \
  'curl -s "http://$admin/clusters" | grep -q "^inbound|[0-9]*||::127.0.0.1:$origin_port::rq_total::1$"'
check "admin GET /quitquitquit is refused (POST only)" \
  '[ "$(curl -s -o /dev/null -w "%{http_code}" "http://$admin/quitquitquit")" = 400 ]'
curl -s "http://$admin/stats/prometheus" > "$tmp/metrics.txt"
check "metrics count the request by code and flag" \
  'grep -q "^meshlab_requests_total{response_code=\"200\",response_flags=\"-\"} 1$" "$tmp/metrics.txt"'
check "metrics have the connection and request gauges" \
  'grep -q "^# TYPE envoy_http_downstream_cx_active gauge$" "$tmp/metrics.txt" &&
   grep -qE "^envoy_http_downstream_cx_active [0-9]+$" "$tmp/metrics.txt" &&
   grep -qE "^envoy_http_downstream_rq_active [0-9]+$" "$tmp/metrics.txt"'
check "metrics have the latency histogram with its +Inf bucket" \
  'grep -q "^# TYPE meshlab_request_duration_milliseconds histogram$" "$tmp/metrics.txt" &&
   grep -qE "^meshlab_request_duration_milliseconds_bucket\{le=\"[0-9.]+\"\} [0-9]+$" "$tmp/metrics.txt" &&
   grep -qE "^meshlab_request_duration_milliseconds_bucket\{le=\"\+Inf\"\} 1$" "$tmp/metrics.txt"'
if command -v promtool >/dev/null; then
  # promtool's naming lint flags names meshlab keeps because Envoy and Istio use them: Envoy's
  # counters without _total, and milliseconds (istio_request_duration_milliseconds). Every
  # other finding, and any format error, fails.
  promtool check metrics < "$tmp/metrics.txt" > "$tmp/promtool.out" 2>&1
  bad=$(grep -v -E '^envoy_[a-z_]+ counter metrics should have "_total" suffix$' "$tmp/promtool.out" |
        grep -v -E '^[a-z_]+_milliseconds use base unit "seconds" instead of "milliseconds"$' | grep -v '^$')
  check "promtool check metrics accepts /stats/prometheus" '[ -z "$bad" ]' "$bad"
elif [ "${CI:-}" = true ]; then
  not_ok "promtool check metrics accepts /stats/prometheus" "promtool missing (package prometheus)"
else
  echo "ok - promtool check metrics # SKIP promtool not installed"
fi
sleep 0.2
check "access log line in Envoy's default format" \
  'grep -qE "^\[[0-9T:.-]+Z\] \"GET /hello.txt HTTP/1.1\" 200 - 0 22 [0-9]+ [0-9-]+ \"-\" \"curl/[^\"]+\" \"[0-9a-f-]{36}\" \"$listen\" \"127.0.0.1:$origin_port\"$" "$tmp/access.log"' \
  "$(cat "$tmp/access.log")"
kill -TERM "$proxy_pid"
wait "$proxy_pid"
rc=$?
check "SIGTERM drains and exits 0" '[ $rc = 0 ]' "exit $rc; stderr: $(cat "$tmp/proxy.err")"

# ---- signals and /ready during a drain ----
# A slow origin: every GET is answered after 1.5 s.
cat > "$tmp/slow.py" <<'PY'
import http.server, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        time.sleep(1.5)
        body = b"slow done\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print("port", s.server_address[1], flush=True)
s.serve_forever()
PY
python3 -u "$tmp/slow.py" > "$tmp/slow.out" 2>&1 &
pids+=($!)
slow_port=$(wait_line "$tmp/slow.out" '^port ' | sed 's/^port //')
"$MESHLAB" proxy --listen 127.0.0.1:0 --upstream "127.0.0.1:$slow_port" --admin 127.0.0.1:0 \
  > "$tmp/drain.out" 2> "$tmp/drain.err" &
drain_pid=$!
pids+=($drain_pid)
dlisten=$(wait_line "$tmp/drain.out" '^listening on ' | sed 's/^listening on //')
dadmin=$(wait_line "$tmp/drain.out" '^admin on ' | sed 's/^admin on //')
curl -s -o "$tmp/slow.body" -w "%{http_code}" "http://$dlisten/slow" > "$tmp/slow.code" &
curl_pid=$!
pids+=($curl_pid)
in_flight() { curl -s "http://$dadmin/stats/prometheus" | grep -q "^envoy_http_downstream_rq_active 1$"; }
until_ok 5 in_flight
kill -TERM "$drain_pid"
draining() { [ "$(curl -s -w " %{http_code}" "http://$dadmin/ready")" = "DRAINING
 503" ]; }
check "during a drain admin /ready is 503 DRAINING" 'until_ok 2 draining' \
  "got: $(curl -s -w " %{http_code}" "http://$dadmin/ready")"
wait "$curl_pid"
check "SIGTERM lets the slow request in flight finish with 200" \
  '[ "$(cat "$tmp/slow.code")" = 200 ] && [ "$(cat "$tmp/slow.body")" = "slow done" ]' \
  "code $(cat "$tmp/slow.code"), body $(cat "$tmp/slow.body")"
wait "$drain_pid"
rc=$?
check "SIGTERM with a request in flight exits 0 once it is answered" '[ $rc = 0 ]' "exit $rc: $(cat "$tmp/drain.err")"
# SIGINT the moment the ready line is out: the handlers are installed before it.
"$MESHLAB" proxy --listen 127.0.0.1:0 --upstream "127.0.0.1:$origin_port" > "$tmp/int.out" 2> "$tmp/int.err" &
int_pid=$!
pids+=($int_pid)
wait_line "$tmp/int.out" '^listening on ' > /dev/null
kill -INT "$int_pid"
wait "$int_pid"
rc=$?
check "SIGINT drains and exits 0" '[ $rc = 0 ]' "exit $rc: $(cat "$tmp/int.err")"

# ---- bad input ----
"$MESHLAB" proxy --listen 127.0.0.1:0 --upstream nowhere > /dev/null 2> "$tmp/bad.err"
rc=$?
check "a bad --upstream is a usage error naming the flag" '[ $rc = 2 ] && grep -q -- "--upstream" "$tmp/bad.err"' \
  "exit $rc: $(cat "$tmp/bad.err")"
"$MESHLAB" proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:1 --connect-timeout 5 > /dev/null 2> "$tmp/bad.err"
rc=$?
check "a duration without a unit is refused with the expected form" \
  '[ $rc = 2 ] && grep -q "duration with a unit" "$tmp/bad.err"' "exit $rc: $(cat "$tmp/bad.err")"

# ---- meshlab sidecar ----
cat > "$tmp/bootstrap.json" <<JSON
{
  "node": {"id": "web-0", "workload": "web", "namespace": "default"},
  "admin": "127.0.0.1:0",
  "inbound": {"listen": ["127.0.0.1:0"], "app": "127.0.0.1:$origin_port"},
  "outbound": {
    "listen": "127.0.0.1:0",
    "services": [{"name": "files.default.svc.cluster.local", "port": 80,
                  "hosts": ["files", "files.default", "files.default.svc.cluster.local"],
                  "endpoints": ["127.0.0.1:$origin_port"]}]
  },
  "access_log": {"path": "$tmp/sidecar.log", "format": "istio"}
}
JSON
"$MESHLAB" sidecar --config "$tmp/bootstrap.json" > "$tmp/sidecar.out" 2> "$tmp/sidecar.err" &
sidecar_pid=$!
pids+=($sidecar_pid)
inbound=$(wait_line "$tmp/sidecar.out" '^inbound on ' | sed 's/^inbound on //')
outbound=$(wait_line "$tmp/sidecar.out" '^outbound on ' | sed 's/^outbound on //')
sadmin=$(wait_line "$tmp/sidecar.out" '^admin on ' | sed 's/^admin on //')
check "sidecar inbound forwards to its app" '[ "$(curl -s "http://$inbound/hello.txt")" = "hello from the origin" ]'
check "sidecar outbound works as http_proxy by service name" \
  '[ "$(http_proxy="http://$outbound" curl -s "http://files/hello.txt")" = "hello from the origin" ]'
check "sidecar outbound resolves the FQDN with a port" \
  '[ "$(http_proxy="http://$outbound" curl -s "http://files.default.svc.cluster.local:80/hello.txt")" = "hello from the origin" ]'
check "sidecar outbound answers 404 for an unknown service (NR)" \
  '[ "$(http_proxy="http://$outbound" curl -s -o /dev/null -w "%{http_code}" "http://nosuch/")" = 404 ]'
check "admin /config_dump shows the outbound service" \
  'curl -s "http://$sadmin/config_dump" | grep -q "files.default.svc.cluster.local"'
sleep 0.2
check "sidecar access log is in Istio's format with the NR flag and the outbound cluster" \
  'grep -q "\" 404 NR route_not_found " "$tmp/sidecar.log" && grep -q " outbound|80||files.default.svc.cluster.local " "$tmp/sidecar.log"' \
  "$(cat "$tmp/sidecar.log")"
kill -TERM "$sidecar_pid"
wait "$sidecar_pid"
rc=$?
check "sidecar exits 0 on SIGTERM" '[ $rc = 0 ]' "exit $rc: $(cat "$tmp/sidecar.err")"

# A sidecar whose control plane cannot be reached has no config: not ready.
"$MESHLAB" sidecar --xds 127.0.0.1:1 --node default/lonely-0 --address 127.0.0.1 --outbound 127.0.0.1:0 \
  --admin "unix:$tmp/lonely-admin.sock" > "$tmp/lonely.out" 2> "$tmp/lonely.err" &
lonely_pid=$!
pids+=($lonely_pid)
until_ok 5 '[ -S "$tmp/lonely-admin.sock" ]'
ready=$(curl -s --unix-socket "$tmp/lonely-admin.sock" -w " %{http_code}" http://admin/ready)
check "a sidecar without its first config answers /ready 503 PRE_INITIALIZING" '[ "$ready" = "PRE_INITIALIZING
 503" ]' "got: $ready"
kill -TERM "$lonely_pid"
wait "$lonely_pid"
rc=$?
check "a sidecar that never got a config exits 0 on SIGTERM" '[ $rc = 0 ]' "exit $rc: $(cat "$tmp/lonely.err")"

printf '{"inbound": {"listen": ["127.0.0.1:0"], "app": "127.0.0.1:1", "aap": 1}}' > "$tmp/bad.json"
"$MESHLAB" sidecar --config "$tmp/bad.json" > /dev/null 2> "$tmp/bad.err"
rc=$?
check "an unknown bootstrap field is an error naming file and field" \
  '[ $rc = 1 ] && grep -q "bad.json: inbound: unknown field \"aap\"" "$tmp/bad.err"' "exit $rc: $(cat "$tmp/bad.err")"
printf '{"inbound": {"listen": ["127.0.0.1:0"],\n "app": }}' > "$tmp/bad.json"
"$MESHLAB" sidecar --config "$tmp/bad.json" > /dev/null 2> "$tmp/bad.err"
check "a JSON syntax error names line and column" 'grep -q "bad.json:2:" "$tmp/bad.err"' "$(cat "$tmp/bad.err")"

# ---- help ----
"$MESHLAB" help > "$tmp/help.out"
rc=$?
check "meshlab help exits 0 and prints usage" '[ $rc = 0 ] && grep -q "^Usage: meshlab COMMAND" "$tmp/help.out"'
cmds=$(sed -n '/^Commands:$/,/^$/p' "$tmp/help.out" | awk 'NR > 1 && NF { print $1 }')
check "meshlab help lists the subcommands" '[ "$(echo "$cmds" | wc -l)" -ge 20 ]' "$cmds"
bad_help=""
for cmd in $cmds; do
  [ "$cmd" = help ] && continue
  out=$("$MESHLAB" "$cmd" --help 2>&1)
  rc=$?
  if [ $rc != 0 ] || ! printf '%s\n' "$out" | grep -q "^Usage: meshlab $cmd"; then bad_help="$bad_help $cmd(exit $rc)"; fi
done
check "meshlab CMD --help exits 0 and prints usage for every listed command" '[ -z "$bad_help" ]' "failing:$bad_help"

tap_finish
