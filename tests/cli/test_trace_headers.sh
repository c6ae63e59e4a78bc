#!/usr/bin/env bash
# End-to-end: the apps' header forwarding, the knob `meshlab chaos --headers-forwarding` and Lua
# chaos{headers_forwarding=...} turn (docs/apps.md "Header forwarding", docs/lab.md), and what
# falls apart without it. A request sent through the ingress with a known x-request-id keeps that
# id on every hop while the apps forward it (the lab's sampled requests, GET /v1/requests, and
# `meshlab why`); with forwarding off in reviews, productpage -> reviews still carries it but the
# call to ratings gets a fresh id from reviews' sidecar. And Istio's fault-injection task: the
# ratings-test-delay rule matches `end-user: jason` on the call to ratings, so with forwarding
# off in reviews the fault never fires for jason; --clear turns forwarding on and it fires again.
# Traffic stays a few requests, so the sampled log (20 records per report) keeps every one.
# The lab runs in its own temp folder, on OS-assigned ingress ports and its own pod address
# range (127.1.230.0/24); the trap stops it.
# shellcheck disable=SC2016  # check() evals its single-quoted condition, which reads these variables
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

need_conformance istio/bookinfo-networking
net=$conf/istio/bookinfo-networking

# ---- usage, no lab needed ----
out=$("$MESHLAB" chaos reviews --headers-forwarding maybe "${L[@]}" 2>&1); rc=$?
check "chaos --headers-forwarding maybe: usage error (exit 2) naming on and off" \
  '[ $rc = 2 ] && echo "$out" | grep -q "on or off"' "rc=$rc $out"
out=$("$MESHLAB" chaos reviews --headers-forwarding off --clear "${L[@]}" 2>&1); rc=$?
check "chaos --headers-forwarding with --clear: usage error (exit 2)" '[ $rc = 2 ]' "rc=$rc $out"
check "chaos --help lists --headers-forwarding on|off" \
  '"$MESHLAB" chaos --help | grep -q -- "--headers-forwarding on|off"'

# ---- the lab: Bookinfo, jason routed to reviews v2 (the only version here calling ratings) ----
"$MESHLAB" up --detach "${L[@]}" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 \
  --addresses 127.1.230.0/24 --wait 20s > "$tmp/up.out" 2>&1
rc=$?
check "up --detach" '[ $rc = 0 ]' "$(cat "$tmp/up.out")"
[ $rc = 0 ] || tap_finish
ingress=$(cat "$lab/ingress")
api=$(cat "$lab/api")

apply() { "$MESHLAB" apply "${L[@]}" "$@" > "$tmp/apply.out" 2>&1; }
apply -f "$net/bookinfo-gateway.yaml" -f "$net/destination-rule-all.yaml" -f "$net/virtual-service-all-v1.yaml" \
  -f "$net/virtual-service-reviews-test-v2.yaml"
check "apply Bookinfo's gateway, destination rules, all-v1 and reviews-test-v2" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"

# page ID: jason's /productpage through the ingress with x-request-id ID; prints seconds.
page() {
  curl -s -m 20 -H "x-request-id: $1" -H 'cookie: user=jason' -o "$tmp/page.html" -w '%{time_total}' \
    "http://$ingress/productpage"
}
# ids SERVICE: the request ids of the sampled calls to SERVICE (reviews, ratings), one a line.
ids() {
  curl -s -m 5 "http://$api/v1/requests?limit=1000&destination_service=$1.default.svc.cluster.local" |
    python3 -c 'import json,sys; [print(r["request_id"]) for r in json.load(sys.stdin) if r["path"].startswith("/'"$1"'/")]'
}
# both_sides SERVICE ID: the call to SERVICE with ID is in the log from its caller's sidecar and
# from SERVICE's own (source and destination reporters), so the hop is settled.
both_sides() { [ "$(ids "$1" | grep -cxF "$2")" -ge 2 ]; }
# hops ID: "REPLICA DIRECTION PATH" of each `meshlab why ID` record, in hop order.
hops() {
  "$MESHLAB" why "$1" -o json "${L[@]}" 2>/dev/null |
    python3 -c 'import json,sys; [print(r["proxy"], r["direction"], r["path"]) for r in json.load(sys.stdin)["records"]]'
}
# knob REPLICA: its app's headers_forwarding, as GET /chaos on its control socket answers.
knob() {
  curl -s -m 5 --unix-socket "$lab/replicas/$1/control.sock" http://control/chaos |
    python3 -c 'import json,sys; print(str(json.load(sys.stdin)["headers_forwarding"]).lower())'
}

# ---- forwarding on: one id from the ingress to ratings ----
until_ok 10 'page trace-warm >/dev/null && grep -q "glyphicon-star" "$tmp/page.html"'
check "jason sees reviews v2 (stars)" '[ $? = 0 ]'
page trace-on-1 > /dev/null
until_ok 10 'both_sides ratings trace-on-1'
check "forwarding on: the sampled calls to ratings carry the ingress's x-request-id" '[ $? = 0 ]' \
  "ratings ids: $(ids ratings | tr '\n' ' ')"
check "... and so do the calls to reviews" 'both_sides reviews trace-on-1' "reviews ids: $(ids reviews | tr '\n' ' ')"
hops trace-on-1 > "$tmp/hops"
check "meshlab why trace-on-1: reviews-v2-0's call to ratings and ratings' inbound are hops of the request" \
  'grep -qx "reviews-v2-0 outbound /ratings/0" "$tmp/hops" && grep -qx "ratings-v1-0 inbound /ratings/0" "$tmp/hops"' \
  "$(cat "$tmp/hops")"

# ---- forwarding off in reviews: the trace falls apart at reviews ----
out=$("$MESHLAB" chaos reviews --headers-forwarding off "${L[@]}" 2>&1); rc=$?
check "chaos reviews --headers-forwarding off: one line per reviews replica, forwarding false" \
  '[ $rc = 0 ] && [ "$(echo "$out" | grep -c "^reviews-v[123]-0: .*\"headers_forwarding\":false")" = 3 ]' "rc=$rc $out"
check "... the apps hold it (GET /chaos on reviews-v2-0's control socket)" '[ "$(knob reviews-v2-0)" = false ]'
check "... and the other apps keep forwarding" '[ "$(knob productpage-v1-0)" = true ]'
ratings_before=$(ids ratings | wc -l)
page trace-off-1 > /dev/null
until_ok 10 'both_sides reviews trace-off-1 && [ "$(ids ratings | wc -l)" -ge $((ratings_before + 2)) ]'
check "forwarding off: productpage -> reviews still carries the id, and ratings got called" '[ $? = 0 ]' \
  "reviews ids: $(ids reviews | tr '\n' ' '); ratings: $ratings_before before, $(ids ratings | wc -l) now"
ids ratings | tail -n +$((ratings_before + 1)) > "$tmp/fresh"
check "... but the calls to ratings carry a fresh id, not the request's" \
  '[ -s "$tmp/fresh" ] && ! grep -qxF trace-off-1 "$tmp/fresh" && ! grep -qx "" "$tmp/fresh" &&
   [ "$(sort -u "$tmp/fresh" | wc -l)" = 1 ]' "new ratings ids: $(tr '\n' ' ' < "$tmp/fresh")"
hops trace-off-1 > "$tmp/hops"
check "... and meshlab why trace-off-1 ends at reviews: no hop to ratings" \
  'grep -qx "reviews-v2-0 inbound /reviews/0" "$tmp/hops" && ! grep -q /ratings/ "$tmp/hops"' "$(cat "$tmp/hops")"

# ---- Istio's ratings-test-delay: the match needs end-user on the call to ratings ----
apply -f "$net/virtual-service-ratings-test-delay.yaml"
check "apply ratings-test-delay (7 s for end-user: jason)" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
sleep 0.5
t=$(page fault-off-1)
check "forwarding off in reviews: ratings never sees end-user, the fault never fires for jason (page in ${t} s)" \
  'python3 -c "import sys; assert float(sys.argv[1]) < 3" "$t" 2>/dev/null && grep -q "glyphicon-star" "$tmp/page.html" &&
   ! grep -q "Sorry" "$tmp/page.html"' "t=$t $(grep -i -E "sorry|unavailable" "$tmp/page.html" | head -3)"

out=$("$MESHLAB" chaos reviews --clear "${L[@]}" 2>&1); rc=$?
check "chaos reviews --clear: forwarding back on" \
  '[ $rc = 0 ] && [ "$(echo "$out" | grep -c "^reviews-v[123]-0: chaos cleared$")" = 3 ] && [ "$(knob reviews-v2-0)" = true ]' \
  "rc=$rc $out"
t=$(page fault-on-1)
check "forwarding on: the fault fires for jason again, the page gives up on reviews after about 6 s (${t} s)" \
  'grep -q "Sorry, product reviews are currently unavailable for this book." "$tmp/page.html" &&
   python3 -c "import sys; assert 5.5 <= float(sys.argv[1]) <= 9" "$t" 2>/dev/null' \
  "t=$t $(grep -i -E "sorry|unavailable" "$tmp/page.html" | head -3)"
until_ok 5 'both_sides ratings fault-on-1'
check "... and the delayed call to ratings carries the request's id" '[ $? = 0 ]' "ratings ids: $(ids ratings | tr '\n' ' ')"

# ---- the lesson API's key, chaos(W, {headers_forwarding = ...}) ----
cat > "$tmp/forwarding.lua" <<'EOF'
lesson { title = "Header forwarding knob", goal = "chaos{headers_forwarding} reaches the apps", duration = "1 min" }
step("off, then clear", function()
  local out = chaos("reviews-v2", {headers_forwarding = false})
  expect(out:find('"headers_forwarding":false', 1, true) ~= nil, "chaos answers the knob off", out)
end)
EOF
out=$("$MESHLAB" run "$tmp/forwarding.lua" --headless "${L[@]}" 2>&1); rc=$?
check "Lua chaos(\"reviews-v2\", {headers_forwarding = false}) turns it off in reviews-v2 only" \
  '[ $rc = 0 ] && [ "$(knob reviews-v2-0)" = false ] && [ "$(knob reviews-v3-0)" = true ]' "rc=$rc $out"
tap_finish
