-- Lesson 7: outlier detection. A caller's sidecar watches each endpoint's answers and ejects
-- one that fails consecutive5xxErrors times in a row, for baseEjectionTime multiplied by how
-- often it was ejected. The state is the caller's own: another caller still sends to it.
lesson {
  title = "Outlier detection: ejecting a sick replica",
  goal = "Eject a failing details replica after consecutive 5xx, watch the ejection time double, then see panic off",
  duration = "1 min",
}

local DETAILS = "http://details:9080/details/0"

local function host_of(b, address)
  for _, h in ipairs(b.hosts) do
    if h.address:match("^[^:]+") == address then return h end
  end
  return nil
end

local sick_address

step("Start clean: three details replicas, retries off, an outlier detector", function()
  reset()
  scale("details-v1", 3)
  apply {
    apiVersion = "networking.istio.io/v1", kind = "VirtualService", metadata = {name = "details"},
    spec = {hosts = {"details"}, http = {{route = {{destination = {host = "details"}}}, retries = {attempts = 0}}}},
  }
  apply [[
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: details
spec:
  host: details
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 3
      interval: 2s
      baseEjectionTime: 1s
      maxEjectionPercent: 100
]]
  say("Retries are off so every failure reaches the detector (and the caller).")
  local b = breakers("productpage-v1-0", "details")
  expect(b and #b.hosts == 3 and b.ejected == 0, "productpage's sidecar sees 3 healthy details endpoints",
         b and {hosts = #b.hosts, ejected = b.ejected})
end)

step("details-v1-2 falls sick: ejected after 3 consecutive 503s", function()
  chaos("details-v1-2", {error_rate = 1, code = 503})
  sick_address = replica_address("details-v1-2")
  load.start {url = DETAILS, from = "productpage-v1", qps = 20, connections = 2}
  local ok, h = wait_until(function()
    local x = host_of(breakers("productpage-v1-0", "details"), sick_address)
    return x and x.ejected == true and x
  end, 10, 0.1)
  expect(ok, "productpage's sidecar ejects details-v1-2 (" .. tostring(sick_address) .. ")",
         h and {ejected = h.ejected, times_ejected = h.times_ejected, remaining_ms = h.ejection_remaining_ms})
  expect(ok and h.ejection_remaining_ms <= 1000, "first ejection: at most baseEjectionTime (1 s)",
         h and {ejection_remaining_ms = h.ejection_remaining_ms})
  pause()
end)

step("Back, still sick, ejected again: for twice as long", function()
  say("The detector sweeps every interval (2 s): it lets back a host whose time is up, and steps",
      "the multiplier of a host that stayed in for a whole sweep back down (Envoy's backoff decay).",
      "So a host that fails 3 more times before the next sweep is ejected for base x 2.")
  local ok, h = wait_until(function()
    local x = host_of(breakers("productpage-v1-0", "details"), sick_address)
    return x and x.ejected == true and x.times_ejected >= 2 and x
  end, 10, 0.05)
  expect(ok and h.ejection_remaining_ms > 1000 and h.ejection_remaining_ms <= 2000,
         "second ejection: more than 1 s left, at most 2 s (base x 2)",
         h and {times_ejected = h.times_ejected, ejection_remaining_ms = h.ejection_remaining_ms,
                multiplier = h.ejection_multiplier})
  local s = load.stop()
  say(string.format("The caller saw %d requests: %d failed (%s): the 3 consecutive errors per ejection and no more.",
                    s.requests, s:code(503), pct(s:share_code(503))))
  expect(s:share_code(503) < 0.34, "ejection keeps most requests away from the sick replica",
         {requests = s.requests, codes = s.codes})
  pause()
end)

step("Per caller: reviews' sidecar has its own detector", function()
  local b = breakers("reviews-v1-0", "details")
  expect(b ~= nil and b.ejected == 0, "reviews-v1's sidecar ejects nothing: it never saw the errors",
         b and {ejected = b.ejected, hosts = #b.hosts})
  pause()
end)

step("Every replica sick, panic off: 503 UH", function()
  chaos("details-v1", {error_rate = 1, code = 503})
  say("Istio turns Envoy's panic threshold off: with every host ejected there is no healthy")
  say("upstream, and the caller answers 503 UH instead of trying the ejected ones.")
  load.start {url = DETAILS, from = "productpage-v1", qps = 20, connections = 2}
  local ok, b = wait_until(function()
    local x = breakers("productpage-v1-0", "details")
    return x and x.ejected == 3 and x
  end, 10, 0.05)
  expect(ok, "all three replicas ejected (maxEjectionPercent 100)", b and {ejected = b.ejected})
  wait(0.5)
  local s = load.stop()
  expect(s:flag("UH") > 0, "requests answered 503 UH: no healthy upstream", {codes = s.codes, flags = s.flags})
  pause()
end)

reset()
