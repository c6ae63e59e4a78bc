#!/usr/bin/env bash
# End-to-end checks of `meshlab why REQUEST_ID` (docs/why.md, ../shared/CLI.md): with no lab it
# exits 3 with CLI.md's message; in a running lab an unknown request id exits 1 with the
# "no trace" message (text and -o json), the lab API's /v1/why/ID answers the documented JSON
# shape, and every sidecar's admin /debug/why answers valid JSON with an empty records list for
# an unknown id (400 without one). The cases of a request the proxies traced come with the
# proxy's part (the proxy fills the records). The lab runs in its own temp folder, on
# OS-assigned ingress ports and its own pod address range (127.1.204.0/24); the trap stops it.
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
not_found="no trace of request no-such-request (traces keep the last 128 requests per proxy and the last 128 that failed)"

# ---- usage and no lab ----
out=$("$MESHLAB" why "${L[@]}" 2>&1); rc=$?
check "why without REQUEST_ID is a usage error (exit 2)" '[ $rc = 2 ] && echo "$out" | grep -q "REQUEST_ID expected"' \
  "rc=$rc out=$out"
out=$("$MESHLAB" why abc -o yaml "${L[@]}" 2>&1); rc=$?
check "why -o yaml is a usage error (exit 2)" '[ $rc = 2 ]' "rc=$rc out=$out"
out=$("$MESHLAB" why no-such-request "${L[@]}" 2>&1); rc=$?
check "no lab: 'why' exits 3 with CLI.md's message" \
  '[ $rc = 3 ] && [ "$out" = "no lab is running (start one with: meshlab up)" ]' "rc=$rc out=$out"
check "why --help names the command's form" '"$MESHLAB" why --help | grep -q "Usage: meshlab why REQUEST_ID"'

# ---- a lab ----
"$MESHLAB" up --detach "${L[@]}" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 \
  --addresses 127.1.204.0/24 --wait 20s > "$tmp/up.out" 2>&1
rc=$?
check "up --detach" '[ $rc = 0 ]' "$(cat "$tmp/up.out")"
[ $rc = 0 ] || tap_finish

out=$("$MESHLAB" why no-such-request "${L[@]}" 2>"$tmp/err"); rc=$?
check "unknown id: exit 1, nothing on stdout, the message on stderr" \
  '[ $rc = 1 ] && [ -z "$out" ] && grep -qxF "$not_found" "$tmp/err"' "rc=$rc out=$out err=$(cat "$tmp/err")"
check "... and no proxy was unreachable" '! grep -q "^warning" "$tmp/err"' "$(cat "$tmp/err")"

"$MESHLAB" why no-such-request -o json "${L[@]}" > "$tmp/why.json" 2>"$tmp/err"; rc=$?
check "unknown id, -o json: exit 1 with the message on stderr" '[ $rc = 1 ] && grep -qxF "$not_found" "$tmp/err"' \
  "rc=$rc err=$(cat "$tmp/err")"
check "... and the JSON says: no records, every proxy asked, none unreachable" \
  'python3 - "$tmp/why.json" <<EOF
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(d) == ["proxies", "records", "request_id", "unreachable"], d
assert d["request_id"] == "no-such-request" and d["records"] == [] and d["unreachable"] == [], d
assert d["proxies"] == 7, d   # the 6 Bookinfo replicas and the ingress gateway
EOF' "$(cat "$tmp/why.json")"

api=$(cat "$lab/api")
code=$(curl -s -o "$tmp/api.json" -w '%{http_code}' "http://$api/v1/why/no%2Dsuch-request")
check "lab API: GET /v1/why/ID (percent-encoded) answers 404 with the same JSON" \
  '[ "$code" = 404 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"request_id\"]==\"no-such-request\"" "$tmp/api.json"' \
  "code=$code $(cat "$tmp/api.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$api/v1/why/")
check "lab API: GET /v1/why/ without an id is 400" '[ "$code" = 400 ]' "code=$code"

# The gateway lives in istio-system: its folder is NAME.NAMESPACE (docs/lab.md).
for r in reviews-v1-0 istio-ingressgateway-0; do
  dir=$r; [ "$r" = istio-ingressgateway-0 ] && dir=$r.istio-system
  admin=$(cat "$lab/replicas/$dir/admin")
  code=$(curl -s -o "$tmp/admin.json" -w '%{http_code}' "http://$admin/debug/why?id=no-such-request")
  check "$r admin /debug/why?id=unknown: 200, {\"proxy\": \"$r\", \"records\": []}" \
    '[ "$code" = 200 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d=={\"proxy\": sys.argv[2], \"records\": []}, d" "$tmp/admin.json" "$r"' \
    "code=$code $(cat "$tmp/admin.json")"
done
admin=$(cat "$lab/replicas/reviews-v1-0/admin")
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$admin/debug/why")
check "admin /debug/why without id is 400" '[ "$code" = 400 ]' "code=$code"
check "admin /help lists /debug/why" 'curl -s "http://$admin/help" | grep -q "/debug/why"'

# A proxy that does not answer is listed, and the answer does not wait for it beyond its timeout.
pid=$("$MESHLAB" status -o json "${L[@]}" |
  python3 -c 'import json,sys; print([r["pids"]["sidecar"] for r in json.load(sys.stdin)["replicas"] if r["name"]=="ratings-v1-0"][0])')
kill -STOP "$pid"
start=$(date +%s%N)
"$MESHLAB" why no-such-request -o json "${L[@]}" > "$tmp/why.json" 2>/dev/null; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
kill -CONT "$pid"
check "a stopped sidecar is listed under unreachable and does not hang the answer (${ms} ms)" \
  '[ $rc = 1 ] && [ $ms -lt 8000 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert [u[\"proxy\"] for u in d[\"unreachable\"]]==[\"ratings-v1-0\"], d" "$tmp/why.json"' \
  "rc=$rc $(cat "$tmp/why.json")"

out=$("$MESHLAB" down "${L[@]}" 2>&1); rc=$?
check "down" '[ $rc = 0 ]' "$out"
out=$("$MESHLAB" why no-such-request "${L[@]}" 2>&1); rc=$?
check "after down: 'why' exits 3 with CLI.md's message" \
  '[ $rc = 3 ] && [ "$out" = "no lab is running (start one with: meshlab up)" ]' "rc=$rc out=$out"
tap_finish
