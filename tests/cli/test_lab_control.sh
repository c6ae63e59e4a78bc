#!/usr/bin/env bash
# End-to-end checks of workload control and the inside of the mesh (../shared/CLI.md,
# docs/lab.md): exec through a sidecar, chaos (errors, latency, jitter, hang, slow start, crash,
# clear), kill (restart counted),
# scale (a new replica gets traffic), restart, logs, namespaces (the same Deployment in two:
# -n picks one, no -n is ambiguous), and exit 3 with no lab. The lab runs in its
# own temp folder, on OS-assigned ingress ports and its own pod address range; the trap stops it.
# Waits are bounded with margins: the machine may be busy. The lab runs with --seed 42, so an
# app's jitter draws are seed 42's (every app gets the lab's seed).
set -u
MESHLAB=${MESHLAB_BIN:?MESHLAB_BIN must name the meshlab binary}
tmp=$(mktemp -d)
lab=$tmp/lab
ext_pid=
cleanup() {
  [ -n "$ext_pid" ] && kill "$ext_pid" 2>/dev/null && wait "$ext_pid" 2>/dev/null
  "$MESHLAB" down --lab-dir "$lab" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/external.sh"
L=(--lab-dir "$lab")

# ---- no lab ----
for cmd in "chaos ratings-v1 --clear" "kill ratings-v1-0" "restart ratings-v1-0" "scale reviews-v1 --replicas 2" \
  "logs ratings-v1-0" "exec productpage-v1 -- true"; do
  out=$("$MESHLAB" $cmd "${L[@]}" 2>&1); rc=$?
  check "no lab: '$cmd' exits 3 with CLI.md's message" \
    '[ $rc = 3 ] && [ "$out" = "no lab is running (start one with: meshlab up)" ]' "rc=$rc out=$out"
done

# ---- a lab ----
# A pod range from 225-254, skipping 230 (test_trace_headers'; the list is in test_lab.sh).
pod_net=$(( (RANDOM % 29) + 225 )); [ $pod_net -ge 230 ] && pod_net=$((pod_net + 1))
"$MESHLAB" up --detach "${L[@]}" --seed 42 --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 \
  --addresses "127.1.$pod_net.0/24" --wait 20s > "$tmp/up.out" 2>&1
rc=$?
check "up --detach" '[ $rc = 0 ]' "$(cat "$tmp/up.out")"
[ $rc = 0 ] || { echo "1..$((passed + failed))"; exit 1; }

# in_mesh URL [curl flags]: curl through productpage's sidecar; prints "CODE TIME_MS".
in_mesh() {
  local url=$1; shift
  "$MESHLAB" exec productpage-v1 "${L[@]}" -- curl -s -m 10 -o "$tmp/body" -w '%{http_code} %{time_total}\n' "$@" "$url" |
    awk '{ printf "%s %d\n", $1, $2 * 1000 }'
}

# ---- exec ----
out=$("$MESHLAB" exec productpage-v1 "${L[@]}" -- curl -s -m 10 http://reviews:9080/reviews/0); rc=$?
check "exec productpage-v1 -- curl http://reviews:9080/reviews/0: JSON with reviews" \
  '[ $rc = 0 ] && echo "$out" | python3 -c "import json,sys; assert \"reviews\" in json.load(sys.stdin)"' "rc=$rc $out"
"$MESHLAB" exec productpage-v1 "${L[@]}" -- sh -c 'exit 7'; rc=$?
check "exec passes the command's exit code through" '[ $rc = 7 ]' "rc=$rc"
out=$("$MESHLAB" exec productpage-v1 "${L[@]}" -- sh -c 'echo "$http_proxy ${no_proxy-unset}"')
check "exec sets http_proxy to the replica's outbound listener, no_proxy unset" \
  '[ "$out" = "http://$(cat "$lab/replicas/productpage-v1-0/outbound") unset" ]' "$out"
out=$("$MESHLAB" exec nosuch "${L[@]}" -- true 2>&1); rc=$?
check "exec of an unknown workload: exit 1, naming it" '[ $rc = 1 ] && echo "$out" | grep -q "\"nosuch\""' "$rc $out"

# ---- chaos ----
out=$("$MESHLAB" chaos ratings-v1 "${L[@]}" --error-rate 1 --code 503 2>&1); rc=$?
check "chaos --error-rate 1 --code 503: one line for ratings-v1-0" \
  '[ $rc = 0 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "^ratings-v1-0: .*\"error_rate\":1"' "$out"
r=$(in_mesh http://ratings:9080/ratings/0)
check "... exec curl ratings: 503" '[ "${r% *}" = 503 ]' "$r"
out=$("$MESHLAB" chaos ratings-v1 "${L[@]}" --clear 2>&1); rc=$?
check "chaos --clear" '[ $rc = 0 ] && [ "$out" = "ratings-v1-0: chaos cleared" ]' "$out"
r=$(in_mesh http://ratings:9080/ratings/0)
check "... ratings answers 200 again" '[ "${r% *}" = 200 ]' "$r"
"$MESHLAB" chaos details "${L[@]}" --latency 300ms >/dev/null 2>&1
r=$(in_mesh http://details:9080/details/0)
check "chaos --latency 300ms on details: a request takes >= 300 ms" '[ "${r% *}" = 200 ] && [ "${r#* }" -ge 290 ]' "$r"
# Jitter: details has drawn nothing yet (no error rate, no jitter so far), so its next draws are
# seed 42's first: 150 184 237 110 334 219 346 92 ms for 200ms +- 150ms. Load only adds time,
# so a request well under 200 ms proves the jitter subtracts, one well over it that it adds.
"$MESHLAB" chaos details "${L[@]}" --latency 200ms --jitter 150ms >/dev/null 2>&1
times=
for _ in 1 2 3 4 5 6 7 8; do r=$(in_mesh http://details:9080/details/0); times="$times ${r#* }"; done
lo=$(echo $times | tr ' ' '\n' | sort -n | head -1); hi=$(echo $times | tr ' ' '\n' | sort -n | tail -1)
check "chaos --latency 200ms --jitter 150ms: durations spread both ways (one <= 160 ms, one >= 280 ms)" \
  '[ "$lo" -ge 45 ] && [ "$lo" -le 160 ] && [ "$hi" -ge 280 ]' "ms:$times"
"$MESHLAB" chaos details "${L[@]}" --clear >/dev/null 2>&1
# Hang: the request is accepted and never answered (no route timeout by default, so the caller
# waits until it gives up); --clear serves what was held and new requests answer again.
"$MESHLAB" chaos ratings-v1 "${L[@]}" --hang >/dev/null 2>&1
code=$("$MESHLAB" exec productpage-v1 "${L[@]}" -- curl -s -m 1 -o /dev/null -w '%{http_code}' \
  http://ratings:9080/ratings/0); rc=$?
check "chaos --hang: no answer (curl -m 1 times out: exit 28, code 000)" '[ $rc = 28 ] && [ "$code" = 000 ]' \
  "rc=$rc code=$code"
"$MESHLAB" chaos ratings-v1 "${L[@]}" --clear >/dev/null 2>&1
r=$(in_mesh http://ratings:9080/ratings/0)
check "... after --clear ratings answers 200 again" '[ "${r% *}" = 200 ]' "$r"
# Slow start: 503 "not ready" for the duration (the sidecar's retries on 503 all land inside
# it), then 200.
"$MESHLAB" chaos ratings-v1 "${L[@]}" --slow-start 2s >/dev/null 2>&1
r=$(in_mesh http://ratings:9080/ratings/0)
check "chaos --slow-start 2s: 503 at first" '[ "${r% *}" = 503 ] && grep -q "not ready: slow start" "$tmp/body"' \
  "$r $(cat "$tmp/body")"
check "... then 200 once the 2 s are over" 'until_ok 6 "[ \"\$(in_mesh http://ratings:9080/ratings/0 | cut -d\" \" -f1)\" = 200 ]"'
out=$("$MESHLAB" chaos reviews "${L[@]}" --latency 10ms 2>&1); rc=$?
check "chaos on a service's app label reaches each of its replicas" '[ $rc = 0 ] && [ "$(echo "$out" | wc -l)" = 3 ]' "$out"
"$MESHLAB" chaos reviews "${L[@]}" --clear >/dev/null 2>&1
out=$("$MESHLAB" chaos nosuch "${L[@]}" --latency 1s 2>&1); rc=$?
check "chaos on an unknown workload: exit 1, naming it" '[ $rc = 1 ] && echo "$out" | grep -q "\"nosuch\""' "$out"
for bad in "--latency 2x" "--error-rate 1.5" "--code 99" "--clear --hang" ""; do
  out=$("$MESHLAB" chaos ratings-v1 "${L[@]}" $bad 2>&1); rc=$?
  check "chaos $bad: exit 2 with the expected form" '[ $rc = 2 ] && echo "$out" | grep -q "meshlab chaos: "' "$rc $out"
done

# ---- kill ----
# replica_field REPLICA restarts|app_pid: from `status -o json`.
replica_field() { "$MESHLAB" status -o json "${L[@]}" | python3 -c "
import json,sys
r = [r for r in json.load(sys.stdin)['replicas'] if r['name']==sys.argv[1]][0]
print(r['restarts'] if sys.argv[2] == 'restarts' else r['pids']['app'])" "$1" "$2"; }
restarts() { replica_field "$1" restarts; }
out=$("$MESHLAB" kill ratings-v1-0 "${L[@]}" 2>&1); rc=$?
check "kill ratings-v1-0" '[ $rc = 0 ] && echo "$out" | grep -q "^ratings-v1-0/app killed"' "$out"
check "... status counts the restart within 10 s" 'until_ok 10 "[ \"\$(restarts ratings-v1-0)\" -ge 1 ]"' \
  "$("$MESHLAB" status "${L[@]}")"
check "... and it serves again" 'until_ok 10 "[ \"\$(in_mesh http://ratings:9080/ratings/0 | cut -d\" \" -f1)\" = 200 ]"'

# Crash: the app exits (code 1) right after answering, and the supervisor starts a new one.
before=$(restarts ratings-v1-0)
pid0=$(replica_field ratings-v1-0 app_pid)
out=$("$MESHLAB" chaos ratings-v1 "${L[@]}" --crash 2>&1); rc=$?
check "chaos --crash: ratings-v1-0 answers before it goes" '[ $rc = 0 ] && echo "$out" | grep -q "^ratings-v1-0: {"' "$out"
check "... the app exits and the lab restarts it: restarts goes up" \
  'until_ok 10 "[ \"\$(restarts ratings-v1-0)\" -gt $before ]"' "$("$MESHLAB" status "${L[@]}")"
check "... a new app process serves" \
  'until_ok 10 "[ \"\$(in_mesh http://ratings:9080/ratings/0 | cut -d\" \" -f1)\" = 200 ]" &&
   [ "$(replica_field ratings-v1-0 app_pid)" != "$pid0" ]' \
  "$("$MESHLAB" status "${L[@]}")"

# ---- restart ----
pid0=$(replica_field details-v1-0 app_pid)
out=$("$MESHLAB" restart details-v1-0 "${L[@]}" 2>&1); rc=$?
check "restart details-v1-0" '[ $rc = 0 ] && echo "$out" | grep -q "^details-v1-0 restarting"' "$out"
check "... a new app process serves, no restart counted" \
  'until_ok 10 "[ \"\$(in_mesh http://details:9080/details/0 | cut -d\" \" -f1)\" = 200 ]" &&
   [ "$(restarts details-v1-0)" = 0 ] && ! [ -e /proc/$pid0 ] || [ "$(sed "s/.*) \(.\).*/\1/" /proc/$pid0/stat 2>/dev/null)" = Z ]' \
  "$("$MESHLAB" status "${L[@]}")"

# ---- scale ----
out=$("$MESHLAB" scale reviews-v1 --replicas 2 "${L[@]}" 2>&1); rc=$?
check "scale reviews-v1 --replicas 2" '[ $rc = 0 ] && [ "$out" = "deployment.apps/reviews-v1 scaled" ]' "$out"
check "... status shows reviews-v1-1 serving" \
  'until_ok 10 "\"$MESHLAB\" status \"\${L[@]}\" | grep -qE \"^default +reviews-v1-1 .* running +serving \""' \
  "$("$MESHLAB" status "${L[@]}")"
seen=
for _ in $(seq 1 60); do
  p=$("$MESHLAB" exec productpage-v1 "${L[@]}" -- curl -s -m 5 http://reviews:9080/reviews/0 |
    python3 -c "import json,sys; print(json.load(sys.stdin)['podname'])" 2>/dev/null)
  case " $seen " in *" $p "*) ;; *) seen="$seen $p" ;; esac
  case "$seen" in *reviews-v1-0*reviews-v1-1*|*reviews-v1-1*reviews-v1-0*) break ;; esac
done
check "... requests reach both reviews-v1-0 and reviews-v1-1" \
  'echo "$seen" | grep -q reviews-v1-0 && echo "$seen" | grep -q reviews-v1-1' "seen:$seen"
out=$("$MESHLAB" scale reviews-v1 --replicas 1 "${L[@]}" 2>&1); rc=$?
check "scale back to 1: reviews-v1-1 is gone" \
  '[ $rc = 0 ] && ! "$MESHLAB" status "${L[@]}" | grep -q reviews-v1-1' "$out"
out=$("$MESHLAB" scale reviews-v1-0 --replicas 2 "${L[@]}" 2>&1); rc=$?
check "scale of a replica name: exit 1, naming its Deployment" '[ $rc = 1 ] && echo "$out" | grep -q "reviews-v1 "' "$out"
out=$("$MESHLAB" scale reviews-v1 --replicas many "${L[@]}" 2>&1); rc=$?
check "scale --replicas many: exit 2" '[ $rc = 2 ]' "$out"

# ---- logs ----
out=$("$MESHLAB" logs ratings-v1-0 -c app "${L[@]}" 2>&1); rc=$?
check "logs -c app prints the app's lines" '[ $rc = 0 ] && echo "$out" | grep -q "^listening on unix:"' "$out"
out=$("$MESHLAB" logs productpage-v1-0 -c sidecar "${L[@]}" 2>&1); rc=$?
check "logs -c sidecar prints access-log lines in Istio's format" \
  '[ $rc = 0 ] && echo "$out" | grep -q "\"GET /ratings/0 HTTP/1.1\" 503 "' "$(echo "$out" | tail -3)"
"$MESHLAB" logs productpage-v1-0 -c sidecar -f "${L[@]}" > "$tmp/follow.out" 2>&1 &
fpid=$!
sleep 0.5
in_mesh http://details:9080/details/1 >/dev/null
until_ok 5 'grep -q "GET /details/1 " "$tmp/follow.out"'; got=$?
kill -INT $fpid; wait $fpid; rc=$?
check "logs -f prints new lines as they come, and SIGINT ends it with exit 0" '[ $got = 0 ] && [ $rc = 0 ]' \
  "rc=$rc $(tail -2 "$tmp/follow.out")"

# ---- load from inside the mesh, and a service outside it ----
# `meshlab load --from` sends through the workload's sidecar, as Istio's fortio pod does.
"$MESHLAB" load --from productpage-v1 "${L[@]}" --qps 0 --requests 20 -o json http://reviews:9080/reviews/0 \
  > "$tmp/from.json" 2> "$tmp/from.err"
check "load --from productpage-v1 reaches reviews through its sidecar: 20 x 200" \
  'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"codes\"] == {\"200\": 20}, d" "$tmp/from.json"' \
  "$(cat "$tmp/from.json" "$tmp/from.err")"
# The external service runs outside the mesh (no sidecar, its own address) and is reached
# through a ServiceEntry, as in Istio's egress tasks (the steps docs/apps.md gives).
external_start "$tmp/ext.out"
# Without a ServiceEntry the host is in no registry: Istio's default outboundTrafficPolicy
# ALLOW_ANY passes the call through to the address the app asked for (PassthroughCluster), the
# sidecar reporting it as destination_service_name="PassthroughCluster"; a name the lab cannot
# resolve (it uses no DNS) is 503 DF. test_egress.sh checks REGISTRY_ONLY.
out=$("$MESHLAB" exec productpage-v1 "${L[@]}" -- curl -s -m 5 -D - "http://127.0.0.1:$ext_port/")
check "before the ServiceEntry, ALLOW_ANY: a call to the external address passes through (200)" \
  'echo "$out" | grep -q "^HTTP/1.1 200" && echo "$out" | grep -q "outside the mesh"' "$out"
prom=$(curl -s -m 5 "http://$(cat "$lab/replicas/productpage-v1-0/admin")/stats/prometheus")
check "... counted by productpage's sidecar as destination_service_name PassthroughCluster, service the Host" \
  'echo "$prom" | grep "^istio_requests_total{" | grep "destination_service=\"127.0.0.1:$ext_port\"" |
     grep "destination_service_name=\"PassthroughCluster\"" | grep -q "response_code=\"200\""' \
  "$(echo "$prom" | grep -i passthrough)"
cl=$(curl -s -m 5 "http://$(cat "$lab/replicas/productpage-v1-0/admin")/clusters")
check "... and its /clusters lists PassthroughCluster with that address as a host (Envoy's ORIGINAL_DST)" \
  'echo "$cl" | grep -q "^PassthroughCluster::127.0.0.1:$ext_port::rq_success::[1-9]" &&
     echo "$cl" | grep -q "^PassthroughCluster::default_priority::max_connections::4294967295$"' \
  "$(echo "$cl" | grep -i passthrough)"
out=$("$MESHLAB" exec productpage-v1 "${L[@]}" -- curl -s -m 5 -D - -o /dev/null "http://api.external.example:$ext_port/")
check "... a name in no registry and not numeric: 503 DF (meshlab resolves no DNS names)" \
  'echo "$out" | grep -q "^HTTP/1.1 503" && echo "$out" | grep -qi "^x-meshlab-response-flags: DF"' "$out"
external_service_entry > "$tmp/se.yaml"
"$MESHLAB" apply "${L[@]}" -f "$tmp/se.yaml" > /dev/null
body=
for _ in $(seq 1 30); do
  body=$("$MESHLAB" exec productpage-v1 "${L[@]}" -- curl -s "http://api.external.example:$ext_port/")
  case "$body" in *"outside the mesh"*) break;; esac
  sleep 0.1
done
check "a ServiceEntry routes an in-mesh call to the external service" \
  'case "$body" in *"outside the mesh"*) true;; *) false;; esac' "body: $body"
# Monitoring external calls: the caller's sidecar reports them (the external service has no
# sidecar, so reporter=source is the only side), under the ServiceEntry's host.
ext_metrics() {
  curl -s "http://$(cat "$lab/api")/v1/metrics?window=60s&reporter=source&destination_service=api.external.example" |
    python3 -c "import json,sys; d=json.load(sys.stdin); print(d['by_response_code'].get('200', 0), d['connection_security_policy'])"
}
check "... and the lab's telemetry counts it: /v1/metrics for api.external.example has 200s, security unknown" \
  'until_ok 5 "ext_metrics | grep -qE \"^[1-9][0-9]* unknown$\""' "$(ext_metrics 2>&1)"

# ---- namespaces: the same Deployment and Service in two of them ----
# Each replica has its own folder (replicas/httpbin-0.ns-a, replicas/httpbin-0.ns-b); every
# command takes -n, and a name that means replicas in two namespaces (none in default) is
# refused as ambiguous rather than guessed.
for ns in ns-a ns-b; do "$MESHLAB" apply -n $ns -f httpbin "${L[@]}" > /dev/null; done
ns_ready() { "$MESHLAB" status -n "$1" "${L[@]}" | grep -qE "^$1 +httpbin-0 .* running +serving "; }
check "httpbin applied in ns-a and ns-b: both httpbin-0 serving" 'until_ok 15 "ns_ready ns-a && ns_ready ns-b"' \
  "$("$MESHLAB" status "${L[@]}")"
check "... each with its own folder" '[ -d "$lab/replicas/httpbin-0.ns-a" ] && [ -d "$lab/replicas/httpbin-0.ns-b" ]' \
  "$(ls "$lab/replicas")"
out=$("$MESHLAB" status -n ns-b "${L[@]}" | awk 'NR > 1 && NF == 0 { exit } NR > 1 { print $1 }' | sort -u | tr '\n' ' ')
check "status -n ns-b lists only ns-b" '[ "$out" = "ns-b " ]' "$out"
for cmd in "logs httpbin-0" "exec httpbin -- true" "kill httpbin-0" "restart httpbin" "chaos httpbin --clear"; do
  out=$("$MESHLAB" ${cmd%% *} "${L[@]}" ${cmd#* } 2>&1); rc=$?
  check "'$cmd' without -n: exit 1, ambiguous, naming both namespaces" \
    '[ $rc = 1 ] && echo "$out" | grep -q "ambiguous" && echo "$out" | grep -q "ns-a, ns-b"' "rc=$rc $out"
done
out=$("$MESHLAB" exec httpbin -n ns-a "${L[@]}" -- sh -c 'echo "$MESHLAB_REPLICA $http_proxy"')
check "exec -n ns-a uses ns-a's sidecar" '[ "$out" = "httpbin-0 http://$(cat "$lab/replicas/httpbin-0.ns-a/outbound")" ]' "$out"
code=$("$MESHLAB" exec httpbin -n ns-a "${L[@]}" -- curl -s -m 10 -o /dev/null -w '%{http_code}' \
  "http://httpbin.ns-a:8000/get?from=ns-a")
check "... a request from ns-a to httpbin.ns-a: 200" '[ "$code" = 200 ]' "$code"
check "logs -n ns-a -c sidecar shows it; ns-b's log does not" \
  'until_ok 5 "\"$MESHLAB\" logs httpbin-0 -n ns-a -c sidecar \"\${L[@]}\" | grep -q \"from=ns-a\"" &&
   ! "$MESHLAB" logs httpbin-0 -n ns-b -c sidecar "${L[@]}" | grep -q "from=ns-a"' \
  "$("$MESHLAB" logs httpbin-0 -n ns-b -c sidecar "${L[@]}" 2>&1 | tail -2)"
ns_restarts() { "$MESHLAB" status -o json "${L[@]}" | python3 -c "
import json,sys
print([r for r in json.load(sys.stdin)['replicas'] if r['name']=='httpbin-0' and r['namespace']==sys.argv[1]][0]['restarts'])" "$1"; }
out=$("$MESHLAB" kill httpbin-0 -n ns-b "${L[@]}" 2>&1); rc=$?
check "kill httpbin-0 -n ns-b" '[ $rc = 0 ] && echo "$out" | grep -q "^httpbin-0/app killed"' "$out"
check "... ns-b's replica restarts, ns-a's does not" \
  'until_ok 10 "[ \"\$(ns_restarts ns-b)\" -ge 1 ]" && [ "$(ns_restarts ns-a)" = 0 ]' "$("$MESHLAB" status "${L[@]}")"
out=$("$MESHLAB" proxy-config listeners httpbin-0 -n ns-b "${L[@]}" 2>&1); rc=$?
check "proxy-config -n ns-b asks ns-b's sidecar" \
  '[ $rc = 0 ] && [ "$(cat "$lab/replicas/httpbin-0.ns-b/admin")" != "$(cat "$lab/replicas/httpbin-0.ns-a/admin")" ] &&
   echo "$out" | grep -q "$(cut -d: -f1 "$lab/replicas/httpbin-0.ns-b/admin"):8080"' "$out"
out=$("$MESHLAB" proxy-config listeners httpbin-0 "${L[@]}" 2>&1); rc=$?
check "proxy-config without -n, the name in two namespaces: exit 1, asking for -n" \
  '[ $rc = 1 ] && echo "$out" | grep -q "pass -n"' "$rc $out"
"$MESHLAB" load --from httpbin --namespace ns-b "${L[@]}" --qps 0 --requests 5 -o json "http://httpbin.ns-b:8000/get?load=ns-b" \
  > "$tmp/nsload.json" 2>&1
check "load --from httpbin --namespace ns-b leaves through ns-b's sidecar" \
  'python3 -c "import json,sys; assert json.load(open(sys.argv[1]))[\"codes\"] == {\"200\": 5}" "$tmp/nsload.json" &&
   until_ok 5 "grep -q load=ns-b \"$lab/replicas/httpbin-0.ns-b/access.log\"" &&
   ! grep -q load=ns-b "$lab/replicas/httpbin-0.ns-a/access.log"' "$(cat "$tmp/nsload.json")"
out=$("$MESHLAB" logs httpbin-0 -n nosuch "${L[@]}" 2>&1); rc=$?
check "logs -n nosuch: exit 1, naming the namespace" '[ $rc = 1 ] && echo "$out" | grep -q "in namespace nosuch"' "$out"
out=$("$MESHLAB" logs istio-ingressgateway-0 "${L[@]}" 2>&1); rc=$?
check "a name in one namespace only needs no -n (the gateway in istio-system)" '[ $rc = 0 ]' "$out"

tap_finish
