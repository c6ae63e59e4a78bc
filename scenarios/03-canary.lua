-- Lesson 3: canary traffic shifting (Istio's "Traffic Shifting" task). Weighted routes move
-- a share of reviews' traffic from v1 to v3: 10 %, then half, then all of it. The lab's
-- telemetry counts which version answered each request, so the shares are measured, not
-- assumed, and asserted within the statistical margin of the sample.
lesson {
  title = "Canary: shifting traffic by weight",
  goal = "Move reviews from v1 to v3 in steps (90/10, 50/50, 100 % v3) and measure each split",
  duration = "1 min",
}

local QPS, SECONDS = 40, 5

local function weights(v1, v3)
  local route = {}
  if v1 > 0 then route[#route + 1] = {destination = {host = "reviews", subset = "v1"}, weight = v1} end
  if v3 > 0 then route[#route + 1] = {destination = {host = "reviews", subset = "v3"}, weight = v3} end
  return {
    apiVersion = "networking.istio.io/v1",
    kind = "VirtualService",
    metadata = {name = "reviews"},
    spec = {hosts = {"reviews"}, http = {{route = route}}},
  }
end

-- Sends QPS pages a second for SECONDS through the ingress, then reads the split the callers
-- of reviews saw over that stretch (the lab keeps one-second buckets; the phases are apart).
local function measure()
  wait(1.2)
  load.start {url = "/productpage", qps = QPS, connections = 4}
  wait(SECONDS)
  local s = load.stop()
  wait(0.8) -- the sidecars' last reports (every 250 ms)
  local m = metrics {service = "reviews", source = "productpage-v1", window = SECONDS}
  say(string.format("load: %d pages, %d OK; reviews saw %d requests: v1 %s, v3 %s", s.requests, s:code(200),
                    m.requests, pct(m:share("v1")), pct(m:share("v3"))))
  return m, s
end

local function check_share(m, version, p)
  local margin = share_margin(p, m.requests)
  expect(m.requests >= QPS * SECONDS / 3 and math.abs(m:share(version) - p) <= margin,
         string.format("reviews %s gets %d %% of the requests (+- %.1f points for %d requests)", version,
                       math.floor(p * 100 + 0.5), margin * 100, m.requests),
         {share = m:share(version), requests = m.requests, shares = m.share_by_destination_version})
end

step("Start clean: everything on reviews v1", function()
  reset()
  apply(bookinfo.gateway)
  apply(bookinfo.destination_rule_all)
  apply(bookinfo.virtual_service_all_v1)
  expect(wait_until(function() return http.page().status == 200 end, 10), "the product page answers")
  local m = measure()
  check_share(m, "v1", 1)
end)

step("The canary: 10 % to v3", function()
  say("One route, two destinations with weights 90 and 10: each request draws a destination,",
      "so the share is 10 % on average and wobbles with the sample size.")
  apply(weights(90, 10))
  local m = measure()
  check_share(m, "v3", 0.10)
  check_share(m, "v1", 0.90)
  pause()
end)

step("Half and half (virtual-service-reviews-50-v3)", function()
  apply(weights(50, 50))
  local m = measure()
  check_share(m, "v3", 0.5)
  pause()
end)

step("All of reviews on v3 (virtual-service-reviews-v3)", function()
  apply(weights(0, 100))
  local m = measure()
  expect(m.requests > 0 and m:share("v3") == 1, "every request went to v3", m.share_by_destination_version)
  expect((m.success_ratio or 0) >= 0.99, "and nothing failed during the shifts", m.by_response_code)
  pause()
end)

reset()
