#!/usr/bin/env bash
# The telemetry sink end to end (docs/telemetry.md, "The telemetry sink"): a lab on Bookinfo
# with Istio's destination-rule-all.yaml and virtual-service-reviews-50-v3.yaml applied; 4 s of
# `meshlab load` through the ingress; then the lab's /v1/metrics for reviews (as its callers
# count it) shows traffic, every request a success, and v1/v3 sharing it about half and half;
# /v1/requests has sampled records; the journal has config and replica events; idle sidecars
# report nothing; `meshlab top` prints reviews. Then the clusters' state: Istio's httpbin and
# fortio samples, the circuit-breaking DestinationRule of Istio's task on httpbin, a burst of
# `meshlab load --from fortio-deploy`; /v1/clusters shows fortio's httpbin cluster with its limits
# and pending overflows, the journal an overflow event, `proxy-config clusters` the breakers;
# with outlierDetection and httpbin failing, the ejection and (with no request after it) the
# return reach /v1/clusters and the journal; then the sidecars go quiet.
# Own temp lab folder, OS-assigned ingress ports, its own pod address range (127.1.150-179); the
# trap stops the lab.
set -u
MESHLAB=${MESHLAB_BIN:?MESHLAB_BIN must name the meshlab binary}
tmp=$(mktemp -d)
lab=$tmp/lab
L=(--lab-dir "$lab")
cleanup() {
  "$MESHLAB" down "${L[@]}" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/tap.sh"

need_conformance istio/bookinfo-networking/destination-rule-all.yaml \
  istio/bookinfo-networking/virtual-service-reviews-50-v3.yaml
networking=$conf/istio/bookinfo-networking

"$MESHLAB" up --detach "${L[@]}" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 \
  --addresses "127.1.$(( (RANDOM % 30) + 150 )).0/24" --seed 11 --wait 20s > "$tmp/up.out" 2>&1
rc=$?
check "up --detach exits 0" '[ $rc = 0 ]' "$(cat "$tmp/up.out")"
[ $rc = 0 ] || tap_finish
ingress=$(cat "$lab/ingress")
api=$(cat "$lab/api")

"$MESHLAB" apply "${L[@]}" -f bookinfo-gateway -f "$networking/destination-rule-all.yaml" \
  -f "$networking/virtual-service-reviews-50-v3.yaml" > "$tmp/apply.out" 2>&1
rc=$?
check "apply bookinfo-gateway, destination-rule-all, virtual-service-reviews-50-v3" '[ $rc = 0 ]' \
  "$(cat "$tmp/apply.out")"
# every sidecar on the new config before the load
for _ in $(seq 100); do
  curl -sf "http://$api/v1/ready" >/dev/null && break
  sleep 0.1
done

"$MESHLAB" load "http://$ingress/productpage" --qps 50 --duration 4s -o json > "$tmp/load.json" 2> "$tmp/load.err"
rc=$?
check "meshlab load: 4 s at 50 qps through the ingress" '[ $rc = 0 ]' "$(cat "$tmp/load.json" "$tmp/load.err")"

metrics() {
  curl -sf "http://$api/v1/metrics?window=10s&destination_service=reviews.default.svc.cluster.local&reporter=source"
}
# Reports leave a sidecar 250 ms after its traffic: wait a bounded time for them.
verdict=
for _ in $(seq 30); do
  metrics > "$tmp/metrics.json"
  verdict=$(python3 - "$tmp/metrics.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
share = d["share_by_destination_version"]
problems = []
if not d["rate_rps"] > 0: problems.append("rate %s" % d["rate_rps"])
if d["success_ratio"] != 1.0: problems.append("success %s" % d["success_ratio"])
for v in ("v1", "v3"):
    if not 0.3 <= share.get(v, 0) <= 0.7: problems.append("%s share %s" % (v, share.get(v)))
if set(share) - {"v1", "v3"}: problems.append("other versions %s" % sorted(share))
for k in ("p50", "p90", "p99"):
    if not d["latency_ms"][k] > 0: problems.append("latency %s" % k)
if d["by_response_code"] != {"200": d["requests"]}: problems.append("codes %s" % d["by_response_code"])
print("; ".join(problems) or "ok")
PY
)
  [ "$verdict" = ok ] && break
  sleep 0.2
done
check "/v1/metrics for reviews (reporter=source): rate > 0, success 1.0, v1 and v3 each 0.5 +- 0.2, latencies" \
  '[ "$verdict" = ok ]' "$verdict: $(cat "$tmp/metrics.json")"

curl -sf "http://$api/v1/metrics?window=2x" >/dev/null; rc=$?
check "/v1/metrics refuses a malformed window" '[ $rc != 0 ]'

curl -sf "http://$api/v1/requests?limit=50" > "$tmp/requests.json"
check "/v1/requests: at most 50 sampled records with id, method, path, code, duration, upstream" \
  'python3 - "$tmp/requests.json" <<PY
import json, sys
d = json.load(open(sys.argv[1]))
assert 0 < len(d) <= 50, len(d)
for r in d:
    for k in ("request_id", "time_ms", "method", "path", "authority", "response_code", "response_flags",
              "duration_ms", "upstream_host", "node", "reporter"):
        assert k in r, (k, r)
assert any(r["path"] == "/productpage" for r in d) or any(r["path"].startswith("/reviews") for r in d), d
PY' "$(head -c 2000 "$tmp/requests.json")"

check "the journal is JSON lines with a timestamp" \
  'python3 -c "
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert \"ts\" in e and \"event\" in e, e
" "$lab/journal"' "$(head -5 "$lab/journal")"
for ev in config_pushed config_acked replica_started process_running apply rate; do
  check "the journal has $ev events" 'grep -q "\"event\":\"$ev\"" "$lab/journal"' "$(tail -5 "$lab/journal")"
done

# Idle sidecars send nothing: once the last reports are in, the count stays put.
reports() { curl -sf "http://$api/v1/metrics?window=1s" | python3 -c "import json,sys; print(json.load(sys.stdin)['reports_received'])"; }
sleep 1
r1=$(reports); sleep 1.5; r2=$(reports)
check "idle sidecars send no reports" '[ -n "$r1" ] && [ "$r1" = "$r2" ]' "reports $r1 then $r2"

out=$("$MESHLAB" top "${L[@]}" --window 30s 2>&1); rc=$?
check "meshlab top prints reviews with its versions" \
  '[ $rc = 0 ] && echo "$out" | grep -q "^reviews.default.svc.cluster.local .*v1 .*v3 "' "$out"
out=$("$MESHLAB" top "${L[@]}" --window 30s -o json 2>&1); rc=$?
check "meshlab top -o json has one summary per service" \
  '[ $rc = 0 ] && echo "$out" | python3 -c "
import json, sys
d = json.load(sys.stdin)
assert any(s[\"destination_service\"] == \"reviews.default.svc.cluster.local\" for s in d[\"services\"]), d
"' "$out"

# ---- the clusters' state: circuit breaking reported to the lab ----
samples=$conf/istio
"$MESHLAB" apply "${L[@]}" -f "$samples/samples-httpbin/httpbin.yaml" -f "$samples/samples-clients/fortio-deploy.yaml" \
  > "$tmp/apply2.out" 2>&1
rc=$?
check "apply Istio's httpbin and fortio samples" '[ $rc = 0 ]' "$(cat "$tmp/apply2.out")"
until_ok 15 '[ "$("$MESHLAB" exec fortio-deploy "${L[@]}" -- curl -s -m 5 -o /dev/null -w "%{http_code}" http://httpbin:8000/get)" = 200 ]'
check "fortio reaches httpbin through its sidecar" '[ $? = 0 ]'
circuit_breaking_dr > "$tmp/cb.yaml"
"$MESHLAB" apply "${L[@]}" -f "$tmp/cb.yaml" > "$tmp/apply3.out" 2>&1
rc=$?
check "apply the circuit-breaking DestinationRule on httpbin" '[ $rc = 0 ]' "$(cat "$tmp/apply3.out")"
admin_clusters() { curl -s -m 5 "http://$(cat "$lab/replicas/fortio-deploy-0/admin")/clusters"; }
httpbin_cluster="outbound|8000||httpbin.default.svc.cluster.local"
until_ok 5 'admin_clusters | grep -qx "$httpbin_cluster::default_priority::max_connections::1"'
check "fortio's sidecar runs max_connections 1 for httpbin" '[ $? = 0 ]' "$(admin_clusters | grep httpbin | head -5)"

"$MESHLAB" load --from fortio-deploy "${L[@]}" --qps 0 --connections 3 --requests 40 -o json http://httpbin:8000/get \
  > "$tmp/cb.json" 2> "$tmp/cb.err"
cluster_state() { curl -sf "http://$api/v1/clusters?node=default%2Ffortio-deploy-0"; }
verdict=
for _ in $(seq 15); do
  cluster_state > "$tmp/clusters.json"
  verdict=$(python3 - "$tmp/clusters.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
callers = d["callers"]
if [c["node"] for c in callers] != ["default/fortio-deploy-0"]:
    print("callers %s" % [c["node"] for c in callers]); sys.exit()
cs = [c for c in callers[0]["clusters"] if c["service"] == "httpbin.default.svc.cluster.local"]
if not cs:
    print("no httpbin cluster"); sys.exit()
c = cs[0]
problems = []
if c["name"] != "outbound|8000||httpbin.default.svc.cluster.local": problems.append("name %s" % c["name"])
if c["direction"] != "outbound": problems.append("direction")
if c["limits"]["max_connections"] != 1: problems.append("max_connections %s" % c["limits"]["max_connections"])
if c["limits"]["max_pending_requests"] != 1: problems.append("max_pending_requests")
if c["limits"]["max_requests_per_connection"] != 1: problems.append("max_requests_per_connection")
if not c["upstream_rq_pending_overflow"] > 0: problems.append("no pending overflow yet")
if not 0 <= c["reported_ms"] < 60000: problems.append("reported_ms %s" % c["reported_ms"])
if c["outlier"]["enabled"]: problems.append("outlier enabled")
hosts = c["hosts"]
if len(hosts) != 1 or not hosts[0]["replica"].startswith("httpbin-") or hosts[0]["health"] != "healthy" \
   or hosts[0]["ejected"] or not hosts[0]["rq_total"] > 0:
    problems.append("hosts %s" % hosts)
for k in ("cx_active", "rq_pending_active", "rq_active", "rq_retry_active", "upstream_cx_overflow",
          "upstream_rq_retry_overflow"):
    if k not in c: problems.append("no %s" % k)
print("; ".join(problems) or "ok")
PY
)
  [ "$verdict" = ok ] && break
  sleep 0.2
done
check "/v1/clusters?node=default/fortio-deploy-0: httpbin's cluster with max_connections 1 and pending overflows" \
  '[ "$verdict" = ok ]' "$verdict: $(head -c 3000 "$tmp/clusters.json"); load: $(head -c 300 "$tmp/cb.json")"
none=$(curl -sf "http://$api/v1/clusters?service=nope.default.svc.cluster.local" |
  python3 -c "import json,sys; print(json.load(sys.stdin)['callers'])")
check "/v1/clusters?service= filters by destination service" '[ "$none" = "[]" ]' "$none"
check "the journal has an overflow event for fortio's httpbin cluster" \
  'grep "\"event\":\"overflow\"" "$lab/journal" | grep "\"replica\":\"default/fortio-deploy-0\"" |
     grep -q "\"counter\":\"upstream_rq_pending_overflow\""' "$(grep overflow "$lab/journal" | tail -3)"
out=$("$MESHLAB" proxy-config clusters fortio-deploy-0 "${L[@]}" 2>&1); rc=$?
cb_row() { awk -v c="$httpbin_cluster" '$1 == c && $2 ~ /\/1$/ && $3 ~ /\/1$/ && $6 + $7 > 0 { print }'; }
check "proxy-config clusters: httpbin's breakers (CX a/1, PENDING a/1, overflows)" \
  '[ $rc = 0 ] && echo "$out" | grep -q "^CLUSTER .* CX .* PENDING .* EJECTED" && [ -n "$(echo "$out" | cb_row)" ]' \
  "$out"
# ---- an ejection reaches the lab, and so does the return, with no request after it ----
cat > "$tmp/od.yaml" <<'EOF'
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 3
      interval: 1s
      baseEjectionTime: 6s
      maxEjectionPercent: 100
EOF
"$MESHLAB" apply "${L[@]}" -f "$tmp/od.yaml" > "$tmp/apply4.out" 2>&1
rc=$?
check "apply an outlierDetection DestinationRule on httpbin (3 errors, 1 s interval, 6 s ejection)" '[ $rc = 0 ]' \
  "$(cat "$tmp/apply4.out")"
until_ok 5 'admin_clusters | grep -qx "$httpbin_cluster::outlier::consecutive_5xx_threshold::3"'
"$MESHLAB" chaos httpbin "${L[@]}" --error-rate 1 --code 503 > "$tmp/chaos.out" 2>&1
check "chaos: httpbin answers 503" '[ $? = 0 ]' "$(cat "$tmp/chaos.out")"
"$MESHLAB" load --from fortio-deploy "${L[@]}" --qps 0 --connections 1 --requests 5 -o json http://httpbin:8000/get \
  > "$tmp/od.json" 2> "$tmp/od.err"
"$MESHLAB" chaos httpbin "${L[@]}" --clear > /dev/null 2>&1
host_field() {
  cluster_state | python3 -c "
import json, sys
d = json.load(sys.stdin)
c = [c for k in d['callers'] for c in k['clusters'] if c['service'] == 'httpbin.default.svc.cluster.local'][0]
print(c['hosts'][0]['$1'])" 2>/dev/null
}
until_ok 3 '[ "$(host_field health)" = ejected ]'
check "/v1/clusters: fortio's sidecar ejected httpbin's host" '[ $? = 0 ]' "$(cluster_state | head -c 3000)"
left=$(host_field ejection_remaining_ms)
check "/v1/clusters: the ejection counts down (0 < ejection_remaining_ms <= 6000)" \
  '[ "${left:-0}" -gt 0 ] && [ "$left" -le 6000 ]' "ejection_remaining_ms $left"
check "the journal has host_ejected for httpbin's host, by fortio" \
  'grep "\"event\":\"host_ejected\"" "$lab/journal" | grep "\"replica\":\"default/fortio-deploy-0\"" |
     grep -q "\"host_replica\":\"httpbin-0\""' "$(grep host_ "$lab/journal" | tail -3)"
# no request follows: the sweep's return alone must reach the lab
until_ok 14 'grep -q "\"event\":\"host_returned\".*\"host_replica\":\"httpbin-0\"" "$lab/journal"'
check "the return reaches the lab without a request: host_returned in the journal" '[ $? = 0 ]' \
  "$(grep host_ "$lab/journal" | tail -3)"
until_ok 3 '[ "$(host_field health)" = healthy ]'
check "/v1/clusters: httpbin's host healthy again, times_ejected 1" '[ $? = 0 ] && [ "$(host_field times_ejected)" = 1 ]' \
  "$(cluster_state | head -c 3000)"

sleep 1
r1=$(reports); sleep 1.5; r2=$(reports)
check "with no host ejected any more, the sidecars go quiet again" '[ -n "$r1" ] && [ "$r1" = "$r2" ]' \
  "reports $r1 then $r2"

"$MESHLAB" down "${L[@]}" >/dev/null 2>&1
tap_finish
