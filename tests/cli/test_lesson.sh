#!/usr/bin/env bash
# Runs one lesson headless, as CI does: `meshlab run N --headless` in a lab folder of its own
# with its own pod address range and OS-assigned ingress ports, so lessons run side by side.
# The lesson's TAP goes to ctest's output; the exit code is the lesson's (0 passed). On a
# failure the end of the lab's log follows, as # lines.
#
#   test_lesson.sh NUMBER RANGE     e.g. test_lesson.sh 3 127.1.213.0/24
#   test_lesson.sh exits RANGE      the exit-code contract: a failed expect exits 1 with its
#                                   `not ok` line and the observed values; a Lua error exits 2
#                                   with file:line; an unknown lesson exits 2; reset() restores
#                                   the lab's clean state
set -u
MESHLAB=${MESHLAB_BIN:?MESHLAB_BIN must name the meshlab binary}
what=${1:?lesson number or "exits"} range=${2:?pod address range}
tmp=$(mktemp -d)
lab=$tmp/lab
cleanup() {
  "$MESHLAB" down --lab-dir "$lab" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
flags=(--headless --seed 7 --lab-dir "$lab" --addresses "$range" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0)

if [ "$what" != exits ]; then
  "$MESHLAB" run "$what" "${flags[@]}"
  rc=$?
  if [ $rc != 0 ]; then
    echo "# meshlab run $what exited $rc; the end of the lab's log:"
    tail -n 30 "$lab/lab.log" 2>/dev/null | sed 's/^/#   /'
  fi
  exit $rc
fi

. "$(dirname "$0")/tap.sh"
"$MESHLAB" up --detach --lab-dir "$lab" --addresses "$range" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 \
  --wait 30s > "$tmp/up.out" 2>&1
check "a lab for the exit-code checks" '[ $? = 0 ]' "$(cat "$tmp/up.out")"

cat > "$tmp/fail.lua" <<'LUA'
lesson { title = "a failing expectation", duration = "1 s" }
step("check something false", function()
  local observed = {share = 0.25, requests = 40}
  expect(true, "this one holds")
  expect(observed.share > 0.5, "more than half goes to v3", observed)
end)
expect(true, "the lesson goes on after a failed expectation")
LUA
out=$("$MESHLAB" run "$tmp/fail.lua" "${flags[@]}" 2>&1); rc=$?
check "a failed expect exits 1" '[ $rc = 1 ]' "$out"
check "... with its TAP not ok line" 'echo "$out" | grep -qx "not ok 2 - more than half goes to v3"' "$out"
check "... the observed values and the step" \
  'echo "$out" | grep -q "^#   observed: {requests=40, share=0.25}" && echo "$out" | grep -q "^#   in step 1: check something false (.*fail.lua:5)"' "$out"
check "... and the plan" 'echo "$out" | grep -qx "ok 3 - the lesson goes on after a failed expectation" && echo "$out" | grep -qx "1..3"' "$out"

cat > "$tmp/broken.lua" <<'LUA'
lesson { title = "a Lua error" }
say("line 2")
local config = nil
print(config.reviews)
LUA
out=$("$MESHLAB" run "$tmp/broken.lua" "${flags[@]}" 2>&1); rc=$?
check "a Lua error exits 2" '[ $rc = 2 ]' "$out"
check "... naming file:line" 'echo "$out" | grep -q "broken.lua:4: attempt to index a nil value"' "$out"
check "... as a not ok line, then the plan" 'echo "$out" | grep -q "^not ok 1 - the lesson stopped" && echo "$out" | tail -1 | grep -qx "1..1"' "$out"

cat > "$tmp/yaml.lua" <<'LUA'
lesson { title = "bad YAML" }
apply [[
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hostz: [reviews]
]]
LUA
out=$("$MESHLAB" run "$tmp/yaml.lua" "${flags[@]}" 2>&1); rc=$?
check "bad YAML exits 2 with the lab's diagnostic at the lesson's line" \
  '[ $rc = 2 ] && echo "$out" | grep -q "yaml.lua:2: apply failed" && echo "$out" | grep -q "unknown field .hostz."' "$out"

# POST /v1/reset: Istio resources applied since start deleted, replica counts back, chaos cleared.
cat > "$tmp/reset.lua" <<'LUA'
lesson { title = "reset" }
apply(bookinfo.gateway)
apply(bookinfo.destination_rule_all)
scale("details-v1", 2)
chaos("ratings-v1", {error_rate = 1, code = 503})
local before = http.get("http://ratings:9080/ratings/0", {from = "reviews-v2"})
expect(before.status == 503, "chaos: ratings answers 503", before.status)
local out = reset()
say(out)
expect(get("gateway", "bookinfo-gateway") == nil and get("dr", "reviews") == nil, "reset deletes the Istio resources")
expect(#replicas("details-v1-") == 1, "reset scales details-v1 back to 1", replicas("details-v1-"))
local after = http.get("http://ratings:9080/ratings/0", {from = "reviews-v2"})
expect(after.status == 200, "reset clears chaos", after.status)
expect(get("deploy", "productpage-v1") ~= nil, "the manifest's own objects stay")
LUA
out=$("$MESHLAB" run "$tmp/reset.lua" "${flags[@]}" 2>&1); rc=$?
check "reset(): the lab's clean state (POST /v1/reset)" '[ $rc = 0 ]' "$out"
check "... its answer lists what it deleted, scaled and cleared" \
  'echo "$out" | grep -q "virtualservice.networking.istio.io \"bookinfo\" deleted" && echo "$out" | grep -q "deployment.apps/details-v1 scaled" && echo "$out" | grep -q "ratings-v1-0: chaos cleared"' "$out"

out=$("$MESHLAB" run 99 "${flags[@]}" 2>&1); rc=$?
check "an unknown lesson exits 2" '[ $rc = 2 ] && echo "$out" | grep -q "no lesson \"99\""' "$out"

"$MESHLAB" down --lab-dir "$lab" > /dev/null 2>&1
out=$("$MESHLAB" run "$tmp/fail.lua" --headless --lab-dir "$lab" --addresses "$range" --ingress bogus \
  --ingress-tls 127.0.0.1:0 --wait 3s 2>&1); rc=$?
check "a lab that cannot start exits 3 (Bail out!)" '[ $rc = 3 ] && echo "$out" | grep -q "^Bail out!"' "$out"

out=$("$MESHLAB" lessons 2>&1)
check "meshlab lessons lists number, name, title and duration" \
  'echo "$out" | grep -qE "^3 +canary +Canary: shifting traffic by weight +1 min"' "$out"
tap_finish
