#!/usr/bin/env bash
# End-to-end checks of the lab commands as outside scripts use them (../shared/CLI.md,
# docs/lab.md): up --detach, status JSON, the config long poll (ACK/NACK), proxy-status,
# apply/get/delete (all-or-nothing, kubectl's lines), runtime Deployments, analyze, export,
# no-lab exit 3, down (no process left, idempotent), and a foreground up stopped by SIGTERM.
# Every lab runs in its own temp folder, on OS-assigned ingress ports and its own pod address
# range, so the test runs beside others; the trap stops every lab it started.
set -u
MESHLAB=${MESHLAB_BIN:?MESHLAB_BIN must name the meshlab binary}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
labs=()
fg_pid=
cleanup() {
  [ -n "$fg_pid" ] && kill "$fg_pid" 2>/dev/null
  for d in "${labs[@]}"; do "$MESHLAB" down --lab-dir "$d" >/dev/null 2>&1; done
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/tap.sh"

# A /24 of pod addresses no other test run is likely to use at the same time.
# Ranges in use by the lab tests, which ctest may run side by side: test_lab 127.1.20-119,
# test_telemetry_sink 150-179, test_push_under_load 201 (its release run 203), test_export_crds 202,
# test_why 204, test_resilience 205, test_egress 206, test_ratelimit_mirror 207, test_dash_e2e 209,
# test_lesson_exits 210, test_lesson_N 210+N (lessons 1-9: 211-219; lesson 10: 208), test_mtls 220,
# test_authn_authz 221, test_run_dash 222, test_lab_control 225-229 and 231-254, test_trace_headers
# 230; test_port_blocks none (127.0.0.1 in port blocks the lab probes free). A test that shares a
# range with another running one fails to bind its pod ports.
range() { echo "127.1.$(( (RANDOM % 100) + 20 )).0/24"; }

conf=${MESHLAB_CONFORMANCE:-$here/../../../shared/conformance}
networking=$conf/istio/bookinfo-networking
have_conf=1
if [ ! -d "$networking" ]; then
  have_conf=0
  if [ "${CI:-}" = true ]; then echo "Bail out! conformance inputs missing at $networking"; exit 1; fi
fi

# The whole mesh runs: sidecars on the config long poll, the apps behind them.
e2e=1

# ---- no lab ----
nolab=$tmp/nolab
for cmd in "status" "get vs" "apply -f bookinfo-gateway" "delete vs reviews" "analyze" "export istio" "proxy-status"; do
  out=$("$MESHLAB" $cmd --lab-dir "$nolab" 2>&1); rc=$?
  check "no lab: '$cmd' exits 3 with CLI.md's message" \
    '[ $rc = 3 ] && [ "$out" = "no lab is running (start one with: meshlab up)" ]' "rc=$rc out=$out"
done
out=$("$MESHLAB" down --lab-dir "$nolab" 2>&1); rc=$?
check "down with no lab exits 0" '[ $rc = 0 ]' "rc=$rc $out"

# ---- up refuses bad manifests, starting nothing ----
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: -1\n' > "$tmp/bad-up.yaml"
out=$("$MESHLAB" up --detach --lab-dir "$tmp/badlab" -f "$tmp/bad-up.yaml" --addresses "$(range)" 2>&1); rc=$?
check "up with a bad manifest exits 1 with file:line:col" \
  '[ $rc = 1 ] && echo "$out" | grep -q "bad-up.yaml:[0-9]*:[0-9]*: error"' "rc=$rc out=$out"
check "... and starts nothing" '[ ! -e "$tmp/badlab/pid" ] && [ ! -e "$tmp/badlab/api" ]'

# ---- up --detach with Bookinfo ----
lab=$tmp/lab
labs+=("$lab")
L=(--lab-dir "$lab")
addrs=$(range)
prefix=${addrs%.0/24}
start=$(date +%s%N)
"$MESHLAB" up --detach "${L[@]}" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 --addresses "$addrs" --seed 7 \
  --wait "$([ $e2e = 1 ] && echo 10s || echo 2s)" > "$tmp/up.out" 2> "$tmp/up.err"
rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ $e2e = 1 ]; then
  check "up --detach exits 0 once every sidecar is synced" '[ $rc = 0 ]' "$(cat "$tmp/up.out" "$tmp/up.err")"
  echo "# up --detach took ${elapsed_ms} ms; $(grep 'ready in' "$tmp/up.out")"
else
  check "up --detach (no xDS sidecar yet) exits non-zero, naming the replicas not ready" \
    '[ $rc != 0 ] && grep -q "productpage-v1-0" "$tmp/up.err"' "$(cat "$tmp/up.out" "$tmp/up.err")"
fi
check "up prints the command that routes the ingress" \
  '[ $e2e = 0 ] || grep -q "meshlab apply -f bookinfo-gateway" "$tmp/up.out"'
check "the state folder has pid, api and ingress" \
  '[ -s "$lab/pid" ] && [ -s "$lab/api" ] && [ -s "$lab/ingress" ]'
ingress=$(cat "$lab/ingress")
api=$(cat "$lab/api")
out=$("$MESHLAB" up --detach "${L[@]}" --addresses "$(range)" 2>&1); rc=$?
check "a second up in the same folder is refused" '[ $rc = 1 ] && echo "$out" | grep -q "already running"' "$out"

"$MESHLAB" status "${L[@]}" -o json > "$tmp/status.json"
check "status -o json: the 6 Bookinfo replicas and the ingress gateway" \
  'python3 - "$tmp/status.json" "$prefix" "$ingress" <<EOF
import json, sys
d = json.load(open(sys.argv[1]))
names = sorted(r["name"] for r in d["replicas"])
assert names == sorted(["details-v1-0", "productpage-v1-0", "ratings-v1-0", "reviews-v1-0", "reviews-v2-0",
                        "reviews-v3-0", "istio-ingressgateway-0"]), names
for r in d["replicas"]:
    for k in ("name", "workload", "namespace", "address", "ports", "app", "sidecar", "restarts", "config_version"):
        assert k in r, (k, r)
    assert r["address"].startswith(sys.argv[2] + "."), r
    assert isinstance(r["config_version"], int) and isinstance(r["restarts"], int)
byname = {r["name"]: r for r in d["replicas"]}
assert byname["reviews-v2-0"]["workload"] == "reviews-v2" and byname["reviews-v2-0"]["namespace"] == "default"
assert byname["reviews-v2-0"]["ports"] == [9080]
assert byname["istio-ingressgateway-0"]["namespace"] == "istio-system"
assert byname["productpage-v1-0"]["app"] == "running", byname["productpage-v1-0"]
assert d["ingress"] == sys.argv[3]
EOF' "$(cat "$tmp/status.json")"
check "status (table) lists every replica and the ingress" \
  '[ "$("$MESHLAB" status "${L[@]}" | grep -cE "^(default|istio-system) ")" = 7 ] &&
   "$MESHLAB" status "${L[@]}" | grep -q "ingress: http://$ingress"'
check "every replica folder has its outbound and admin files" \
  '(for r in details-v1-0 productpage-v1-0 istio-ingressgateway-0.istio-system; do
     [ "$(cat "$lab/replicas/$r/outbound")" = "$(python3 -c "import json,sys; print([x for x in json.load(open(sys.argv[1]))[\"replicas\"] if x[\"name\"]==sys.argv[2]][0][\"address\"])" "$tmp/status.json" "${r%%.*}"):15001" ] || exit 1
   done)'

# ---- the config long poll ----
node=default/ratings-v1-0
if [ $e2e = 0 ]; then
  code=$(curl -s -o "$tmp/cfg.json" -D "$tmp/cfg.head" -w '%{http_code}' "http://$api/v1/xds?node=$node&version=0")
  v=$(sed -n 's/^x-meshlab-config-version: \([0-9]*\).*/\1/p' "$tmp/cfg.head")
  check "xds: version=0 gets the config at once (200, versioned JSON)" \
    '[ "$code" = 200 ] && [ -n "$v" ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"version\"]==int(sys.argv[2]) and d[\"kind\"]==\"sidecar\"" "$tmp/cfg.json" "$v"' "code=$code"
  # Without the xDS sidecar the real sidecars crash-loop, and each exit or restart changes the
  # endpoints (a new version): retry until a poll at the current version is held to its end.
  held_ok=0 synced=0
  for _ in $(seq 1 20); do
    t0=$(date +%s%N)
    code=$(curl -s -o "$tmp/cfg2.json" -D "$tmp/cfg2.head" -w '%{http_code}' \
      "http://$api/v1/xds?node=$node&version=$v&wait=300")
    held=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ "$code" = 200 ]; then v=$(sed -n 's/^x-meshlab-config-version: \([0-9]*\).*/\1/p' "$tmp/cfg2.head"); continue; fi
    [ "$code" = 304 ] && [ $held -ge 250 ] && held_ok=1
    "$MESHLAB" proxy-status "${L[@]}" | grep -qE "^ratings-v1-0\.default +SYNCED +$v +$v " && synced=1 && break
  done
  check "xds: asking with the current version is held, then 304" '[ $held_ok = 1 ]'
  check "proxy-status: the node that acknowledged is SYNCED" '[ $synced = 1 ]' "$("$MESHLAB" proxy-status "${L[@]}")"
  curl -s -o /dev/null "http://$api/v1/xds?node=$node&version=$v&error=route+table+refused&wait=100"
  check "proxy-status: a NACK shows STALE and the reason" \
    '"$MESHLAB" proxy-status "${L[@]}" | grep -E "^ratings-v1-0\.default" | grep -q "STALE.*route table refused"' \
    "$("$MESHLAB" proxy-status "${L[@]}")"
  # A change wakes a held poll: hold one, apply, expect a newer version within the hold.
  curl -s -o "$tmp/woken.json" -w '%{http_code}' "http://$api/v1/xds?node=$node&version=$v&wait=5000" > "$tmp/woken.code" &
  poll=$!
  sleep 0.2
else
  v=
  check "proxy-status: every proxy SYNCED" \
    '[ "$("$MESHLAB" proxy-status "${L[@]}" | grep -c " SYNCED ")" = 7 ]' "$("$MESHLAB" proxy-status "${L[@]}")"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$api/v1/xds?node=default/nosuch-0&version=0")
check "xds: an unknown node is 404" '[ "$code" = 404 ]'

# ---- apply, get, delete ----
if [ $have_conf = 1 ]; then
  f=$networking/destination-rule-all.yaml
  out=$("$MESHLAB" apply "${L[@]}" -f "$f" 2>"$tmp/apply.err"); rc=$?
  check "apply prints kubectl's 'created' lines" \
    '[ $rc = 0 ] && [ "$out" = "destinationrule.networking.istio.io/productpage created
destinationrule.networking.istio.io/reviews created
destinationrule.networking.istio.io/ratings created
destinationrule.networking.istio.io/details created" ]' "rc=$rc out=$out $(cat "$tmp/apply.err")"
  if [ -n "$v" ]; then
    wait "$poll"
    nv=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['version'])" "$tmp/woken.json" 2>/dev/null)
    check "xds: the apply answered the held poll with a newer version" \
      '[ "$(cat "$tmp/woken.code")" = 200 ] && [ "${nv:-0}" -gt "$v" ]' "code=$(cat "$tmp/woken.code") v=$v nv=$nv"
  fi
  out=$("$MESHLAB" apply "${L[@]}" -f "$f" 2>&1); rc=$?
  check "apply again: every line 'unchanged'" \
    '[ $rc = 0 ] && [ "$(echo "$out" | grep -c " unchanged$")" = 4 ]' "$out"
  out=$("$MESHLAB" apply "${L[@]}" -f "$networking/virtual-service-all-v1.yaml" 2>&1); rc=$?
  check "apply virtual-service-all-v1" '[ $rc = 0 ] && echo "$out" | grep -q "^virtualservice.networking.istio.io/reviews created$"' "$out"
  out=$("$MESHLAB" apply "${L[@]}" -f "$networking/virtual-service-reviews-50-v3.yaml" 2>&1); rc=$?
  check "apply a changed object: 'configured'" \
    '[ $rc = 0 ] && [ "$out" = "virtualservice.networking.istio.io/reviews configured" ]' "$out"
else
  skip "apply from ../shared/conformance" "conformance inputs not found at $networking"
  "$MESHLAB" apply "${L[@]}" -f destination-rule-all >/dev/null 2>&1
  [ -n "$v" ] && wait "$poll"
fi
"$MESHLAB" export istio "${L[@]}" > "$tmp/before.yaml"
cat > "$tmp/broken.yaml" <<'EOF'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - route:
    - destination:
        host: ratings
        subset: v1
      wieght: 100
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: extra
spec:
  host: ratings
EOF
out=$("$MESHLAB" apply "${L[@]}" -f "$tmp/broken.yaml" 2>&1); rc=$?
check "a broken file: exit 1, file:line:col and the field path" \
  '[ $rc = 1 ] && echo "$out" | grep -q "broken.yaml:13:7: error: spec.http\[0\].route\[0\].wieght"' "rc=$rc $out"
"$MESHLAB" export istio "${L[@]}" > "$tmp/after.yaml"
check "... and the running config is untouched (nothing of the file applied)" \
  'cmp -s "$tmp/before.yaml" "$tmp/after.yaml" && ! "$MESHLAB" get dr extra "${L[@]}" >/dev/null 2>&1'
out=$(printf 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: g\n  namespace: other\nspec:\n  selector: {istio: ingressgateway}\n  servers: []\n' |
  "$MESHLAB" apply "${L[@]}" -n default -f - 2>&1); rc=$?
check "apply -n refuses an object naming another namespace" '[ $rc = 1 ]' "$out"

out=$("$MESHLAB" get dr "${L[@]}"); rc=$?
check "get dr: a kubectl-like table" \
  '[ $rc = 0 ] && echo "$out" | head -1 | grep -qE "^NAME +HOST +AGE$" && echo "$out" | grep -qE "^reviews +reviews +[0-9]+s$"' "$out"
check "get dr reviews -o yaml: current apiVersion" \
  '"$MESHLAB" get dr reviews -o yaml "${L[@]}" | grep -q "^apiVersion: networking.istio.io/v1$"'
check "get dr reviews -o json parses" \
  '"$MESHLAB" get dr reviews -o json "${L[@]}" | python3 -c "import json,sys; assert json.load(sys.stdin)[\"metadata\"][\"name\"]==\"reviews\""'
check "get deploy -A lists the Bookinfo Deployments" \
  '[ "$("$MESHLAB" get deploy -A "${L[@]}" | grep -c "^default ")" = 6 ]'
out=$("$MESHLAB" get vs nosuch "${L[@]}" 2>&1); rc=$?
check "get of a missing object: exit 1, kubectl's NotFound" \
  '[ $rc = 1 ] && [ "$out" = "Error from server (NotFound): virtualservices.networking.istio.io \"nosuch\" not found" ]' "$out"
out=$("$MESHLAB" delete dr ratings "${L[@]}" 2>&1); rc=$?
check "delete KIND NAME" '[ $rc = 0 ] && [ "$out" = "destinationrule.networking.istio.io \"ratings\" deleted" ]' "$out"
out=$("$MESHLAB" delete dr ratings "${L[@]}" 2>&1); rc=$?
check "delete of a missing object: exit 1" '[ $rc = 1 ]' "$out"
out=$("$MESHLAB" analyze "${L[@]}" 2>&1); rc=$?
check "analyze runs (exit 0)" '[ $rc = 0 ]' "$out"
"$MESHLAB" export istio "${L[@]}" > "$tmp/export.yaml"
check "export istio: Istio resources, then the Kubernetes manifests" \
  'python3 - "$tmp/export.yaml" <<EOF
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = [d["kind"] for d in docs]
assert "DestinationRule" in kinds and "Deployment" in kinds and "Service" in kinds, kinds
assert kinds.index("DestinationRule") < kinds.index("Deployment")
assert all(d["apiVersion"] in ("networking.istio.io/v1", "security.istio.io/v1", "v1", "apps/v1",
                               "networking.istio.io/v1alpha3") for d in docs)
EOF'

# ---- Deployments at runtime ----
out=$("$MESHLAB" apply "${L[@]}" -f httpbin 2>&1); rc=$?
check "apply httpbin (built-in): its Deployment is created" '[ $rc = 0 ] && echo "$out" | grep -q "^deployment.apps/httpbin created$"' "$out"
check "... and its replica starts" '"$MESHLAB" status "${L[@]}" | grep -qE "^default +httpbin-0 +$prefix\."'
sed 's/replicas: 1/replicas: 2/' "$here/../../services/manifests/httpbin.yaml" > "$tmp/httpbin2.yaml"
out=$("$MESHLAB" apply "${L[@]}" -f "$tmp/httpbin2.yaml" 2>&1)
check "scaling to 2 replicas starts httpbin-1" \
  'echo "$out" | grep -q "deployment.apps/httpbin configured" && "$MESHLAB" status "${L[@]}" | grep -qE "^default +httpbin-1 "' "$out"
hb_pids=$("$MESHLAB" status -o json "${L[@]}" | python3 -c "
import json,sys
for r in json.load(sys.stdin)['replicas']:
    if r['workload']=='httpbin':
        print(' '.join(str(p) for p in r['pids'].values() if p))")
out=$("$MESHLAB" delete "${L[@]}" -f httpbin 2>&1); rc=$?
check "delete -f httpbin removes its replicas" \
  '[ $rc = 0 ] && ! "$MESHLAB" status "${L[@]}" | grep -q httpbin' "$out"
until_ok 10 'gone $hb_pids'
check "... and their processes" 'gone $hb_pids'

# ---- requests through the ingress (needs the sidecar's xDS mode and the apps) ----
if [ $e2e = 1 ]; then
  "$MESHLAB" apply "${L[@]}" -f bookinfo-gateway >/dev/null 2>&1
  code=
  for _ in $(seq 1 50); do
    code=$(curl -s -o "$tmp/page.html" -w '%{http_code}' "http://$ingress/productpage")
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  check "curl http://<ingress>/productpage through the gateway and sidecars: 200" \
    '[ "$code" = 200 ] && grep -qi "reviews" "$tmp/page.html"' "code=$code"
  if [ -d "$networking" ]; then
    # Istio's request-routing task, with Istio's own files: everyone sees reviews v1 (no
    # stars), then jason sees v2 (black stars).
    "$MESHLAB" apply "${L[@]}" -f "$networking/destination-rule-all.yaml" -f "$networking/virtual-service-all-v1.yaml" \
      >/dev/null 2>&1
    sleep 0.3
    stars=0
    for _ in 1 2 3 4 5 6; do
      n=$(curl -s "http://$ingress/productpage" | grep -c 'glyphicon-star')
      stars=$((stars + n))
    done
    check "virtual-service-all-v1: six page loads, no stars (reviews v1 only)" '[ $stars = 0 ]' "stars=$stars"
    "$MESHLAB" apply "${L[@]}" -f "$networking/virtual-service-reviews-test-v2.yaml" >/dev/null 2>&1
    sleep 0.3
    curl -s -c "$tmp/cookies" -o /dev/null -d 'username=jason&passwd=jason' "http://$ingress/login"
    colors=$(for _ in 1 2 3; do curl -s -b "$tmp/cookies" "http://$ingress/productpage" |
      grep -o 'font color="[a-z]*"' | head -1; done | sort -u)
    check "virtual-service-reviews-test-v2: jason sees black stars (reviews v2)" \
      '[ "$colors" = "font color=\"black\"" ]' "colors=$colors"
    # Istio's standard metrics, counted by both ends: productpage's sidecar as the source,
    # reviews-v2's sidecar as the destination, with Istio's labels; promtool accepts them.
    pp_admin=$(cat "$lab/replicas/productpage-v1-0/admin")
    rv_admin=$(cat "$lab/replicas/reviews-v2-0/admin")
    curl -s "http://$pp_admin/stats/prometheus" > "$tmp/pp.metrics"
    curl -s "http://$rv_admin/stats/prometheus" > "$tmp/rv.metrics"
    check "productpage's sidecar reports istio_requests_total as source toward reviews-v2" \
      'grep -q "^istio_requests_total{reporter=\"source\",source_workload=\"productpage-v1\",.*destination_workload=\"reviews-v2\",.*destination_version=\"v2\",destination_service=\"reviews.default.svc.cluster.local\",.*response_code=\"200\"" "$tmp/pp.metrics"'
    check "reviews-v2's sidecar reports the same calls as destination, from productpage-v1" \
      'grep -q "^istio_requests_total{reporter=\"destination\",source_workload=\"productpage-v1\",.*destination_workload=\"reviews-v2\"" "$tmp/rv.metrics"'
    # What productpage's sidecar runs, as istioctl proxy-config shows it.
    "$MESHLAB" proxy-config routes productpage-v1 "${L[@]}" > "$tmp/routes.txt" 2>&1
    check "proxy-config routes: jason's header match from VirtualService reviews" \
      'grep -q "reviews.default.svc.cluster.local:9080 .*\[end-user=jason\] *reviews.default" "$tmp/routes.txt"' \
      "$(cat "$tmp/routes.txt")"
    "$MESHLAB" proxy-config clusters productpage-v1 "${L[@]}" > "$tmp/clusters.txt" 2>&1
    check "proxy-config clusters: reviews subsets from DestinationRule reviews" \
      'grep -q "^reviews.default.svc.cluster.local *9080 *v2 *outbound *DestinationRule default/reviews (subset v2)" "$tmp/clusters.txt"' \
      "$(cat "$tmp/clusters.txt")"
    check "proxy-config clusters: BlackHoleCluster and PassthroughCluster, as istioctl lists them" \
      'grep -q "^BlackHoleCluster  *- " "$tmp/clusters.txt" && grep -q "^PassthroughCluster  *- " "$tmp/clusters.txt"' \
      "$(cat "$tmp/clusters.txt")"
    "$MESHLAB" proxy-config endpoints productpage-v1 "${L[@]}" > "$tmp/endpoints.txt" 2>&1
    check "proxy-config endpoints: the app's socket and reviews' pods" \
      'grep -q "app.sock *HEALTHY *inbound|9080||" "$tmp/endpoints.txt" && grep -q "HEALTHY *outbound|9080|v2|reviews" "$tmp/endpoints.txt"'
    "$MESHLAB" proxy-config listeners productpage-v1 "${L[@]}" > "$tmp/listeners.txt" 2>&1
    check "proxy-config listeners: inbound on the service port, outbound on 15001" \
      'grep -q "^inbound .*:9080$" "$tmp/listeners.txt" && grep -q "^outbound .*:15001$" "$tmp/listeners.txt"'
    if command -v promtool >/dev/null; then
      bad=$(promtool check metrics < "$tmp/pp.metrics" 2>&1 |
        grep -v -E '^envoy_[a-z_]+ counter metrics should have "_total" suffix$' |
        grep -v -E '^[a-z_]+_milliseconds use base unit "seconds" instead of "milliseconds"$' | grep -v '^$')
      check "promtool accepts a sidecar's metrics (Istio's own names aside)" '[ -z "$bad" ]' "$bad"
    fi
  fi
else
  skip "curl through the ingress" "the sidecar has no --xds mode yet"
fi

# ---- down ----
pids=$("$MESHLAB" status -o json "${L[@]}" | python3 -c "
import json,sys
for r in json.load(sys.stdin)['replicas']:
    print(' '.join(str(p) for p in r['pids'].values() if p))")
labpid=$(cat "$lab/pid")
out=$("$MESHLAB" down "${L[@]}" 2>&1); rc=$?
check "down exits 0" '[ $rc = 0 ]' "$out"
until_ok 10 'gone $labpid $pids' # down returns once the lab said it stops; its children may take a moment
check "down: the lab and every app and sidecar are gone" \
  'gone $labpid $pids && ! pgrep -f "$lab/replicas" >/dev/null' \
  "left: $(pgrep -af "$lab/replicas")"
check "down removes pid and api" '[ ! -e "$lab/pid" ] && [ ! -e "$lab/api" ]'
out=$("$MESHLAB" down "${L[@]}" 2>&1); rc=$?
check "a second down exits 0" '[ $rc = 0 ]' "$out"
out=$("$MESHLAB" status "${L[@]}" 2>&1); rc=$?
check "status after down: exit 3" '[ $rc = 3 ]' "$out"

# ---- foreground up, stopped by SIGTERM ----
fg=$tmp/fg
labs+=("$fg")
"$MESHLAB" up --lab-dir "$fg" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 --addresses "$(range)" \
  > "$tmp/fg.out" 2>&1 &
fg_pid=$!
for _ in $(seq 1 100); do [ -s "$fg/api" ] && break; sleep 0.05; done
check "foreground up serves the API" '[ -s "$fg/api" ] && "$MESHLAB" status --lab-dir "$fg" >/dev/null' "$(cat "$tmp/fg.out")"
sleep 0.3
kill -TERM "$fg_pid"
wait "$fg_pid"; rc=$?
fg_pid=
check "foreground up: SIGTERM stops everything, exit 0" \
  '[ $rc = 0 ] && ! pgrep -f "$fg/replicas" >/dev/null && [ ! -e "$fg/pid" ]' "rc=$rc $(tail -5 "$tmp/fg.out")"

tap_finish
