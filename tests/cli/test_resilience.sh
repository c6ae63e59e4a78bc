#!/usr/bin/env bash
# Traffic resilience end to end, on a running lab with Istio's own YAML (docs/resilience/README.md):
#  - Istio's circuit-breaking task: httpbin behind maxConnections 1, http1MaxPendingRequests 1,
#    maxRequestsPerConnection 1; `meshlab load --from fortio-deploy` with 2, then 3 connections
#    gets both 200s and 503 UO, more UO with 3; the caller's /clusters shows the overflow;
#  - retries: with one of three httpbin replicas answering 503, Istio's default retry policy
#    (503 retried on another host) keeps every request whole;
#  - outlier detection: that replica is ejected by the calling sidecar after
#    consecutive5xxErrors, only there (another caller's sidecar still counts it in), and comes
#    back after baseEjectionTime once it is healthy;
#  - Bookinfo's ratings-test-delay and ratings-test-abort files do what Istio's fault-injection
#    task says for jason; a 0.5 s route timeout on reviews with a 2 s delay on ratings answers
#    in about 1 s (Istio's request-timeouts task).
# Assertions use margins, never exact counts: the machine may be busy. The lab runs in a temp
# folder on OS-assigned ingress ports and its own pod addresses (127.1.205.0/24); the trap stops it.
# shellcheck disable=SC2016,SC2034  # check() evals its single-quoted condition, which reads these variables
set -u
MESHLAB=${MESHLAB_BIN:?MESHLAB_BIN must name the meshlab binary}
tmp=$(mktemp -d)
lab=$tmp/lab
cleanup() {
  "$MESHLAB" down --lab-dir "$lab" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/tap.sh"
L=(--lab-dir "$lab")

need_conformance istio/bookinfo-networking istio/samples-httpbin/httpbin.yaml istio/samples-clients/fortio-deploy.yaml
net=$conf/istio/bookinfo-networking

"$MESHLAB" up --detach "${L[@]}" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 \
  --addresses 127.1.205.0/24 --seed 5 --wait 20s > "$tmp/up.out" 2>&1
rc=$?
check "up --detach" '[ $rc = 0 ]' "$(cat "$tmp/up.out")"
[ $rc = 0 ] || tap_finish
ingress=$(cat "$lab/ingress")

apply() { "$MESHLAB" apply "${L[@]}" "$@" > "$tmp/apply.out" 2>&1; }
# clusters REPLICA: the replica's sidecar admin /clusters.
clusters() { curl -s -m 5 "http://$(cat "$lab/replicas/$1/admin")/clusters"; }
# stat REPLICA CLUSTER_SUFFIX_PATTERN STAT: the value of one /clusters line (first match).
stat() { clusters "$1" | awk -F'::' -v c="$2" -v s="$3" '$1 ~ c && $(NF-1) == s { print $NF; exit }'; }
# load_json FILE: "codes flags" summary for diagnostics.
summary() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["requests"], d["codes"], d["flags"])' "$1"; }
flag_share() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.3f" % (d["flags"].get(sys.argv[2], 0) / max(d["requests"], 1)))' "$1" "$2"; }
code_count() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["codes"].get(sys.argv[2], 0))' "$1" "$2"; }

apply -f "$conf/istio/samples-httpbin/httpbin.yaml" -f "$conf/istio/samples-clients/fortio-deploy.yaml" \
  -f "$conf/istio/samples-clients/curl.yaml"
rc=$?
check "apply Istio's httpbin, fortio and curl samples" '[ $rc = 0 ]' "$(cat "$tmp/apply.out")"
until_ok 15 '[ "$("$MESHLAB" exec fortio-deploy "${L[@]}" -- curl -s -m 5 -o /dev/null -w "%{http_code}" http://httpbin:8000/get)" = 200 ]'
check "fortio reaches httpbin through its sidecar" '[ $? = 0 ]'

# ---- circuit breaking (Istio's task, its DestinationRule) ----
circuit_breaking_dr > "$tmp/cb.yaml"
apply -f "$tmp/cb.yaml"
check "apply the circuit-breaking DestinationRule" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
until_ok 5 '[ "$(stat fortio-deploy-0 "outbound\\|8000\\|\\|httpbin" max_connections)" = 1 ]'
check "fortio's sidecar has max_connections 1 for httpbin (/clusters)" '[ $? = 0 ]' "$(clusters fortio-deploy-0 | grep httpbin | head -20)"
# Istio's task: /get with 2 and then 3 connections, each answer a few milliseconds.
for c in 2 3; do
  "$MESHLAB" load --from fortio-deploy "${L[@]}" --qps 0 --connections $c --requests 60 -o json \
    http://httpbin:8000/get > "$tmp/cb$c.json" 2> "$tmp/cb$c.err"
done
echo "# 2 connections: $(summary "$tmp/cb2.json")"
echo "# 3 connections: $(summary "$tmp/cb3.json")"
check "2 connections: both 200 and 503 UO" \
  '[ "$(code_count "$tmp/cb2.json" 200)" -gt 0 ] && [ "$(code_count "$tmp/cb2.json" 503)" -gt 0 ] && python3 -c "import sys; assert float(sys.argv[1]) > 0" $(flag_share "$tmp/cb2.json" UO)' \
  "$(cat "$tmp/cb2.json" "$tmp/cb2.err")"
check "3 connections: both 200 and 503 UO" \
  '[ "$(code_count "$tmp/cb3.json" 200)" -gt 0 ] && python3 -c "import sys; assert float(sys.argv[1]) > 0" $(flag_share "$tmp/cb3.json" UO)' \
  "$(cat "$tmp/cb3.json" "$tmp/cb3.err")"
# "More 503s with 3 connections", measured where the answer is not lost in timing: the same
# limits with keep-alive (no maxRequestsPerConnection), a warm pooled connection, and answers
# that take 50 ms. With 2 connections one request holds the pooled connection and the other
# waits in the pending queue: nothing overflows. With 3 the third finds the queue full, again and
# again. (With maxRequestsPerConnection 1, as in the task above, every request opens a new mTLS
# connection and waits as pending while it connects; a closed-loop client then spins on UO
# answers at a rate set by the machine's speed, and the two shares say little.)
sed '/maxRequestsPerConnection/d' "$tmp/cb.yaml" > "$tmp/cb-keepalive.yaml"
apply -f "$tmp/cb-keepalive.yaml"
until_ok 5 '[ "$(stat fortio-deploy-0 "outbound\\|8000\\|\\|httpbin" max_requests_per_connection)" = 0 ]'
for c in 2 3; do
  "$MESHLAB" load --from fortio-deploy "${L[@]}" --qps 0 --connections 1 --requests 2 http://httpbin:8000/get \
    > /dev/null 2>&1 # warms the pool: one idle connection
  "$MESHLAB" load --from fortio-deploy "${L[@]}" --qps 0 --connections $c --requests 40 -o json \
    http://httpbin:8000/delay/0.05 > "$tmp/cbd$c.json" 2> "$tmp/cbd$c.err"
done
uo2=$(flag_share "$tmp/cbd2.json" UO) uo3=$(flag_share "$tmp/cbd3.json" UO)
echo "# keep-alive, /delay/0.05, 2 connections: $(summary "$tmp/cbd2.json"); 3 connections: $(summary "$tmp/cbd3.json")"
check "3 connections: more 503 UO than with 2 (the pending queue holds one, not two)" \
  'python3 -c "import sys; assert float(sys.argv[2]) > float(sys.argv[1])" $uo2 $uo3' \
  "uo share: 2 connections $uo2, 3 connections $uo3"
ovf=$(stat fortio-deploy-0 "outbound\\|8000\\|\\|httpbin" upstream_rq_pending_overflow)
check "fortio's /clusters counts upstream_rq_pending_overflow" '[ "${ovf:-0}" -gt 0 ]' "$(clusters fortio-deploy-0 | grep httpbin | head -30)"
out=$(curl -s -m 5 -D - -o /dev/null "http://$(cat "$lab/replicas/fortio-deploy-0/outbound")" 2>&1; true)
"$MESHLAB" delete "${L[@]}" destinationrule httpbin > /dev/null 2>&1

# ---- retries and outlier detection ----
"$MESHLAB" scale httpbin "${L[@]}" --replicas 3 > "$tmp/scale.out" 2>&1
until_ok 15 '[ "$("$MESHLAB" status -o json "${L[@]}" | python3 -c "import json,sys; print(sum(1 for r in json.load(sys.stdin)[\"replicas\"] if r[\"name\"].startswith(\"httpbin-\") and r[\"app\"] == \"running\"))")" = 3 ]'
check "scale httpbin to 3 replicas" '[ $? = 0 ]' "$(cat "$tmp/scale.out")"
until_ok 10 '[ "$(clusters fortio-deploy-0 | grep -c "^outbound|8000||httpbin.default.svc.cluster.local::[0-9.]*:[0-9]*::rq_total::")" = 3 ]'
bad_addr=$(grep -h . "$lab/replicas/httpbin-2/address" 2>/dev/null || true)
"$MESHLAB" chaos httpbin-2 "${L[@]}" --error-rate 1 --code 503 > "$tmp/chaos.out" 2>&1
check "chaos: httpbin-2 answers 503" '[ $? = 0 ]' "$(cat "$tmp/chaos.out")"
"$MESHLAB" load --from fortio-deploy "${L[@]}" --qps 0 --connections 1 --requests 30 -o json http://httpbin:8000/get \
  > "$tmp/retry.json" 2> "$tmp/retry.err"
echo "# default retries, one bad replica of 3: $(summary "$tmp/retry.json")"
check "Istio's default retry policy (503 on another host) keeps every request whole" \
  '[ "$(code_count "$tmp/retry.json" 200)" = 30 ]' "$(cat "$tmp/retry.json" "$tmp/retry.err")"

# The decision trace of a retried request: `meshlab why` shows both tries and why. A request
# whose JSON trace shows the retry is then explained in text at once; the text must say the same.
# (Under a fully loaded 2-core ASan run the text answer, asked a second later, once came without
# the caller's record: a proxy's admin that does not answer within 1.5 s is left out with a
# warning. A mismatch is reported below, warnings included, and the search goes on with the next
# request. An answer that never explains a retry fails.)
why_id= traced_id= out=
explains() {
  echo "$1" | grep -q "try 1 .*httpbin-2.* 503 .*retry in .*retriable-status-codes" && echo "$1" | grep -q "try 2 .* 200 "
}
for i in $(seq 1 30); do
  "$MESHLAB" exec fortio-deploy "${L[@]}" -- curl -s -m 5 -o /dev/null -H "x-request-id: retry-$i" http://httpbin:8000/get
  "$MESHLAB" why "retry-$i" "${L[@]}" -o json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
out = [r for r in d["records"] if r["proxy"] == "fortio-deploy-0"][0]
a = out["attempts"]
assert len(a) == 2 and a[0]["status"] == 503 and a[0]["next"] == "retry" and a[1]["status"] == 200, a
assert a[0]["replica"] == "httpbin-2" and a[1]["replica"] != "httpbin-2", a
' 2>/dev/null || continue
  traced_id=retry-$i
  out=$("$MESHLAB" why "retry-$i" "${L[@]}" 2>&1)
  if explains "$out"; then why_id=retry-$i; break; fi
  echo "# retry-$i: the JSON trace shows the retry, the text answer does not:"
  echo "$out" | grep -E ' → |^request |^warning: ' | sed 's/^/#   /'
done
check "a request that met httpbin-2 first: its trace has try 1 = 503 from httpbin-2, retried, try 2 = 200 elsewhere" \
  '[ -n "$traced_id" ]' "$("$MESHLAB" why retry-1 "${L[@]}" 2>&1 | head -20)"
check "meshlab why explains it: the 503, the retry on another host, the 200" '[ -n "$why_id" ]' \
  "$out
(lab events since up: $(grep -E 'exited|restart' "$lab/lab.log" | tail -8))"

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
apply -f "$tmp/od.yaml"
check "apply an outlierDetection DestinationRule (3 errors, 1 s interval, 6 s base ejection)" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
until_ok 5 'clusters fortio-deploy-0 | grep -q "httpbin.*::outlier::consecutive_5xx_threshold::3"'
# Retries off for this part, so each request is one try and the counts are the detector's.
cat > "$tmp/noretry.yaml" <<'EOF'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: httpbin
spec:
  hosts: [httpbin]
  http:
  - route:
    - destination: {host: httpbin}
    retries: {attempts: 0}
EOF
apply -f "$tmp/noretry.yaml"
"$MESHLAB" load --from fortio-deploy "${L[@]}" --qps 0 --connections 1 --requests 40 -o json http://httpbin:8000/get \
  > "$tmp/od.json" 2> "$tmp/od.err"
n503=$(code_count "$tmp/od.json" 503)
echo "# outlier detection, retries off: $(summary "$tmp/od.json")"
bad=$(clusters fortio-deploy-0 | awk -F'::' '$1 ~ /^outbound\|8000\|\|httpbin/ && $3 == "ejected" && $4 == "true" { print $2 }')
check "the failing replica is ejected by fortio's sidecar (ejected::true, /failed_outlier_check)" \
  '[ -n "$bad" ] && clusters fortio-deploy-0 | grep -q "::$bad::health_flags::/failed_outlier_check"' \
  "$(clusters fortio-deploy-0 | grep -E "httpbin.*(ejected|health_flags|consecutive|outlier)")"
check "after 3 consecutive 503s the rest go to the other replicas: 3 to 6 of 40 are 503" \
  '[ "$n503" -ge 3 ] && [ "$n503" -le 6 ]' "$(cat "$tmp/od.json")"
curl_bad=$(clusters curl-0 | awk -F'::' '$1 ~ /^outbound\|8000\|\|httpbin/ && $3 == "ejected" && $4 == "true"' | wc -l)
check "ejection is per caller: curl's sidecar ejects nothing" '[ "$curl_bad" = 0 ]' "$(clusters curl-0 | grep -E "httpbin.*ejected")"
"$MESHLAB" chaos httpbin-2 "${L[@]}" --clear > /dev/null 2>&1
until_ok 14 '[ -n "$bad" ] && clusters fortio-deploy-0 | grep -q "::$bad::ejected::false"'
check "healthy again, it comes back after baseEjectionTime (6 s, at a 1 s sweep)" '[ $? = 0 ]' \
  "$(clusters fortio-deploy-0 | grep -E "httpbin.*(ejected|ejection)")"
# Deleting the rule while a host is ejected brings it back at once (a new detector, as Envoy
# builds a new cluster), rather than leaving it out with nothing to return it.
"$MESHLAB" chaos httpbin-2 "${L[@]}" --error-rate 1 --code 503 > /dev/null 2>&1
"$MESHLAB" load --from fortio-deploy "${L[@]}" --qps 0 --connections 1 --requests 20 -o json http://httpbin:8000/get \
  > /dev/null 2>&1
"$MESHLAB" chaos httpbin-2 "${L[@]}" --clear > /dev/null 2>&1
ejected_before=$(clusters fortio-deploy-0 | grep -c "httpbin.*::health_flags::/failed_outlier_check")
"$MESHLAB" delete "${L[@]}" destinationrule httpbin > /dev/null 2>&1
until_ok 3 '[ "$(clusters fortio-deploy-0 | grep -c "httpbin.*::health_flags::/failed_outlier_check")" = 0 ]'
check "deleting the DestinationRule while a host is ejected puts it back at once" \
  '[ $? = 0 ] && [ "$ejected_before" = 1 ]' "ejected before the delete: $ejected_before; $(clusters fortio-deploy-0 | grep -E "httpbin.*health_flags")"
"$MESHLAB" delete "${L[@]}" virtualservice httpbin > /dev/null 2>&1

# ---- Bookinfo fault injection (Istio's task) ----
apply -f "$net/bookinfo-gateway.yaml" -f "$net/destination-rule-all.yaml" -f "$net/virtual-service-all-v1.yaml" \
  -f "$net/virtual-service-reviews-test-v2.yaml"
check "apply Bookinfo's gateway, destination rules, all-v1 and reviews-test-v2" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
# page USER: fetches /productpage through the ingress as USER (login cookie); prints seconds.
page() {
  rm -f "$tmp/jar"
  [ -n "$1" ] && curl -s -m 5 -c "$tmp/jar" -o /dev/null -d "username=$1&passwd=x" "http://$ingress/login"
  curl -s -m 20 -b "$tmp/jar" -o "$tmp/page.html" -w '%{time_total}' "http://$ingress/productpage"
}
until_ok 10 'page jason >/dev/null && grep -q "glyphicon-star" "$tmp/page.html"'
check "jason sees reviews v2 (black stars) before any fault" '[ $? = 0 ]'
apply -f "$net/virtual-service-ratings-test-delay.yaml"
sleep 0.5
t=$(page jason)
echo "# ratings-test-delay, jason: page in ${t} s"
check "ratings-test-delay: jason's page says reviews are unavailable, after about 6 s (3 s timeout + 1 retry)" \
  'grep -q "Sorry, product reviews are currently unavailable for this book." "$tmp/page.html" && python3 -c "import sys; assert 5.5 <= float(sys.argv[1]) <= 9" $t' \
  "t=$t $(grep -i -E "sorry|unavailable|error" "$tmp/page.html" | head -3)"
t=$(page "")
check "... another user is not delayed" 'python3 -c "import sys; assert float(sys.argv[1]) < 3" $t && ! grep -q "Sorry" "$tmp/page.html"' "t=$t"
apply -f "$net/virtual-service-ratings-test-abort.yaml"
sleep 0.5
t=$(page jason)
check "ratings-test-abort: jason's page says the ratings service is unavailable, quickly" \
  'grep -q "Ratings service is currently unavailable" "$tmp/page.html" && python3 -c "import sys; assert float(sys.argv[1]) < 3" $t' \
  "t=$t $(grep -i -E "ratings|unavailable" "$tmp/page.html" | head -3)"

# ---- a route timeout (Istio's request-timeouts task) ----
cat > "$tmp/timeout-setup.yaml" <<'EOF'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v2}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts: [ratings]
  http:
  - fault:
      delay:
        percentage: {value: 100}
        fixedDelay: 2s
    route:
    - destination: {host: ratings, subset: v1}
EOF
apply -f "$tmp/timeout-setup.yaml"
sleep 0.5
t=$(page "")
check "a 2 s delay on ratings: the page takes about 2 s and has ratings" \
  'python3 -c "import sys; assert 1.9 <= float(sys.argv[1]) <= 4" $t && grep -q "glyphicon-star" "$tmp/page.html"' "t=$t"
cat > "$tmp/timeout.yaml" <<'EOF'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v2}
    timeout: 0.5s
EOF
apply -f "$tmp/timeout.yaml"
sleep 0.5
t=$(page "")
echo "# reviews timeout 0.5 s, ratings delay 2 s: page in ${t} s"
check "timeout 0.5 s on reviews: the page answers in about 1 s (productpage retries once) without reviews" \
  'python3 -c "import sys; assert 0.9 <= float(sys.argv[1]) <= 1.9" $t && grep -q "Sorry, product reviews are currently unavailable" "$tmp/page.html"' \
  "t=$t $(grep -i -E "sorry|unavailable" "$tmp/page.html" | head -3)"

tap_finish
