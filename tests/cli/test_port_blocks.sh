#!/usr/bin/env bash
# End-to-end checks of the lab in port blocks (docs/lab.md, "Port blocks"), the layout used where
# pod addresses beyond 127.0.0.1 cannot be bound: `up --port-blocks` puts every replica on
# 127.0.0.1 with a block of ports of its own. The built-in Bookinfo with Istio's gateway and
# reviews-v3 route shows red stars through the ingress, the registry's endpoints and the
# compiled configs name the blocks' ports, `exec` leaves through the replica's outbound slot,
# scale gives a new replica its own block, a killed sidecar returns on its block, and `down`
# leaves no process. A second lab on unbindable pod addresses (192.0.2.0/24) shows the detection
# choosing port blocks by itself. Each lab runs in its own temp folder on OS-assigned ingress
# ports; its blocks are probed free by the lab itself (no fixed port here); the trap stops it.
set -u
MESHLAB=${MESHLAB_BIN:?MESHLAB_BIN must name the meshlab binary}
tmp=$(mktemp -d)
lab=$tmp/lab
auto=$tmp/auto
labpid=
cleanup() {
  "$MESHLAB" down --lab-dir "$lab" >/dev/null 2>&1
  "$MESHLAB" down --lab-dir "$auto" >/dev/null 2>&1
  # the lab's pid, should down have failed (its children die with it)
  [ -n "$labpid" ] && kill -9 "$labpid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/tap.sh"
L=(--lab-dir "$lab")

need_conformance istio/bookinfo-networking
networking=$conf/istio/bookinfo-networking


out=$("$MESHLAB" up --port-blocks 80 "${L[@]}" 2>&1); rc=$?
check "up --port-blocks 80: exit 2 (a BASE below 1024)" '[ $rc = 2 ] && echo "$out" | grep -q "port-blocks"' "$rc $out"

"$MESHLAB" up --detach --port-blocks "${L[@]}" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 --wait 30s \
  > "$tmp/up.out" 2>&1
rc=$?
check "up --detach --port-blocks: ready, with the notice" '[ $rc = 0 ] && grep -q "^notice: .*port" "$tmp/up.out"' \
  "$(cat "$tmp/up.out")"
[ $rc = 0 ] || { tail -30 "$lab/lab.log"; tap_finish; }
labpid=$(cat "$lab/pid")
ingress=$(cat "$lab/ingress")

# ---- the layout ----
"$MESHLAB" status -o json "${L[@]}" > "$tmp/status.json"
check "status: every replica on 127.0.0.1 in a block of its own; service ports at offset 4; outbound file at +1" \
  'python3 - "$tmp/status.json" "$lab" <<EOF
import json, sys, os
d = json.load(open(sys.argv[1]))
bases = []
for r in d["replicas"]:
    b = r["port_block"]
    assert r["address"] == "127.0.0.1", r
    assert b and b["size"] == 16 and b["admin"] == b["base"] and b["outbound"] == b["base"] + 1, r
    bases.append(b["base"])
    folder = r["name"] if r["namespace"] == "default" else r["name"] + "." + r["namespace"]
    assert open(os.path.join(sys.argv[2], "replicas", folder, "outbound")).read().strip() == "127.0.0.1:%d" % b["outbound"], r
    if r["namespace"] == "default":
        assert b["ports"] == {"9080": b["base"] + 4}, r
bases.sort()
assert all(b2 - b1 >= 16 for b1, b2 in zip(bases, bases[1:])), bases
EOF' "$(cat "$tmp/status.json")"
block() { python3 -c "
import json,sys
print([r for r in json.load(open(sys.argv[1]))['replicas'] if r['name']==sys.argv[2]][0]['port_block']['base'])" \
  "$tmp/status.json" "$1"; }
pp=$(block productpage-v1-0); r3=$(block reviews-v3-0)
out=$("$MESHLAB" status "${L[@]}")
check "status (table): the block and SERVICE-PORT@PORT" \
  'echo "$out" | grep -qE "^default +productpage-v1-0 +127\.0\.0\.1:$pp-$((pp + 15)) +9080@$((pp + 4)) "' "$out"

# ---- Istio's Bookinfo routing through the ingress ----
out=$("$MESHLAB" apply "${L[@]}" -f "$networking/bookinfo-gateway.yaml" -f "$networking/destination-rule-all.yaml" \
  -f "$networking/virtual-service-reviews-v3.yaml" 2>&1); rc=$?
check "apply bookinfo-gateway, destination-rule-all, virtual-service-reviews-v3" '[ $rc = 0 ]' "$out"
stars() { curl -s -m 5 "http://$ingress/productpage" | grep -oE 'color="[a-z]+"' | sort -u | tr '\n' ' '; }
check "the productpage through the ingress shows red stars (reviews v3)" \
  'until_ok 15 "[ \"\$(stars)\" = \"color=\\\"red\\\" \" ]"' "stars: $(stars)"
out=$("$MESHLAB" proxy-status "${L[@]}")
check "proxy-status: every proxy SYNCED" '[ "$(echo "$out" | awk "NR > 1 && \$2 != \"SYNCED\"" | wc -l)" = 0 ]' "$out"
out=$("$MESHLAB" proxy-config endpoints productpage-v1 "${L[@]}" 2>&1)
check "proxy-config endpoints: reviews-v3 at its block's service slot" \
  'echo "$out" | grep -qE "^127\.0\.0\.1:$((r3 + 4)) +HEALTHY +outbound\|9080\|v3\|reviews"' "$out"
out=$("$MESHLAB" proxy-config listeners productpage-v1 "${L[@]}" 2>&1)
check "proxy-config listeners: the inbound listener on its slot" 'echo "$out" | grep -q "127.0.0.1:$((pp + 4))"' "$out"

# ---- exec ----
out=$("$MESHLAB" exec productpage-v1 "${L[@]}" -- sh -c 'echo "$http_proxy"')
check "exec: http_proxy is the replica's outbound slot" '[ "$out" = "http://127.0.0.1:$((pp + 1))" ]' "$out"
out=$("$MESHLAB" exec productpage-v1 "${L[@]}" -- curl -s -m 10 http://reviews:9080/reviews/0); rc=$?
check "exec productpage-v1 -- curl reviews: routed to reviews-v3 through the sidecar" \
  '[ $rc = 0 ] && echo "$out" | python3 -c "import json,sys; assert json.load(sys.stdin)[\"podname\"] == \"reviews-v3-0\""' \
  "rc=$rc $out"

# ---- scale and kill: a new replica gets a new block; a killed sidecar comes back on its own ----
out=$("$MESHLAB" scale reviews-v3 --replicas 2 "${L[@]}" 2>&1)
check "scale reviews-v3 --replicas 2: reviews-v3-1 serves in a block of its own" \
  'until_ok 15 "\"$MESHLAB\" status \"\${L[@]}\" | grep -qE \"^default +reviews-v3-1 +127\\.0\\.0\\.1:[0-9]+-[0-9]+ .* running +serving \"" &&
   [ "$("$MESHLAB" status "${L[@]}" | awk "\$3 ~ /^127/ { print \$3 }" | sort | uniq -d)" = "" ]' \
  "$out $("$MESHLAB" status "${L[@]}")"
seen=
for _ in $(seq 1 40); do
  p=$("$MESHLAB" exec productpage-v1 "${L[@]}" -- curl -s -m 5 http://reviews:9080/reviews/0 |
    python3 -c "import json,sys; print(json.load(sys.stdin)['podname'])" 2>/dev/null)
  case " $seen " in *" $p "*) ;; *) seen="$seen $p" ;; esac
  case "$seen" in *reviews-v3-0*reviews-v3-1*|*reviews-v3-1*reviews-v3-0*) break ;; esac
done
check "... requests reach both reviews-v3 replicas" 'echo "$seen" | grep -q reviews-v3-0 && echo "$seen" | grep -q reviews-v3-1' \
  "seen:$seen"
"$MESHLAB" kill productpage-v1-0 -c sidecar "${L[@]}" > /dev/null 2>&1
check "kill productpage's sidecar: it comes back on its block and the ingress serves again" \
  'until_ok 20 "[ \"\$(stars)\" = \"color=\\\"red\\\" \" ]"' "$("$MESHLAB" status "${L[@]}")"

# ---- a Service whose targetPort differs from its port (httpbin: 8000 -> 8080) ----
"$MESHLAB" apply "${L[@]}" -f httpbin > /dev/null
code() { "$MESHLAB" exec productpage-v1 "${L[@]}" -- curl -s -m 5 -o /dev/null -w '%{http_code}' http://httpbin:8000/get; }
check "httpbin applied: reached at httpbin:8000 through its block's slot for 8080" 'until_ok 15 "[ \"\$(code)\" = 200 ]"' \
  "$(code) $("$MESHLAB" status "${L[@]}" | grep httpbin)"
out=$("$MESHLAB" status -o json "${L[@]}" | python3 -c "
import json,sys
b = [r for r in json.load(sys.stdin)['replicas'] if r['name'] == 'httpbin-0'][0]['port_block']
print(b['ports'] == {'8000': b['base'] + 4})")
check "... status maps service port 8000 to the block's first service slot" '[ "$out" = True ]' "$out"

# ---- detection: pod addresses that cannot be bound switch to port blocks by themselves ----
# 192.0.2.0/24 (TEST-NET-1, RFC 5737) is on no interface: binding it is EADDRNOTAVAIL, as
# 127.1.0.1 is on macOS without aliases.
# (A host with ip_nonlocal_bind set binds anything: nothing to detect there.)
if python3 -c 'import socket; socket.socket().bind(("192.0.2.1", 0))' 2>/dev/null; then
  skip "up with unbindable pod addresses" "192.0.2.1 can be bound here (ip_nonlocal_bind?)"
else
  "$MESHLAB" up --detach -f httpbin --lab-dir "$auto" --addresses 192.0.2.0/24 --ingress 127.0.0.1:0 \
    --ingress-tls 127.0.0.1:0 --wait 30s > "$tmp/auto.out" 2>&1
  rc=$?
  out=$("$MESHLAB" status --lab-dir "$auto" 2>&1)
  check "up with unbindable pod addresses: port blocks, with the notice" \
    '[ $rc = 0 ] && grep -q "^notice: " "$tmp/auto.out" && grep -q "cannot be bound here (EADDRNOTAVAIL)" "$auto/lab.log" &&
     echo "$out" | grep -qE "^default +httpbin-0 +127\.0\.0\.1:[0-9]+-[0-9]+ +8000@[0-9]+ +running +serving "' \
    "$(cat "$tmp/auto.out"; echo "$out")"
  "$MESHLAB" down --lab-dir "$auto" > /dev/null 2>&1
fi

# ---- down ----
pids=$("$MESHLAB" status -o json "${L[@]}" | python3 -c "
import json,sys
for r in json.load(sys.stdin)['replicas']:
    print(' '.join(str(p) for p in r['pids'].values() if p))")
out=$("$MESHLAB" down "${L[@]}" 2>&1); rc=$?
check "down exits 0" '[ $rc = 0 ]' "$out"
until_ok 10 'gone $labpid $pids' # down returns once the lab said it stops; its children may take a moment
check "down: the lab and every app and sidecar are gone" 'gone $labpid $pids' "left: $(ps -o pid=,args= -p "$labpid $pids" 2>/dev/null)"
check "down removes pid, api and port_blocks" '[ ! -e "$lab/pid" ] && [ ! -e "$lab/api" ] && [ ! -e "$lab/port_blocks" ]'

tap_finish
