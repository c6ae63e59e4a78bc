#!/usr/bin/env bash
# End-user authentication and authorization end to end, on a running lab with Istio's own
# samples, following Istio's tasks (docs/security.md): httpbin and curl in the default namespace,
# requests from curl's sidecar to httpbin's, where the RequestAuthentication and the
# AuthorizationPolicies apply (httpbin's inbound listener: jwt_authn, then rbac).
#  - authentication task: no token 200, Istio's demo.jwt 200, an invalid token 401 with Envoy's
#    body and www-authenticate; an expired token 401 "Jwt is expired";
#  - require a request principal (authorization with JWT task): no token 403, demo.jwt 200;
#    claims[groups] group1: groups-scope.jwt 200, demo.jwt (no groups) 403;
#  - deny task: deny-method-get: GET 403, POST 200; allow-nothing: 403; `meshlab why` on the 403
#    names the policy; on the 401 says why;
#  - at the ingress gateway, a DENY policy in istio-system selecting istio: ingressgateway;
#  - the lab's own issuer: `meshlab token --groups group1` with its jwksUri (served by the lab)
#    and a policy on claims[groups]: 200, without the group 403;
#  - a jwksUri served outside the mesh behind a ServiceEntry, fetched through the sidecar's
#    outbound listener; one the mesh cannot route: 401;
#  - the jwksUri of Istio's task pages (GitHub), which the lab cannot reach: 401 "Jwks remote
#    fetch is failed", and the sidecar's log names inline jwks as the offline way.
# The lab runs in a temp folder on OS-assigned ingress ports and its own pod addresses
# (127.1.221.0/24); the trap stops it.
# shellcheck disable=SC2016,SC2034  # check() evals its single-quoted condition, which reads these variables
set -u
MESHLAB=${MESHLAB_BIN:?MESHLAB_BIN must name the meshlab binary}
tmp=$(mktemp -d)
lab=$tmp/lab
pids=()
cleanup() {
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
  "$MESHLAB" down --lab-dir "$lab" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/tap.sh"
L=(--lab-dir "$lab")

need_conformance istio/samples-httpbin/httpbin.yaml istio/samples-clients/curl.yaml istio/jwt-samples/jwks.json \
  istio/jwt-samples/demo.jwt istio/jwt-samples/groups-scope.jwt
js=$conf/istio/jwt-samples
demo=$(cat "$js/demo.jwt")
groups_jwt=$(cat "$js/groups-scope.jwt")

"$MESHLAB" up --detach "${L[@]}" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 \
  --addresses 127.1.221.0/24 --seed 7 --wait 20s > "$tmp/up.out" 2>&1
rc=$?
check "up --detach" '[ $rc = 0 ]' "$(cat "$tmp/up.out")"
[ $rc = 0 ] || tap_finish

apply() { "$MESHLAB" apply "${L[@]}" "$@" > "$tmp/apply.out" 2>&1; }
until_ok() {
  local end=$(( $(date +%s) + $1 )); shift
  while :; do eval "$1" && return 0; [ "$(date +%s)" -ge $end ] && return 1; sleep 0.2; done
}
# code [CURL ARGS...]: the status of a request from curl's sidecar to httpbin /headers.
code() { "$MESHLAB" exec curl "${L[@]}" -- curl -s -m 5 -o /dev/null -w "%{http_code}" "$@" http://httpbin:8000/headers; }
# req [CURL ARGS...]: the whole response (head and body).
req() { "$MESHLAB" exec curl "${L[@]}" -- curl -s -m 5 -i "$@" http://httpbin:8000/headers; }
bearer() { echo "Authorization: Bearer $1"; }
# until_code WANT [CURL ARGS...]: waits (10 s) for the pushed config to give WANT.
until_code() { want=$1; shift; args=("$@"); until_ok "${wait_s:-10}" '[ "$(code "${args[@]}")" = "$want" ]'; }

apply -f "$conf/istio/samples-httpbin/httpbin.yaml" -f "$conf/istio/samples-clients/curl.yaml"
check "apply Istio's httpbin and curl samples" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
wait_s=30 until_code 200
check "curl reaches httpbin through its sidecar" '[ $? = 0 ]'

# ---- Istio's authentication task: RequestAuthentication with the demo key set inline ----
jwks=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$js/jwks.json")
cat > "$tmp/ra.yaml" <<EOF2
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt-example
spec:
  selector:
    matchLabels:
      app: httpbin
  jwtRules:
  - issuer: "testing@secure.istio.io"
    jwks: '$jwks'
    outputPayloadToHeader: x-jwt-payload
EOF2
apply -f "$tmp/ra.yaml"
check "apply jwt-example (inline jwks)" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
until_code 401 -H "$(bearer deadbeef)"
check "invalid token: 401" '[ $? = 0 ]' "$(req -H "$(bearer deadbeef)")"
out=$(req -H "$(bearer deadbeef)")
check "401 body and www-authenticate are Envoy's" \
  'grep -q "^Jwt is not in the form of Header.Payload.Signature" <<<"$out" && grep -qi "^www-authenticate: Bearer realm=\"http://httpbin:8000/headers\", error=\"invalid_token\"" <<<"$out"' "$out"
check "no token: 200 (passes without a principal)" '[ "$(code)" = 200 ]'
check "Istio's demo.jwt: 200" '[ "$(code -H "$(bearer "$demo")")" = 200 ]' "$(req -H "$(bearer "$demo")")"
exp_year=$(cut -d. -f2 <<<"$demo" | tr "_-" "/+" | base64 -d 2>/dev/null | grep -o "\"exp\":[0-9]*" | cut -d: -f2)
echo "# demo.jwt expires at ${exp_year:-?} ($(date -u -d @"${exp_year:-0}" +%Y 2>/dev/null))"
# httpbin echoes the request headers: the token was stripped (forwardOriginalToken false).
out=$("$MESHLAB" exec curl "${L[@]}" -- curl -s -m 5 -H "$(bearer "$demo")" http://httpbin:8000/headers)
check "the verified token is not forwarded to the app" '! grep -qi "bearer" <<<"$out" && grep -q "{" <<<"$out"' "$out"
payload=$(cut -d. -f2 <<<"$demo")
check "outputPayloadToHeader: the app sees the token's payload" 'grep -q "\"X-Jwt-Payload\":\"$payload\"" <<<"$out"' "$out"
# Istio's default locations: Authorization: Bearer, then ?access_token=.
pc=$("$MESHLAB" exec curl "${L[@]}" -- curl -s -m 5 -o /dev/null -w "%{http_code}" "http://httpbin:8000/headers?access_token=$demo")
check "token in ?access_token=: 200" '[ "$pc" = 200 ]' "got $pc"
pc=$("$MESHLAB" exec curl "${L[@]}" -- curl -s -m 5 -o /dev/null -w "%{http_code}" "http://httpbin:8000/headers?access_token=deadbeef")
check "invalid token in ?access_token=: 401" '[ "$pc" = 401 ]' "got $pc"
# A token of the lab's issuer, which this rule does not trust: 401 "Jwt issuer is not configured".
lab_tok=$("$MESHLAB" token "${L[@]}")
out=$(req -H "$(bearer "$lab_tok")")
check "token of an issuer no rule names: 401 Jwt issuer is not configured" \
  'grep -q "^HTTP/1.1 401" <<<"$out" && grep -q "^Jwt issuer is not configured" <<<"$out"' "$out"

# ---- Istio's authorization-with-JWT task: require a request principal ----
cat > "$tmp/require-jwt.yaml" <<'EOF2'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: require-jwt
spec:
  selector:
    matchLabels:
      app: httpbin
  action: ALLOW
  rules:
  - from:
    - source:
        requestPrincipals: ["testing@secure.istio.io/testing@secure.istio.io"]
EOF2
apply -f "$tmp/require-jwt.yaml"
check "apply require-jwt" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
until_code 403
check "no token: 403" '[ $? = 0 ]' "$(req)"
out=$(req)
check "403 body is RBAC: access denied" 'grep -q "^RBAC: access denied" <<<"$out"' "$out"
check "demo.jwt: 200" '[ "$(code -H "$(bearer "$demo")")" = 200 ]' "$(req -H "$(bearer "$demo")")"
check "invalid token: still 401 (authentication first)" '[ "$(code -H "$(bearer deadbeef)")" = 401 ]'
cat > "$tmp/require-group.yaml" <<'EOF2'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: require-jwt
spec:
  selector:
    matchLabels:
      app: httpbin
  action: ALLOW
  rules:
  - from:
    - source:
        requestPrincipals: ["testing@secure.istio.io/testing@secure.istio.io"]
    when:
    - key: request.auth.claims[groups]
      values: ["group1"]
EOF2
apply -f "$tmp/require-group.yaml"
until_code 403 -H "$(bearer "$demo")"
check "claims[groups] group1: demo.jwt (no groups) 403" '[ $? = 0 ]'
check "claims[groups] group1: groups-scope.jwt 200" '[ "$(code -H "$(bearer "$groups_jwt")")" = 200 ]'
"$MESHLAB" delete "${L[@]}" authorizationpolicy require-jwt > /dev/null 2>&1
until_code 200

# ---- Istio's deny task and allow-nothing ----
cat > "$tmp/deny.yaml" <<'EOF2'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-method-get
spec:
  selector:
    matchLabels:
      app: httpbin
  action: DENY
  rules:
  - to:
    - operation:
        methods: ["GET"]
EOF2
apply -f "$tmp/deny.yaml"
until_code 403
check "deny-method-get: GET 403" '[ $? = 0 ]'
post=$("$MESHLAB" exec curl "${L[@]}" -- curl -s -m 5 -o /dev/null -w "%{http_code}" -X POST http://httpbin:8000/post)
check "deny-method-get: POST 200" '[ "$post" = 200 ]' "got $post"
"$MESHLAB" exec curl "${L[@]}" -- curl -s -m 5 -o /dev/null -H "x-request-id: authz-deny-1" http://httpbin:8000/headers
"$MESHLAB" why "${L[@]}" authz-deny-1 > "$tmp/why.out" 2>&1
check "meshlab why on the 403 names the policy and rule" \
  'grep -q "authz.*403: DENY by default/deny-method-get rule 0" "$tmp/why.out" && grep -q "^request authz-deny-1: .*got 403.*answered 403: DENY" "$tmp/why.out"' \
  "$(cat "$tmp/why.out")"
"$MESHLAB" exec curl "${L[@]}" -- curl -s -m 5 -o /dev/null -H "x-request-id: authn-401-1" -H "$(bearer deadbeef)" \
  http://httpbin:8000/headers
"$MESHLAB" why "${L[@]}" authn-401-1 > "$tmp/why401.out" 2>&1
check "meshlab why on the 401 says why" 'grep -q "authn.*401: Jwt is not in the form" "$tmp/why401.out"' \
  "$(cat "$tmp/why401.out")"
"$MESHLAB" delete "${L[@]}" authorizationpolicy deny-method-get > /dev/null 2>&1
cat > "$tmp/allow-nothing.yaml" <<'EOF2'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-nothing
spec: {}
EOF2
apply -f "$tmp/allow-nothing.yaml"
until_code 403
check "allow-nothing: 403" '[ $? = 0 ]'
check "allow-nothing: POST 403 too" \
  '[ "$("$MESHLAB" exec curl "${L[@]}" -- curl -s -m 5 -o /dev/null -w "%{http_code}" -X POST http://httpbin:8000/post)" = 403 ]'
"$MESHLAB" delete "${L[@]}" authorizationpolicy allow-nothing > /dev/null 2>&1
until_code 200

# ---- source principals from mTLS (Istio's authorization for HTTP traffic task) ----
# Sidecars talk mTLS by default (auto mTLS, PERMISSIVE), so the caller's SPIFFE ID reaches the
# policy: cluster.local/ns/default/sa/curl is allowed, fortio (the namespace's default service
# account) is not; the trace names the principal.
apply -f "$conf/istio/samples-clients/fortio-deploy.yaml"
fcode() { "$MESHLAB" exec fortio-deploy "${L[@]}" -- curl -s -m 5 -o /dev/null -w "%{http_code}" http://httpbin:8000/headers; }
until_ok 15 '[ "$(fcode)" = 200 ]'
cat > "$tmp/allow-curl.yaml" <<'EOF2'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-curl
spec:
  selector:
    matchLabels:
      app: httpbin
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/curl"]
EOF2
apply -f "$tmp/allow-curl.yaml"
until_ok 10 '[ "$(fcode)" = 403 ]'
check "principals from mTLS: fortio's sidecar (another service account) gets 403" '[ $? = 0 ]' "$(fcode)"
check "... curl's sidecar (cluster.local/ns/default/sa/curl) gets 200" '[ "$(code)" = 200 ]' "$(code)"
"$MESHLAB" exec curl "${L[@]}" -- curl -s -m 5 -o /dev/null -H "x-request-id: authz-principal-1" http://httpbin:8000/headers
out=$("$MESHLAB" why authz-principal-1 "${L[@]}" 2>&1)
check "meshlab why shows the caller's SPIFFE principal on httpbin's hop" \
  'echo "$out" | grep -q "cluster.local/ns/default/sa/curl"' "$out"
"$MESHLAB" delete "${L[@]}" authorizationpolicy allow-curl > /dev/null 2>&1
until_code 200

# ---- at the ingress gateway: a policy in istio-system selecting istio: ingressgateway ----
need_gateway=$conf/istio/bookinfo-networking/bookinfo-gateway.yaml
if [ -e "$need_gateway" ]; then
  cat > "$tmp/gw-deny.yaml" <<'EOF2'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ingress-deny-blocked
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/productpage"]
    when:
    - key: request.headers[x-block]
      values: ["yes"]
EOF2
  apply -f "$need_gateway" -f "$tmp/gw-deny.yaml"
  check "apply bookinfo-gateway and a gateway DENY policy" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
  ingress=$(cat "$lab/ingress")
  until_ok 10 '[ "$(curl -s -m 5 -o /dev/null -w "%{http_code}" -H "x-block: yes" "http://$ingress/productpage")" = 403 ]'
  check "gateway: x-block: yes gets 403" '[ $? = 0 ]'
  check "gateway: without the header 200" '[ "$(curl -s -m 5 -o /dev/null -w "%{http_code}" "http://$ingress/productpage")" = 200 ]'
  "$MESHLAB" delete "${L[@]}" -f "$tmp/gw-deny.yaml" > /dev/null 2>&1
else
  skip "gateway policy" "bookinfo-gateway.yaml not found"
fi

# ---- the lab's own issuer: meshlab token, jwksUri served by the lab ----
cat > "$tmp/lab-issuer.yaml" <<'EOF2'
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: lab-issuer
spec:
  selector:
    matchLabels:
      app: httpbin
  jwtRules:
  - issuer: https://issuer.meshlab.local
    jwksUri: https://issuer.meshlab.local/.well-known/jwks.json
    forwardOriginalToken: true
    outputClaimToHeaders:
    - header: x-jwt-sub
      claim: sub
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: group1-only
spec:
  selector:
    matchLabels:
      app: httpbin
  rules:
  - when:
    - key: request.auth.claims[groups]
      values: ["group1"]
EOF2
apply -f "$tmp/lab-issuer.yaml"
check "apply lab-issuer (jwksUri of the lab) and group1-only" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
g1=$("$MESHLAB" token "${L[@]}" --sub alice --groups group1,group2)
g2=$("$MESHLAB" token "${L[@]}" --sub bob --groups group2)
until_code 200 -H "$(bearer "$g1")"
check "meshlab token --groups group1: 200" '[ $? = 0 ]' "$(req -H "$(bearer "$g1")")"
out=$("$MESHLAB" exec curl "${L[@]}" -- curl -s -m 5 -H "$(bearer "$g1")" -H "x-jwt-sub: forged" http://httpbin:8000/headers)
check "outputClaimToHeaders: the app sees x-jwt-sub from the token, not the client's" \
  'grep -q "\"X-Jwt-Sub\":\"alice\"" <<<"$out" && ! grep -q forged <<<"$out"' "$out"
check "forwardOriginalToken: true keeps the Authorization header" 'grep -q "\"Authorization\":\"Bearer " <<<"$out"' "$out"
rs=$("$MESHLAB" token "${L[@]}" --alg RS256 --groups group1)
check "meshlab token --alg RS256 --groups group1: 200" '[ "$(code -H "$(bearer "$rs")")" = 200 ]' "$(req -H "$(bearer "$rs")")"
check "meshlab token --groups group2: 403" '[ "$(code -H "$(bearer "$g2")")" = 403 ]' "$(req -H "$(bearer "$g2")")"
expired=$("$MESHLAB" token "${L[@]}" --groups group1 --exp -1h)
out=$(req -H "$(bearer "$expired")")
check "meshlab token --exp -1h: 401 Jwt is expired" 'grep -q "^HTTP/1.1 401" <<<"$out" && grep -q "^Jwt is expired" <<<"$out"' "$out"
curl -s -m 5 "http://$(cat "$lab/api")/v1/jwks" > "$tmp/jwks.lab"
"$MESHLAB" token "${L[@]}" --jwks > "$tmp/jwks.cli"
check "the lab serves the JWKS meshlab token --jwks prints" '[ "$(cat "$tmp/jwks.lab")" = "$(cat "$tmp/jwks.cli")" ] && grep -q "\"kty\":\"EC\"" "$tmp/jwks.cli"' \
  "$(cat "$tmp/jwks.lab" "$tmp/jwks.cli")"
"$MESHLAB" delete "${L[@]}" -f "$tmp/lab-issuer.yaml" > /dev/null 2>&1

# ---- a jwksUri fetched through the mesh: a key-set server outside it, behind a ServiceEntry ----
start_file_origin "$tmp/jwks-origin"
cp "$js/jwks.json" "$tmp/jwks-origin/jwks.json"
cat > "$tmp/jwks-mesh.yaml" <<EOF2
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: jwks-server
spec:
  hosts:
  - jwks.example.com
  location: MESH_EXTERNAL
  ports:
  - number: $origin_port
    name: http
    protocol: HTTP
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt-example
spec:
  selector:
    matchLabels:
      app: httpbin
  jwtRules:
  - issuer: "testing@secure.istio.io"
    jwksUri: "http://jwks.example.com:$origin_port/jwks.json"
EOF2
apply -f "$tmp/jwks-mesh.yaml"
check "apply a ServiceEntry for a key-set server and jwt-example with its jwksUri" '[ $? = 0 ]' "$(cat "$tmp/apply.out")"
until_code 200 -H "$(bearer "$demo")"
check "jwksUri through the mesh (ServiceEntry): demo.jwt 200" '[ $? = 0 ]' "$(req -H "$(bearer "$demo")")"
check "... and an invalid token 401" '[ "$(code -H "$(bearer deadbeef)")" = 401 ]'
check "the key-set server was asked through the mesh" 'grep -q "GET /jwks.json" "$tmp/jwks-origin.out"' \
  "$(tail -3 "$tmp/jwks-origin.out")"
kill "${pids[@]}" 2>/dev/null
pids=()
sed -i "s|http://jwks.example.com:$origin_port/jwks.json|http://jwks.nowhere.example/jwks.json|" "$tmp/jwks-mesh.yaml"
apply -f "$tmp/jwks-mesh.yaml"
until_ok 10 'req -H "$(bearer "$demo")" | grep -q "^Jwks remote fetch is failed"'
check "a jwksUri the mesh cannot route: 401 Jwks remote fetch is failed" '[ $? = 0 ]' "$(req -H "$(bearer "$demo")")"
"$MESHLAB" logs "${L[@]}" httpbin-0 -c sidecar --proxy-log > "$tmp/sidecar.log" 2>&1
check "... the sidecar's log says what the mesh answered" \
  'grep -q "jwks.nowhere.example/jwks.json through the mesh answered 503 DF" "$tmp/sidecar.log"' "$(tail -3 "$tmp/sidecar.log")"
"$MESHLAB" delete "${L[@]}" serviceentry jwks-server > /dev/null 2>&1

# ---- the jwksUri of Istio's task pages: unreachable from the lab ----
cat > "$tmp/github.yaml" <<'EOF2'
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt-example
spec:
  selector:
    matchLabels:
      app: httpbin
  jwtRules:
  - issuer: "testing@secure.istio.io"
    jwksUri: "https://raw.githubusercontent.com/istio/istio/release-1.24/security/tools/jwt/samples/jwks.json"
EOF2
apply -f "$tmp/github.yaml"
"$MESHLAB" analyze "${L[@]}" > "$tmp/analyze.out" 2>&1
check "analyze warns about a jwksUri the lab cannot fetch" 'grep -q "jwksUri" "$tmp/analyze.out" && grep -q "inline" "$tmp/analyze.out"' \
  "$(cat "$tmp/analyze.out")"
until_ok 10 'req -H "$(bearer "$demo")" | grep -q "^Jwks remote fetch is failed"'
check "unreachable jwksUri: 401 Jwks remote fetch is failed" '[ $? = 0 ]' "$(req -H "$(bearer "$demo")")"
check "no token still passes: 200" '[ "$(code)" = 200 ]'
replica=$(ls "$lab/replicas" | grep '^httpbin-' | head -1)
"$MESHLAB" logs "${L[@]}" "$replica" -c sidecar --proxy-log > "$tmp/sidecar.log" 2>&1
check "the sidecar's log names inline jwks as the offline way" \
  'grep -q "raw.githubusercontent.com.*jwks" "$tmp/sidecar.log" && grep -q "inline" "$tmp/sidecar.log"' "$(tail -5 "$tmp/sidecar.log")"

tap_finish
