#!/usr/bin/env bash
# End-to-end checks of the mesh option outboundTrafficPolicy (docs/routing.md, "Calls to hosts
# in no registry"): a lab started with `up --outbound-traffic-policy REGISTRY_ONLY` answers an
# in-mesh call to a host in no registry 502 from Istio's "block_all" route (no response flag,
# no body; BlackHoleCluster in the sidecar's metrics and in `meshlab why`) until a ServiceEntry
# registers the host, then the call reaches it. `status` reports the mode. The ALLOW_ANY default
# (passthrough) is checked in test_lab_control.sh. The lab runs in its own temp folder, on
# OS-assigned ingress ports and pod range 127.1.206.0/24; the trap stops it and the external app.
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

out=$("$MESHLAB" up "${L[@]}" --outbound-traffic-policy registry_only 2>&1); rc=$?
check "up --outbound-traffic-policy with a mode Istio does not name: usage error (exit 2)" \
  '[ $rc = 2 ] && echo "$out" | grep -q "is not ALLOW_ANY or REGISTRY_ONLY"' "rc=$rc $out"

# curl is a client-only workload: a sidecar and no app, as Istio's sleep/curl pod.
"$MESHLAB" up --detach "${L[@]}" -f curl --outbound-traffic-policy REGISTRY_ONLY --ingress 127.0.0.1:0 \
  --ingress-tls 127.0.0.1:0 --addresses 127.1.206.0/24 --wait 20s > "$tmp/up.out" 2>&1
rc=$?
check "up --detach --outbound-traffic-policy REGISTRY_ONLY" '[ $rc = 0 ]' "$(cat "$tmp/up.out")"
[ $rc = 0 ] || tap_finish

mode=$("$MESHLAB" status -o json "${L[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["mesh"]["outbound_traffic_policy"])')
check "status -o json: mesh.outbound_traffic_policy is REGISTRY_ONLY" '[ "$mode" = REGISTRY_ONLY ]' "$mode"
check "status (text) names the mode" '"$MESHLAB" status "${L[@]}" | grep -qx "outboundTrafficPolicy: REGISTRY_ONLY"' \
  "$("$MESHLAB" status "${L[@]}")"

external_start "$tmp/ext.out"

# call URL [curl flags]: through curl's sidecar, headers and body on stdout.
call() {
  local url=$1; shift
  "$MESHLAB" exec curl "${L[@]}" -- curl -s -m 5 -D - "$@" "$url"
}
out=$(call "http://api.external.example:$ext_port/" -H "x-request-id: egress-blocked")
check "REGISTRY_ONLY, no ServiceEntry: 502 with no body and no response flag (Istio's block_all route)" \
  'echo "$out" | grep -q "^HTTP/1.1 502" && echo "$out" | grep -qi "^content-length: 0" &&
   ! echo "$out" | grep -qi "^x-meshlab-response-flags"' "$out"
out=$(call "http://127.0.0.1:$ext_port/")
check "... a numeric address in no registry is blocked too" 'echo "$out" | grep -q "^HTTP/1.1 502"' "$out"
prom=$(curl -s -m 5 "http://$(cat "$lab/replicas/curl-0/admin")/stats/prometheus")
check "curl's sidecar counts it as destination_service_name BlackHoleCluster, service the Host, flags -" \
  'echo "$prom" | grep "^istio_requests_total{" | grep "destination_service=\"api.external.example:$ext_port\"" |
     grep "destination_service_name=\"BlackHoleCluster\"" | grep "response_code=\"502\"" | grep -q "response_flags=\"-\""' \
  "$(echo "$prom" | grep -i blackhole)"
why=$("$MESHLAB" why egress-blocked "${L[@]}" 2>&1)
check "meshlab why names the block_all route and BlackHoleCluster" \
  'echo "$why" | grep -q "REGISTRY_ONLY" && echo "$why" | grep -q "block_all" && echo "$why" | grep -q BlackHoleCluster' \
  "$why"

external_service_entry > "$tmp/se.yaml"
"$MESHLAB" apply "${L[@]}" -f "$tmp/se.yaml" > /dev/null
reached() { call "http://api.external.example:$ext_port/" | grep -q "outside the mesh"; }
check "after the ServiceEntry the same call reaches the external service (200)" 'until_ok 5 reached' \
  "$(call "http://api.external.example:$ext_port/")"
out=$(call "http://127.0.0.1:$ext_port/")
check "... while its address, still in no registry, stays blocked" 'echo "$out" | grep -q "^HTTP/1.1 502"' "$out"

tap_finish
