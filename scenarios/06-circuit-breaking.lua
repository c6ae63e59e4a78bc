-- Lesson 6: circuit breaking (Istio's "Circuit Breaking" task, on Bookinfo's details). A
-- DestinationRule's connectionPool caps how many connections and queued requests one caller's
-- sidecar keeps toward a service; past the caps the sidecar answers 503 itself, flag UO, at
-- once, instead of piling more work on a struggling service. The limits are per caller.
lesson {
  title = "Circuit breaking: connection-pool limits",
  goal = "Cap details at 1 connection and 1 pending request; see 503 UO under concurrency and the queue fill",
  duration = "1 min",
}

local DETAILS = "http://details:9080/details/0"

local function pool(max_connections, max_pending)
  return {
    apiVersion = "networking.istio.io/v1",
    kind = "DestinationRule",
    metadata = {name = "details"},
    spec = {
      host = "details",
      trafficPolicy = {connectionPool = {tcp = {maxConnections = max_connections},
                                         http = {http1MaxPendingRequests = max_pending, maxRequestsPerConnection = 1}}},
    },
  }
end

step("Start clean: details answers in 50 ms", function()
  reset()
  chaos("details-v1", {latency = 0.05})
  local r = http.get(DETAILS)
  expect(r.status == 200, "productpage's sidecar reaches details", {status = r.status, ms = r.ms})
end)

step("Istio's limits: maxConnections 1, http1MaxPendingRequests 1", function()
  apply(pool(1, 1))
  local b = breakers("productpage-v1-0", "details")
  expect(b and b.max_connections == 1 and b.max_pending_requests == 1,
         "productpage's sidecar runs the limits (its /clusters)", b and {max_connections = b.max_connections,
                                                                        max_pending_requests = b.max_pending_requests})
  say("One client connection, one request at a time, stays within the limits:")
  local s = load.run {url = DETAILS, from = "productpage-v1", qps = 10, connections = 1, seconds = 2}
  expect(s.requests > 5 and s:code(200) == s.requests, "1 connection: every request succeeds", s.codes)
  pause()
end)

step("Four concurrent clients: the pool overflows", function()
  say("40 requests a second on 4 connections, each taking 50 ms: about 2 at a time want details,")
  say("one may be in flight and one may wait; the rest overflow.")
  load.start {url = DETAILS, from = "productpage-v1", qps = 40, connections = 4}
  local seen, b = wait_until(function()
    local x = breakers("productpage-v1-0", "details")
    return x and x.rq_pending_active >= 1 and x
  end, 5, 0.05)
  expect(seen, "the pending queue fills: rq_pending_active reaches its limit of 1",
         b and {cx_active = b.cx_active, rq_pending_active = b.rq_pending_active})
  wait(2)
  local s = load.stop()
  local after = breakers("productpage-v1-0", "details")
  say(string.format("%d requests: %d OK, %d answered 503 UO by the caller's own sidecar (%s)", s.requests,
                    s:code(200), s:flag("UO"), pct(s:share_flag("UO"))))
  expect(s:flag("UO") > 0 and s:code(200) > 0, "both 200 and 503 UO (upstream overflow)", {codes = s.codes, flags = s.flags})
  expect(s:flag("UO") == s:code(503), "every 503 is an overflow: details itself never failed", {codes = s.codes, flags = s.flags})
  expect(after.upstream_rq_pending_overflow > 0, "the caller's /clusters counts upstream_rq_pending_overflow",
         {upstream_rq_pending_overflow = after.upstream_rq_pending_overflow})
  say("The breaker lives in the caller: reviews' sidecar has the same limits but its own counters.")
  local other = breakers("reviews-v1-0", "details")
  expect(other == nil or (other.upstream_rq_pending_overflow or 0) == 0, "reviews' sidecar counted no overflow",
         other and {upstream_rq_pending_overflow = other.upstream_rq_pending_overflow})
  pause()
end)

step("Exercise: room enough", function()
  exercise {
    task = "Edit the details DestinationRule so that 4 clients at 40 requests a second get no 503 UO.",
    hint = "Raise tcp.maxConnections and http.http1MaxPendingRequests (8 each leaves room).",
    solution = pool(10, 10),
    check = function()
      local s = load.run {url = DETAILS, from = "productpage-v1", qps = 40, connections = 4, seconds = 2}
      return s.requests > 5 and s:flag("UO") == 0 and s:code(200) == s.requests, {codes = s.codes, flags = s.flags}
    end,
  }
end)

reset()
