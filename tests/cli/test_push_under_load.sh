#!/usr/bin/env bash
# Config push under steady load (issue 3): a lab started on Istio's own Bookinfo manifest
# (bookinfo-platform/bookinfo.yaml) with Istio's bookinfo-gateway.yaml serves
# http://<ingress>/productpage; then, while `meshlab load` sends 500 rps (MESHLAB_PUSH_QPS) to it, 20 routing changes
# (Istio's reviews VirtualServices, in turn) are applied ~0.4 s apart, each waited on until every
# sidecar acknowledged it. No request may fail: the load's codes must be 200 only (no 5xx, no -1)
# and it must reach 95 % of its target rate.
#
# MESHLAB_PUSH_QPS sets the rate (default 500, the issue's figure) and MESHLAB_PUSH_ADDRESSES the
# lab's /24: the sanitizer tree runs its own binary at a rate ASan can carry, and
# the release binary at 500 rps alone (tests/CMakeLists.txt).
#
# The lab runs in a temp folder, on OS-assigned ingress ports and its own /24 of pod addresses;
# the trap stops it (`meshlab down`) and the load generator (by pid).
# shellcheck disable=SC2016,SC2034  # check() evals its single-quoted condition, which reads these variables
set -u
MESHLAB=${MESHLAB_BIN:?MESHLAB_BIN must name the meshlab binary}
tmp=$(mktemp -d)
lab=$tmp/lab
load_pid=
cleanup() {
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
  "$MESHLAB" down --lab-dir "$lab" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/tap.sh"

need_conformance istio/bookinfo-networking istio/bookinfo-platform/bookinfo.yaml
networking=$conf/istio/bookinfo-networking
platform=$conf/istio/bookinfo-platform/bookinfo.yaml

QPS=${MESHLAB_PUSH_QPS:-500}
CONNS=8
CHANGES=20
GAP=0.4          # seconds between one change being acknowledged everywhere and the next apply
SYNC_WAIT_MS=5000 # bound on waiting for every sidecar to acknowledge one change
LOAD_MAX_S=90    # the load is ended with SIGINT 1 s after the last change (about 12 s in all)

L=(--lab-dir "$lab")

# ---- Istio's own Bookinfo manifest and gateway ----
"$MESHLAB" up --detach "${L[@]}" -f "$platform" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 \
  --addresses "${MESHLAB_PUSH_ADDRESSES:-127.1.201.0/24}" --seed 11 --wait 15s > "$tmp/up.out" 2> "$tmp/up.err"
rc=$?
check "up -f Istio's bookinfo.yaml --detach exits 0" '[ $rc = 0 ]' "$(cat "$tmp/up.out" "$tmp/up.err")"
[ $rc = 0 ] || tap_finish
echo "# $(grep -o 'lab ready in [0-9]* ms' "$tmp/up.out")"
ingress=$(cat "$lab/ingress")
"$MESHLAB" status -o json "${L[@]}" > "$tmp/status.json"
check "Istio's manifest starts the built-in Bookinfo's workloads (6 replicas + the ingress gateway)" \
  'python3 - "$tmp/status.json" <<EOF
import json, sys
d = json.load(open(sys.argv[1]))
names = sorted(r["name"] for r in d["replicas"])
assert names == sorted(["details-v1-0", "productpage-v1-0", "ratings-v1-0", "reviews-v1-0", "reviews-v2-0",
                        "reviews-v3-0", "istio-ingressgateway-0"]), names
for r in d["replicas"]:
    if r["name"] != "istio-ingressgateway-0":
        assert r["app"] == "running" and r["ports"] == [9080], r
    assert r["sidecar"] == "serving", r
EOF' "$(cat "$tmp/status.json")"

out=$("$MESHLAB" apply "${L[@]}" -f "$networking/bookinfo-gateway.yaml" 2>&1); rc=$?
check "apply Istio's bookinfo-gateway.yaml (server port 8080 maps to --ingress)" '[ $rc = 0 ]' "$out"
code=
for _ in $(seq 1 50); do
  code=$(curl -s -m 5 -o "$tmp/page.html" -w '%{http_code}' "http://$ingress/productpage")
  [ "$code" = 200 ] && break
  sleep 0.1
done
check "curl http://<ingress>/productpage: 200 with the page (details and reviews)" \
  '[ "$code" = 200 ] && grep -qi "book details" "$tmp/page.html" && grep -qi "book reviews" "$tmp/page.html"' \
  "code=$code $(head -c 400 "$tmp/page.html" 2>/dev/null)"
[ "$code" = 200 ] || tap_finish

out=$("$MESHLAB" apply "${L[@]}" -f "$networking/destination-rule-all.yaml" \
  -f "$networking/virtual-service-all-v1.yaml" 2>&1); rc=$?
check "apply Istio's destination-rule-all.yaml and virtual-service-all-v1.yaml" '[ $rc = 0 ]' "$out"

# synced: every proxy acknowledged the latest config the lab holds for it (a reviews change need
# not touch every proxy's config; each proxy's latest is its own). Reads `meshlab proxy-status`'s
# table with awk rather than its JSON with python3: under 500 rps on two cores a python3 start
# costs hundreds of milliseconds, which would stretch the changes past the load.
synced() {
  "$MESHLAB" proxy-status "${L[@]}" 2>/dev/null |
    awk 'NR == 1 { next } { n++ } $2 != "SYNCED" || $3 != $4 { bad++ } END { exit !(n > 0 && !bad) }'
}
# wait_synced MS: every proxy synced within MS; prints the time it took in ms.
wait_synced() {
  local t0 now
  t0=$(date +%s%N)
  while :; do
    if synced >/dev/null; then echo $(( ($(date +%s%N) - t0) / 1000000 )); return 0; fi
    now=$(date +%s%N)
    [ $(( (now - t0) / 1000000 )) -ge "$1" ] && return 1
    sleep 0.005
  done
}
wait_synced $SYNC_WAIT_MS >/dev/null
check "every proxy SYNCED before the load" 'synced >/dev/null' "$("$MESHLAB" proxy-status "${L[@]}")"

# ---- 20 changes under $QPS rps ----
# The load runs until 1 s after the last change, then SIGINT ends it (meshlab load still prints
# what it measured, with the rate over the time it ran), so a busy machine stretching the changes
# cannot leave some of them outside the load.
"$MESHLAB" load "http://$ingress/productpage" --qps $QPS --connections $CONNS --duration ${LOAD_MAX_S}s --timeout 5s \
  -o json > "$tmp/load.json" 2> "$tmp/load.err" &
load_pid=$!
sleep 1
files=(virtual-service-reviews-90-10.yaml virtual-service-reviews-50-v3.yaml virtual-service-reviews-v3.yaml
       virtual-service-all-v1.yaml)
applied=0 acked=0 sync_ms=() apply_fail=
t_start=$(date +%s%N)
for i in $(seq 0 $((CHANGES - 1))); do
  f=${files[$((i % ${#files[@]}))]}
  out=$("$MESHLAB" apply "${L[@]}" -f "$networking/$f" 2>&1); rc=$?
  if [ $rc = 0 ] && echo "$out" | grep -q "virtualservice.networking.istio.io/reviews configured"; then
    applied=$((applied + 1))
  else
    apply_fail+="change $i ($f): rc=$rc $out"$'\n'
  fi
  if ms=$(wait_synced $SYNC_WAIT_MS); then acked=$((acked + 1)); sync_ms+=("$ms"); fi
  sleep $GAP
done
changes_s=$(( ($(date +%s%N) - t_start) / 1000000 ))
sleep 1
load_running=0; kill -0 "$load_pid" 2>/dev/null && load_running=1
kill -INT "$load_pid" 2>/dev/null
wait "$load_pid"; load_rc=$?
load_pid=
echo "# $CHANGES changes applied over $changes_s ms; time to every sidecar SYNCED (as polled by the CLI, ms): ${sync_ms[*]}"
check "each of the $CHANGES applies reconfigured reviews" '[ $applied = $CHANGES ]' "$apply_fail"
check "each change was acknowledged by every sidecar within ${SYNC_WAIT_MS} ms" '[ $acked = $CHANGES ]' \
  "$("$MESHLAB" proxy-status "${L[@]}")"
check "the changes all happened while the load ran" '[ $load_running = 1 ]' "changes took $changes_s ms"
check "meshlab load exits 0" '[ $load_rc = 0 ]' "$(cat "$tmp/load.err")"

summary=$(python3 - "$tmp/load.json" $QPS <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
l = d["latency_ms"]
print("requests=%d qps=%.1f (target %s) codes=%s flags=%s errors=%d sockets=%d latency_ms p50=%.2f p99=%.2f max=%.2f"
      % (d["requests"], d["qps"], sys.argv[2], json.dumps(d["codes"]), json.dumps(d["flags"]), d["errors"],
         d.get("sockets", 0), l["p50"], l["p99"], l["max"]))
EOF
)
echo "# load: $summary"
check "no request failed across the changes: every code is 200" \
  'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert set(d[\"codes\"]) == {\"200\"} and d[\"errors\"] == 0 and d[\"codes\"][\"200\"] > 0" "$tmp/load.json"' \
  "$summary"
check "the load reached at least 95 % of $QPS rps" \
  'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"qps\"] >= 0.95 * int(sys.argv[2])" "$tmp/load.json" $QPS' \
  "$summary"
# The changes took effect: 90-10 sends some traffic to v2, 50-v3 and v3 to v3, all-v1 to v1, so
# every reviews replica served requests (inbound lines in its sidecar's access log).
counts=$(for v in 1 2 3; do printf 'v%s=%s ' $v "$(wc -l < "$lab/replicas/reviews-v$v-0/access.log" 2>/dev/null || echo 0)"; done)
echo "# access-log lines of reviews: $counts"
check "the routing changes took effect: reviews v1, v2 and v3 all served requests" \
  '! echo "$counts" | grep -qE "v[123]=0 "' "$counts"
if ! python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert set(d['codes']) == {'200'}" "$tmp/load.json" 2>/dev/null; then
  # What went wrong, from the sidecars' own access logs: every non-200 line with its flags.
  echo "# non-200 access-log lines (replica: line):"
  for log in "$lab"/replicas/*/access.log; do
    r=$(basename "$(dirname "$log")")
    grep -v '" 200 ' "$log" | head -20 | sed "s|^|#   $r: |"
  done
fi

tap_finish
