#!/usr/bin/env bash
# `meshlab export istio` against Istio's CRD schemas (issue 3): a lab takes every file of Istio's
# bookinfo-networking folder (exported after each, since later files replace earlier objects of the
# same name) and a few richer resources written here (DestinationRule traffic policies,
# VirtualService fault/retries/timeout/mirror, PeerAuthentication, RequestAuthentication with
# inline JWKS, AuthorizationPolicy with `when`, a TLS Gateway). Every exported Istio document must
# validate against its CRD version's openAPIV3Schema and declare no field the schema does not
# (tests/cli/crd_check.py); documents that must fail the checker show it catches what it should.
#
# The lab runs in a temp folder, on OS-assigned ingress ports and its own pod addresses; the trap
# stops it with `meshlab down`.
# shellcheck disable=SC2016,SC2034  # check() evals its single-quoted condition, which reads these variables
set -u
MESHLAB=${MESHLAB_BIN:?MESHLAB_BIN must name the meshlab binary}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
lab=$tmp/lab
cleanup() {
  "$MESHLAB" down --lab-dir "$lab" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/tap.sh"

need_conformance istio/bookinfo-networking istio/crds/customresourcedefinitions.gen.yaml
networking=$conf/istio/bookinfo-networking
crds=$conf/istio/crds/customresourcedefinitions.gen.yaml
if ! python3 -c 'import yaml, jsonschema' 2>/dev/null; then
  if [ "${CI:-}" = true ]; then echo "Bail out! python3-yaml and python3-jsonschema are needed"; exit 1; fi
  echo "1..0 # SKIP python3-yaml or python3-jsonschema missing"
  exit 0
fi
checker() { python3 "$here/crd_check.py" --crds "$crds" "$@"; }

# ---- the checker itself: Istio's own files pass, broken documents fail ----
out=$(checker "$networking"/*.yaml 2>&1); rc=$?
check "crd_check: every file of Istio's bookinfo-networking passes as written" '[ $rc = 0 ]' "$out"

neg() { # neg NAME EXPECTED-MESSAGE-REGEX: writes stdin to a file; the checker must fail it, naming the field
  local want=$2
  cat > "$tmp/neg-$1.yaml"
  out=$(checker "$tmp/neg-$1.yaml" 2>&1); rc=$?
  check "crd_check fails $1" '[ $rc = 1 ] && echo "$out" | grep -qE "$want"' "rc=$rc $out"
}
neg "an unknown field in a route (wieght)" 'http\[0\]\.route\[0\]\.wieght: field not in the schema' <<'EOF'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      wieght: 100
EOF
neg "an unknown field deep in a traffic policy" 'trafficPolicy\.connectionPool\.tcp\.maxConnectionz: field not in the schema' <<'EOF'
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: {maxConnectionz: 1}
EOF
neg "an unknown top-level spec field" 'spec\.hostz: field not in the schema' <<'EOF'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hostz: [reviews]
EOF
neg "hosts as a string instead of a list" "hosts: 'reviews' is not of type 'array'" <<'EOF'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: reviews
EOF
neg "a weight that is not an integer" "weight: 'fifty' is not of type 'integer'" <<'EOF'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: fifty
EOF
neg "an enum value Istio does not define" "mode: 'STRICTEST' is not one of" <<'EOF'
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec:
  mtls: {mode: STRICTEST}
EOF
neg "a broken oneOf (two load balancer kinds)" 'loadBalancer' <<'EOF'
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
      consistentHash: {httpHeaderName: x-user}
EOF
neg "a kind at a version its CRD does not serve" 'no CRD for security.istio.io/v1alpha1' <<'EOF'
apiVersion: security.istio.io/v1alpha1
kind: PeerAuthentication
metadata: {name: default}
spec: {}
EOF
neg "an unknown metadata field" 'metadata\.lables: not an ObjectMeta field' <<'EOF'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, lables: {app: x}}
spec:
  hosts: [reviews]
EOF
out=$(checker --schema-only "$tmp/neg-an unknown field in a route (wieght).yaml" 2>&1); rc=$?
check "... and jsonschema alone passes the misspelt field (why the walker is needed)" '[ $rc = 0 ]' "$out"

# ---- a lab, every Bookinfo networking file, exported after each ----
"$MESHLAB" up --detach --lab-dir "$lab" --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 \
  --addresses 127.1.202.0/24 --wait 15s > "$tmp/up.out" 2>&1
rc=$?
check "up --detach (built-in Bookinfo)" '[ $rc = 0 ]' "$(cat "$tmp/up.out")"
[ $rc = 0 ] || tap_finish
L=(--lab-dir "$lab")
exports=()
applied=0 failed_apply=
n=0
for f in "$networking"/*.yaml; do
  n=$((n + 1))
  if out=$("$MESHLAB" apply "${L[@]}" -f "$f" 2>&1); then applied=$((applied + 1)); else failed_apply+="$(basename "$f"): $out"$'\n'; fi
  "$MESHLAB" export istio "${L[@]}" > "$tmp/export-$n.yaml" 2>"$tmp/export.err" && exports+=("$tmp/export-$n.yaml")
done
check "every file of Istio's bookinfo-networking applies ($n files)" '[ $applied = $n ]' "$failed_apply"
check "export istio ran after each" '[ ${#exports[@]} = $n ]' "$(cat "$tmp/export.err")"

# ---- richer resources ----
cat > "$tmp/rich.yaml" <<'EOF'
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
spec:
  host: ratings
  trafficPolicy:
    loadBalancer:
      simple: LEAST_REQUEST
    connectionPool:
      tcp:
        maxConnections: 10
        connectTimeout: 250ms
      http:
        http1MaxPendingRequests: 5
        http2MaxRequests: 100
        maxRequestsPerConnection: 2
        maxRetries: 3
    outlierDetection:
      consecutive5xxErrors: 3
      consecutiveGatewayErrors: 2
      interval: 5s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
  subsets:
  - name: v1
    labels:
      version: v1
    trafficPolicy:
      loadBalancer:
        consistentHash:
          httpHeaderName: x-user
  - name: v2
    labels:
      version: v2
    trafficPolicy:
      loadBalancer:
        simple: ROUND_ROBIN
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - name: faulty
    match:
    - headers:
        end-user:
          exact: jason
      uri:
        prefix: /ratings
      method:
        exact: GET
      queryParams:
        debug:
          regex: "^(1|true)$"
    fault:
      delay:
        fixedDelay: 2s
        percentage:
          value: 50
      abort:
        httpStatus: 503
        percentage:
          value: 10.5
    route:
    - destination:
        host: ratings
        subset: v1
  - route:
    - destination:
        host: ratings
        subset: v1
        port:
          number: 9080
      weight: 80
      headers:
        response:
          set:
            x-route: main
    - destination:
        host: ratings
        subset: v2
      weight: 20
    timeout: 3s
    retries:
      attempts: 3
      perTryTimeout: 1s
      retryOn: 5xx,connect-failure,reset
    mirror:
      host: ratings
      subset: v2
    mirrorPercentage:
      value: 25
    headers:
      request:
        set:
          x-lab: "1"
        add:
          x-added: a
        remove:
        - x-internal
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: tls-gateway
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 443
      name: https
      protocol: HTTPS
    hosts:
    - "bookinfo.example.com"
    tls:
      mode: SIMPLE
      credentialName: bookinfo-credential
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: STRICT
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: ratings-ports
spec:
  selector:
    matchLabels:
      app: ratings
  mtls:
    mode: STRICT
  portLevelMtls:
    9080:
      mode: PERMISSIVE
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt-example
spec:
  selector:
    matchLabels:
      app: productpage
  jwtRules:
  - issuer: testing@secure.istio.io
    audiences:
    - bookinfo
    forwardOriginalToken: true
    outputPayloadToHeader: x-jwt-payload
    fromHeaders:
    - name: x-jwt-assertion
      prefix: "Bearer "
    fromParams:
    - access_token
    outputClaimToHeaders:
    - header: x-jwt-group
      claim: group
    jwks: |
      JWKS_PLACEHOLDER
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: require-jwt
spec:
  selector:
    matchLabels:
      app: productpage
  action: ALLOW
  rules:
  - from:
    - source:
        requestPrincipals:
        - testing@secure.istio.io/testing@secure.istio.io
        namespaces:
        - default
    to:
    - operation:
        methods:
        - GET
        paths:
        - /productpage
        - /static/*
        notPorts:
        - "15000"
    when:
    - key: request.auth.claims[groups]
      values:
      - group1
    - key: source.ip
      notValues:
      - 10.0.0.1
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-admin
spec:
  action: DENY
  rules:
  - to:
    - operation:
        paths:
        - /admin*
EOF
jwks=$conf/istio/jwt-samples/jwks.json
if [ -f "$jwks" ]; then
  python3 - "$tmp/rich.yaml" "$jwks" <<'EOF'
import sys
p, jwks = sys.argv[1], open(sys.argv[2]).read().strip()
s = open(p).read().replace("JWKS_PLACEHOLDER", jwks)
open(p, "w").write(s)
EOF
else
  sed -i 's/JWKS_PLACEHOLDER/{"keys": []}/' "$tmp/rich.yaml"
fi
out=$(checker "$tmp/rich.yaml" 2>&1); rc=$?
check "the richer resources pass the checker as written" '[ $rc = 0 ]' "$out"
out=$("$MESHLAB" apply "${L[@]}" -f "$tmp/rich.yaml" 2>&1); rc=$?
check "the richer resources apply" '[ $rc = 0 ]' "$out"
"$MESHLAB" export istio "${L[@]}" > "$tmp/export-rich.yaml"
exports+=("$tmp/export-rich.yaml")

# ---- every export against the CRDs ----
out=$(checker "${exports[@]}" 2>&1); rc=$?
echo "$out" | tail -1 | sed 's/^/# /'
check "every exported Istio document validates against its CRD and declares only schema fields" '[ $rc = 0 ]' \
  "$(echo "$out" | grep -v '^ok ' | sort | uniq -c | sed 's/^ *//')"

# The richer resources survive the round trip: what was applied is what export prints (the
# fields, not their formatting).
check "export keeps every field of the richer resources" 'python3 - "$tmp/rich.yaml" "$tmp/export-rich.yaml" <<EOF
import sys, yaml
def key(d): return (d["kind"], d["metadata"].get("namespace", "default"), d["metadata"]["name"])
def norm(x):
    if isinstance(x, dict): return {str(k): norm(v) for k, v in x.items()}
    if isinstance(x, list): return [norm(v) for v in x]
    return x
applied = {key(d): d for d in yaml.safe_load_all(open(sys.argv[1])) if d}
exported = {key(d): d for d in yaml.safe_load_all(open(sys.argv[2])) if d and d.get("kind") in
            ("VirtualService", "DestinationRule", "Gateway", "PeerAuthentication", "RequestAuthentication",
             "AuthorizationPolicy")}
bad = []
def diff(a, b, path):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if k not in b: bad.append("%s.%s: missing in export" % (path, k))
            else: diff(a[k], b[k], "%s.%s" % (path, k))
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b): bad.append("%s: %d items applied, %d exported" % (path, len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)): diff(x, y, "%s[%d]" % (path, i))
    elif str(a).strip() != str(b).strip() and not (isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == b):
        bad.append("%s: applied %r, exported %r" % (path, a, b))
for k, d in applied.items():
    if k not in exported: bad.append("%s %s/%s: not exported" % k); continue
    diff(norm(d["spec"]), norm(exported[k]["spec"]), "%s %s/%s spec" % k)
if bad:
    print("\n".join(bad)); sys.exit(1)
EOF' "$(python3 - "$tmp/rich.yaml" "$tmp/export-rich.yaml" 2>&1 <<'EOF' | head -30
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[2])):
    if d and d.get("kind") in ("VirtualService", "DestinationRule", "PeerAuthentication", "RequestAuthentication", "AuthorizationPolicy", "Gateway"):
        print(d["kind"], d["metadata"].get("name"))
EOF
)"

tap_finish
