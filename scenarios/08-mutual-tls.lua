-- Lesson 8: mutual TLS (Istio's "Mutual TLS Migration" task, on Bookinfo). Every sidecar holds
-- a certificate for its workload's SPIFFE ID, issued by the lab's root, and sidecars talk TLS
-- to each other without anyone asking (auto mTLS). What a PeerAuthentication changes is what a
-- sidecar accepts from clients that have no sidecar: PERMISSIVE (the default) serves plaintext
-- too, STRICT refuses it at the connection. The destination's metrics say which was which.
lesson {
  title = "Mutual TLS: PERMISSIVE, then STRICT",
  goal = "See calls carried over mTLS, a plaintext client served under PERMISSIVE and refused under STRICT",
  duration = "1 min",
}

local DETAILS = "http://details:9080/details/0"

local function peer_authentication(name, mode, app)
  local spec = {mtls = {mode = mode}}
  if app then spec.selector = {matchLabels = {app = app}} end
  return {apiVersion = "security.istio.io/v1", kind = "PeerAuthentication",
          metadata = {name = name, namespace = "default"}, spec = spec}
end

-- How the destination saw details' calls over the last two seconds.
local function carried(service)
  wait(0.8) -- the sidecars report every 250 ms
  return metrics {service = service, reporter = "destination", window = 2}
end

-- A client with no sidecar, straight to a pod: status 0 when the connection was refused.
local function outside(replica, port, path)
  return http.get(pod_url(replica, port, path), {from = "outside", timeout = 3})
end

step("Sidecars already talk mutual TLS", function()
  reset()
  apply(bookinfo.gateway)
  for _ = 1, 5 do http.get(DETAILS) end
  local m = carried("details")
  say("details' sidecar saw " .. m.requests .. " requests, connection_security_policy: " ..
      tostring(m.connection_security_policy))
  expect(m.connection_security_policy == "mutual_tls",
         "productpage -> details went over mTLS, with nothing applied (auto mTLS)",
         {policy = m.connection_security_policy, carried = m.by_connection_security_policy})
  say("Each sidecar's certificate names its workload: `meshlab proxy-config secret details-v1-0`")
  say("prints spiffe://cluster.local/ns/default/sa/bookinfo-details. The dashboard draws these")
  say("calls ==> (mTLS) rather than --> (plaintext).")
  pause()
end)

step("PERMISSIVE: a client without a sidecar is served in plaintext", function()
  local r = outside("details-v1-0", 9080, "/details/0")
  expect(r.status == 200, "a plaintext request straight to details' pod is answered",
         {status = r.status, error = r.error})
  local m = carried("details")
  expect(((m.by_connection_security_policy or {}).none or 0) >= 1,
         "details' sidecar counted it as connection_security_policy=none",
         {carried = m.by_connection_security_policy})
  say("PERMISSIVE tells the two apart by the first bytes on the connection: a TLS ClientHello or")
  say("plain HTTP. It is the migration mode: nothing breaks while clients move into the mesh.")
  pause()
end)

step("STRICT for the namespace: plaintext is refused, the mesh keeps working", function()
  apply(peer_authentication("default", "STRICT"))
  local r = outside("details-v1-0", 9080, "/details/0")
  expect(r.status == 0, "the plaintext client is refused at the connection (curl would exit 56)",
         {status = r.status, error = r.error})
  local inside = http.get(DETAILS)
  expect(inside.status == 200, "productpage's sidecar still reaches details over mTLS", {status = inside.status})
  local page = http.page()
  expect(page.status == 200, "the page through the ingress gateway is whole (the gateway has a sidecar's identity too)",
         {status = page.status})
  pause()
end)

step("Exercise: a plaintext door on details only", function()
  exercise {
    task = "Keep the namespace STRICT, but let clients without a sidecar reach details (and only details).",
    hint = "A PeerAuthentication with selector matchLabels app: details wins over the namespace-wide one.",
    solution = peer_authentication("details-permissive", "PERMISSIVE", "details"),
    check = function()
      local d = outside("details-v1-0", 9080, "/details/0")
      local rv = outside("reviews-v1-0", 9080, "/reviews/0")
      return d.status == 200 and rv.status == 0, {details = d.status, reviews = rv.status}
    end,
  }
end)

reset()
