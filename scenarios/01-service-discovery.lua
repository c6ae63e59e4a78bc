-- Lesson 1: service discovery and load balancing. A Service is a name; its endpoints are the
-- replicas whose labels match, and every caller's sidecar keeps the list and picks one per
-- request. reviews has three Deployments (v1, v2, v3) behind one Service, so without any
-- routing each version gets about a third. Then replicas: scale one version, make one replica
-- slow, and compare ROUND_ROBIN with Istio's default, LEAST_REQUEST.
lesson {
  title = "Service discovery and load balancing",
  goal = "See reviews' three versions share the traffic, scale replicas, and compare ROUND_ROBIN and LEAST_REQUEST with one slow replica",
  duration = "1 min",
}

local V1 = "reviews-v1"
local slow, rr_share

-- Requests each endpoint of reviews' v1 subset got from productpage's sidecar during fn().
local function per_host(fn)
  local before = {}
  for _, h in ipairs(breakers("productpage-v1-0", "reviews", "v1").hosts) do before[h.address] = h.rq_total end
  fn()
  local counts, total = {}, 0
  for _, h in ipairs(breakers("productpage-v1-0", "reviews", "v1").hosts) do
    counts[h.address] = h.rq_total - (before[h.address] or 0)
    total = total + counts[h.address]
  end
  return counts, total
end

local function policy(lb)
  return {
    apiVersion = "networking.istio.io/v1", kind = "DestinationRule", metadata = {name = "reviews"},
    spec = {host = "reviews", trafficPolicy = {loadBalancer = {simple = lb}},
            subsets = {{name = "v1", labels = {version = "v1"}}, {name = "v2", labels = {version = "v2"}},
                       {name = "v3", labels = {version = "v3"}}}},
  }
end

step("One Service, three Deployments: reviews v1, v2, v3", function()
  reset()
  apply(bookinfo.gateway)
  expect(wait_until(function() return http.page().status == 200 end, 10), "the product page answers")
  local b = breakers("productpage-v1-0", "reviews")
  say("productpage's sidecar knows reviews by its endpoints, one per replica:")
  for _, h in ipairs(b.hosts) do say("  " .. h.address) end
  expect(#b.hosts == 3, "reviews has 3 endpoints (one replica of each version)", #b.hosts)
  wait(1.2)
  load.start {url = "/productpage", qps = 30, connections = 4}
  wait(5)
  load.stop()
  wait(0.8)
  local m = metrics {service = "reviews", source = "productpage-v1", window = 5}
  local margin = share_margin(1 / 3, m.requests)
  for _, v in ipairs {"v1", "v2", "v3"} do
    expect(m.requests >= 60 and math.abs(m:share(v) - 1 / 3) <= margin,
           string.format("reviews %s gets about a third (+- %.0f points for %d requests)", v, margin * 100, m.requests),
           m.share_by_destination_version)
  end
  pause()
end)

step("Scale reviews-v1 to 3 replicas: the endpoints follow", function()
  scale(V1, 3)
  local names = replicas(V1 .. "-")
  say("replicas: " .. table.concat(names, ", "))
  local ok, b = wait_until(function()
    local x = breakers("productpage-v1-0", "reviews")
    return x and #x.hosts == 5 and x
  end, 10)
  expect(#names == 3 and ok, "3 replicas of reviews-v1, 5 endpoints of reviews in productpage's sidecar",
         {replicas = names, endpoints = b and #b.hosts})
  pause()
end)

step("One slow replica: ROUND_ROBIN", function()
  apply(policy("ROUND_ROBIN"))
  apply {apiVersion = "networking.istio.io/v1", kind = "VirtualService", metadata = {name = "reviews"},
         spec = {hosts = {"reviews"}, http = {{route = {{destination = {host = "reviews", subset = "v1"}}}}}}}
  chaos(V1 .. "-2", {latency = 0.5})
  slow = replica_address(V1 .. "-2") .. ":9080"
  say("Every request to reviews now goes to v1; " .. V1 .. "-2 (" .. slow .. ") answers in 500 ms.")
  local counts, total = per_host(function() load.run {url = "/productpage", qps = 30, connections = 6, seconds = 4} end)
  rr_share = total > 0 and (counts[slow] or 0) / total or 0
  say(string.format("ROUND_ROBIN: the slow replica got %d of %d requests (%s)", counts[slow] or 0, total, pct(rr_share)))
  expect(total >= 60 and math.abs(rr_share - 1 / 3) <= share_margin(1 / 3, total),
         "ROUND_ROBIN takes turns: the slow replica still gets a third", counts)
  pause()
end)

step("The same with LEAST_REQUEST, Istio's default", function()
  apply(policy("LEAST_REQUEST"))
  say("LEAST_REQUEST draws two endpoints and takes the one with fewer requests in flight: the")
  say("slow replica usually has more, so it wins only when both draws land on it (or on a tie).")
  local counts, total = per_host(function() load.run {url = "/productpage", qps = 30, connections = 6, seconds = 4} end)
  local share = total > 0 and (counts[slow] or 0) / total or 0
  say(string.format("LEAST_REQUEST: the slow replica got %d of %d requests (%s)", counts[slow] or 0, total, pct(share)))
  expect(total >= 60 and share < 0.25 and share < rr_share, "LEAST_REQUEST sends the slow replica clearly less than a third",
         {round_robin = rr_share, least_request = share, counts = counts})
  pause()
end)

reset()
