#!/usr/bin/env bash
# Local rate limiting and mirroring end to end, on a running lab with Istio's own YAML
# (docs/resilience/rate-limiting.md, docs/resilience/mirroring.md):
#  - Istio's rate-limiting task: the EnvoyFilter puts a 4-token bucket (refilled every 60 s) on
#    productpage's inbound listener; of 10 requests through the ingress the first 4 are 200, the
#    rest 429 "local_rate_limited" with x-local-rate-limit: true and flag RL; `meshlab why`
#    explains a limited one; productpage's /stats counts it under Envoy's names; deleting the
#    EnvoyFilter lets requests through again;
#  - Istio's mirroring task: httpbin-v1 and httpbin-v2 behind the httpbin Service, all traffic to
#    v1 and mirrored to v2: v1 answers, v2's sidecar logs the same request ids with authority
#    httpbin-shadow:8000; v2 slow (2 s) or failing (500) never slows or fails the caller;
#    mirrorPercentage 0 mirrors nothing.
# Assertions use margins where timing matters. The lab runs in a temp folder on OS-assigned
# ingress ports and its own pod addresses (127.1.207.0/24); the trap stops it.
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

need_conformance istio/samples-clients/curl.yaml istio/bookinfo-networking/bookinfo-gateway.yaml

"$MESHLAB" up --detach "${L[@]}" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 --addresses 127.1.207.0/24 --seed 7 --wait 20s \
  > "$tmp/up.out" 2>&1
rc=$?
check "up --detach" '[ $rc = 0 ]' "$(cat "$tmp/up.out")"
[ $rc = 0 ] || tap_finish
ingress=$(cat "$lab/ingress")

apply() { "$MESHLAB" apply "${L[@]}" "$@" > "$tmp/apply.out" 2>&1; }
admin() { cat "$lab/replicas/$1/admin"; }
routing() { curl -s -m 5 "http://$(admin "$1")/config_dump?resource=routing"; }

# ---- local rate limit (Istio's rate-limiting task, its EnvoyFilter as written there) ----
apply -f "$conf/istio/bookinfo-networking/bookinfo-gateway.yaml"
check "apply Bookinfo's gateway" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
until_ok 20 '[ "$(curl -s -m 5 -o /dev/null -w "%{http_code}" "http://$ingress/productpage")" = 200 ]'
check "productpage answers through the ingress" '[ $? = 0 ]'
cat > "$tmp/ratelimit.yaml" <<'EOF'
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: filter-local-ratelimit-svc
  namespace: istio-system
spec:
  workloadSelector:
    labels:
      app: productpage
  configPatches:
    - applyTo: HTTP_FILTER
      match:
        context: SIDECAR_INBOUND
        listener:
          filterChain:
            filter:
              name: "envoy.filters.network.http_connection_manager"
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config:
            "@type": type.googleapis.com/udpa.type.v1.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            value:
              stat_prefix: http_local_rate_limiter
              token_bucket:
                max_tokens: 4
                tokens_per_fill: 4
                fill_interval: 60s
              filter_enabled:
                runtime_key: local_rate_limit_enabled
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              filter_enforced:
                runtime_key: local_rate_limit_enforced
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              response_headers_to_add:
                - append: false
                  header:
                    key: x-local-rate-limit
                    value: 'true'
EOF
apply -f "$tmp/ratelimit.yaml"
check "apply the rate-limiting task's EnvoyFilter" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
until_ok 10 'routing productpage-v1-0 | grep -q "\"local_rate_limit\""'
check "productpage's sidecar got the local rate limit (config_dump)" '[ $? = 0 ]'
codes=
for i in 1 2 3 4 5 6 7 8 9 10; do
  c=$(curl -s -m 10 -D "$tmp/h$i" -o "$tmp/b$i" -w '%{http_code}' -H "x-request-id: rl-$i" "http://$ingress/productpage")
  codes="$codes $c"
done
codes=${codes# }
echo "# codes: $codes"
check "the first 4 requests are 200, the other 6 are 429 (max_tokens 4, refilled every 60 s)" \
  '[ "$codes" = "200 200 200 200 429 429 429 429 429 429" ]' "$codes"
check "a limited answer: body local_rate_limited, x-local-rate-limit: true, flag RL" \
  '[ "$(cat "$tmp/b10")" = local_rate_limited ] && grep -qi "^x-local-rate-limit: true" "$tmp/h10" &&
   grep -qi "^x-meshlab-response-flags: RL" "$tmp/h10"' "$(cat "$tmp/h10" "$tmp/b10")"
"$MESHLAB" load "${L[@]}" --qps 0 --connections 1 --requests 5 -o json "http://$ingress/productpage" \
  > "$tmp/rl.json" 2> "$tmp/rl.err"
check "meshlab load counts 5 of 5 as 429 with flag RL" \
  'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"codes\"].get(\"429\")==5 and d[\"flags\"].get(\"RL\")==5, d" "$tmp/rl.json"' \
  "$(cat "$tmp/rl.json" "$tmp/rl.err")"
out=$("$MESHLAB" why rl-10 "${L[@]}" 2>&1)
check "meshlab why explains a limited request (productpage's inbound, empty bucket, 429 RL)" \
  'echo "$out" | grep -q "productpage-v1-0 → inbound  429 RL" && echo "$out" | grep -q "local rate limit: the token bucket is empty"' \
  "$out"
out=$("$MESHLAB" why rl-1 "${L[@]}" 2>&1)
check "meshlab why shows the token the first request took (3 left)" \
  'echo "$out" | grep -q "took a token from the bucket (3 left)"' "$out"
stats=$(curl -s -m 5 "http://$(admin productpage-v1-0)/stats")
check "productpage's /stats: http_local_rate_limiter.http_local_rate_limit.* as Envoy names them" \
  'echo "$stats" | grep -q "^http_local_rate_limiter.http_local_rate_limit.ok: 4$" &&
   echo "$stats" | grep -q "^http_local_rate_limiter.http_local_rate_limit.enforced: 11$" &&
   echo "$stats" | grep -q "^http_local_rate_limiter.http_local_rate_limit.rate_limited: 11$"' \
  "$(echo "$stats" | grep local_rate)"
prom=$(curl -s -m 5 "http://$(admin productpage-v1-0)/stats/prometheus")
check "and in Prometheus: envoy_http_local_rate_limiter_http_local_rate_limit_enforced 11" \
  'echo "$prom" | grep -q "^envoy_http_local_rate_limiter_http_local_rate_limit_enforced 11$"' \
  "$(echo "$prom" | grep local_rate)"
"$MESHLAB" delete "${L[@]}" -n istio-system envoyfilter filter-local-ratelimit-svc > "$tmp/del.out" 2>&1
check "delete the EnvoyFilter" '[ $? = 0 ]' "$(cat "$tmp/del.out")"
until_ok 10 '[ "$(curl -s -m 10 -o /dev/null -w "%{http_code}" "http://$ingress/productpage")" = 200 ]'
check "without it productpage answers 200 again" '[ $? = 0 ]'

# ---- mirroring (Istio's mirroring task: httpbin v1 and v2, everything to v1, mirrored to v2) ----
cat > "$tmp/httpbin.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpbin-v1
spec:
  replicas: 1
  selector:
    matchLabels:
      app: httpbin
      version: v1
  template:
    metadata:
      labels:
        app: httpbin
        version: v1
    spec:
      containers:
      - image: docker.io/mccutchen/go-httpbin:v2.15.0
        imagePullPolicy: IfNotPresent
        name: httpbin
        ports:
        - containerPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpbin-v2
spec:
  replicas: 1
  selector:
    matchLabels:
      app: httpbin
      version: v2
  template:
    metadata:
      labels:
        app: httpbin
        version: v2
    spec:
      containers:
      - image: docker.io/mccutchen/go-httpbin:v2.15.0
        imagePullPolicy: IfNotPresent
        name: httpbin
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: httpbin
  labels:
    app: httpbin
spec:
  ports:
  - name: http
    port: 8000
    targetPort: 8080
  selector:
    app: httpbin
EOF
cat > "$tmp/mirror.yaml" <<'EOF'
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: httpbin
spec:
  hosts:
  - httpbin
  http:
  - route:
    - destination:
        host: httpbin
        subset: v1
      weight: 100
    mirror:
      host: httpbin
      subset: v2
    mirrorPercentage:
      value: 100.0
EOF
apply -f "$tmp/httpbin.yaml" -f "$conf/istio/samples-clients/curl.yaml"
check "apply httpbin-v1, httpbin-v2, the httpbin Service and Istio's curl client" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
get() { "$MESHLAB" exec curl "${L[@]}" -- curl -s -m 10 -o "$tmp/get.out" -w '%{http_code} %{time_total}' \
  -H "x-request-id: $1" http://httpbin:8000/headers; }
until_ok 20 '[ "$(get warm | cut -d" " -f1)" = 200 ]'
check "curl reaches httpbin through its sidecar" '[ $? = 0 ]'
apply -f "$tmp/mirror.yaml"
check "apply the task's DestinationRule and mirroring VirtualService" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
until_ok 10 'routing curl-0 | grep -q "\"mirror\""'
check "curl's sidecar got the mirror route (config_dump)" '[ $? = 0 ]'
v1log() { "$MESHLAB" logs httpbin-v1-0 -c sidecar "${L[@]}" 2>/dev/null; }
v2log() { "$MESHLAB" logs httpbin-v2-0 -c sidecar "${L[@]}" 2>/dev/null; }
res=
for i in 1 2 3 4 5; do res="$res $(get "m-$i")"; done
echo "# mirrored: $res"
check "the caller gets 200 for all 5" '[ "$(echo $res | tr " " "\n" | grep -c "^200$")" = 5 ]' "$res"
until_ok 5 '[ "$(v2log | grep -c "\"m-[1-5]\" \"httpbin-shadow:8000\"")" = 5 ]'
check "v2's sidecar logs the same 5 request ids with authority httpbin-shadow:8000" '[ $? = 0 ]' "$(v2log | tail -8)"
check "v1 answered them (its sidecar logs them with authority httpbin:8000)" \
  '[ "$(v1log | grep -c "\"m-[1-5]\" \"httpbin:8000\"")" = 5 ]' "$(v1log | tail -8)"
out=$("$MESHLAB" why m-1 "${L[@]}" 2>&1)
check "meshlab why on the caller's hop says the request was mirrored to v2" \
  'echo "$out" | grep -q "mirror .*a copy went to outbound|8000|v2|httpbin"' "$out"
stats=$(curl -s -m 5 "http://$(admin curl-0)/stats")
check "curl's /stats counts the shadows (meshlab.mirror.sent)" \
  '[ "$(echo "$stats" | awk -F": " "/^meshlab.mirror.sent:/ {print \$2}")" -ge 5 ]' "$(echo "$stats" | grep mirror)"

"$MESHLAB" chaos httpbin-v2 "${L[@]}" --latency 2s > "$tmp/chaos.out" 2>&1
check "chaos: httpbin-v2 answers after 2 s" '[ $? = 0 ]' "$(cat "$tmp/chaos.out")"
res=
for i in 1 2 3 4; do res="$res $(get "slow-$i")"; done
echo "# v2 slow: $res"
check "v2 slow: the caller's requests are 200 and fast (under 1 s each)" \
  'echo $res | python3 -c "import sys; w=sys.stdin.read().split(); assert w[0::2]==[\"200\"]*4 and max(map(float, w[1::2])) < 1.0, w"' "$res"
until_ok 5 '[ "$(v2log | grep -c "\"slow-[1-4]\" \"httpbin-shadow:8000\"")" = 4 ]'
check "v2 still got the 4 shadows (after its delay)" '[ $? = 0 ]' "$(v2log | tail -6)"
"$MESHLAB" chaos httpbin-v2 "${L[@]}" --clear > /dev/null 2>&1
"$MESHLAB" chaos httpbin-v2 "${L[@]}" --error-rate 1 --code 500 > "$tmp/chaos.out" 2>&1
check "chaos: httpbin-v2 answers 500" '[ $? = 0 ]' "$(cat "$tmp/chaos.out")"
res=
for i in 1 2 3 4; do res="$res $(get "err-$i")"; done
echo "# v2 failing: $res"
check "v2 failing: the caller's requests are still 200" \
  'echo $res | python3 -c "import sys; w=sys.stdin.read().split(); assert w[0::2]==[\"200\"]*4, w"' "$res"
until_ok 5 '[ "$(v2log | grep "\"err-[1-4]\" \"httpbin-shadow:8000\"" | grep -c "\" 500 ")" = 4 ]'
check "v2's sidecar logs the 4 shadows answered 500" '[ $? = 0 ]' "$(v2log | tail -6)"
"$MESHLAB" chaos httpbin-v2 "${L[@]}" --clear > /dev/null 2>&1

sed 's/value: 100.0/value: 0/' "$tmp/mirror.yaml" > "$tmp/mirror0.yaml"
apply -f "$tmp/mirror0.yaml"
check "apply mirrorPercentage 0" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
until_ok 10 'routing curl-0 | python3 -c "
import json,sys
d=json.load(sys.stdin)
def walk(o):
    if isinstance(o, dict):
        m=o.get(\"mirror\")
        if isinstance(m, dict) and m.get(\"percentage\")==0: return True
        return any(walk(v) for v in o.values())
    if isinstance(o, list): return any(walk(v) for v in o)
    return False
sys.exit(0 if walk(d) else 1)"'
check "curl's sidecar has mirror percentage 0" '[ $? = 0 ]'
res=
for i in 1 2 3 4 5; do res="$res $(get "none-$i")"; done
sleep 0.5
check "mirrorPercentage 0: 200 for the caller, nothing reaches v2" \
  '[ "$(echo $res | tr " " "\n" | grep -c "^200$")" = 5 ] && [ "$(v2log | grep -c "\"none-")" = 0 ] &&
   [ "$(v1log | grep -c "\"none-[1-5]\"")" = 5 ]' "$res / $(v2log | tail -3)"

tap_finish
