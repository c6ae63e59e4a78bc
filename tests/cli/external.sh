# Shared by the lab tests that call the external sample app (docs/apps.md, "external"), sourced
# after tap.sh. The caller's cleanup kills $ext_pid.

# external_start OUT: runs `meshlab app external` on a free 127.0.0.1 port, its output in OUT;
# sets ext_port and ext_pid once it listens.
external_start() {
  ext_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$MESHLAB" app external --listen "127.0.0.1:$ext_port" > "$1" 2>&1 &
  ext_pid=$!
  wait_line "$1" '^listening on' >/dev/null
}

# external_service_entry: prints the ServiceEntry that names the app api.external.example on
# port $ext_port (MESH_EXTERNAL, STATIC, endpoint 127.0.0.1), as Istio's egress tasks write one.
external_service_entry() {
  cat <<YAML
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-api
spec:
  hosts:
  - api.external.example
  location: MESH_EXTERNAL
  ports:
  - number: $ext_port
    name: http
    protocol: HTTP
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
YAML
}
