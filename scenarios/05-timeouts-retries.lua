-- Lesson 5: timeouts and retries (Istio's "Request Timeouts" task, then retries). A route
-- timeout bounds how long a caller waits; retries hide a failing replica from the caller at
-- the price of extra load on the callee. Telemetry shows both sides: what the caller got
-- (effective success) and what the callee answered (actual success).
lesson {
  title = "Timeouts and retries",
  goal = "Bound a slow call with a 0.5 s timeout; watch retries hide a flaky replica; meet URX",
  duration = "1 min",
}

local function vs(host, http_rules)
  return {apiVersion = "networking.istio.io/v1", kind = "VirtualService", metadata = {name = host},
          spec = {hosts = {host}, http = http_rules}}
end

step("Start clean: reviews v2 (it calls ratings), ratings delayed by 2 s", function()
  reset()
  apply(bookinfo.gateway)
  apply(bookinfo.destination_rule_all)
  apply(vs("reviews", {{route = {{destination = {host = "reviews", subset = "v2"}}}}}))
  apply(vs("ratings", {{fault = {delay = {percentage = {value = 100}, fixedDelay = "2s"}},
                        route = {{destination = {host = "ratings", subset = "v1"}}}}}))
  local r = http.page()
  say(string.format("The page takes %.1f s: reviews waits for ratings' 2 s.", r.ms / 1000))
  expect(r.ms >= 1900 and r.ms <= 4500 and bookinfo.reviews_version(r.body) == "v2",
         "with ratings delayed 2 s the page takes about 2 s and shows ratings", {seconds = r.ms / 1000})
end)

step("A 0.5 s timeout on the route to reviews", function()
  apply(vs("reviews", {{route = {{destination = {host = "reviews", subset = "v2"}}}, timeout = "0.5s"}}))
  say("productpage's sidecar now gives reviews 0.5 s, then answers 504 itself (flag UT).")
  local r = http.page()
  say(string.format("The page now takes %.1f s.", r.ms / 1000))
  expect(r.ms >= 900 and r.ms <= 2500, "the page answers in about 1 s, not 2", {seconds = r.ms / 1000})
  expect(r.body:find("Sorry, product reviews are currently unavailable", 1, true) ~= nil,
         "without reviews: the call timed out", {reviews = bookinfo.reviews_version(r.body)})
  say("Why 1 s and not 0.5 s: productpage itself retries a failed call to reviews once, and each",
      "try meets the 0.5 s timeout. Timeouts and retries multiply across hops.")
  local direct = http.get("http://reviews:9080/reviews/0", {from = "productpage-v1"})
  expect(direct.status == 504 and direct.flags:find("UT", 1, true) ~= nil,
         "one call to reviews from productpage's sidecar: 504 with flag UT (upstream timeout)",
         {status = direct.status, flags = direct.flags, seconds = direct.ms / 1000})
  pause()
end)

step("Retries hide a flaky replica", function()
  delete("virtualservice", "ratings")
  delete("virtualservice", "reviews")
  scale("details-v1", 2)
  chaos("details-v1-1", {error_rate = 1, code = 503})
  say("details now has two replicas; details-v1-1 answers every request 503. Istio's default",
      "retry policy (2 attempts, on connect failures and 503) retries elsewhere.")
  wait(1.2)
  load.start {url = "/productpage", qps = 20, connections = 4}
  wait(5)
  local s = load.stop()
  wait(0.8)
  local caller = metrics {service = "details", source = "productpage-v1", window = 5}
  local callee = metrics {service = "details", reporter = "destination", window = 5}
  say(string.format("effective success (productpage's view): %s of %d calls", pct(caller.success_ratio), caller.requests),
      string.format("actual success (details' own answers): %s of %d answers", pct(callee.success_ratio), callee.requests))
  expect(caller.requests >= 40 and (caller.success_ratio or 0) >= 0.99,
         "effective success rate: every call of productpage to details succeeded", caller.by_response_code)
  expect(callee.requests > caller.requests and (callee.success_ratio or 1) <= 0.9,
         "actual success rate: details answered 503 to the first tries that met the bad replica",
         {answers = callee.requests, calls = caller.requests, codes = callee.by_response_code})
  expect(s:code(200) == s.requests, "every page was whole", s.codes)
  say("The dashboard shows both (1 Topology): the details node, SERVED, is what details answered,",
      "every try counted, and reads red; the call productpage-v1 ==> details, SUCCESS, is what",
      "productpage got after its retries, and stays green.")
  pause()
end)

step("When retries run out: URX", function()
  chaos("details-v1-0", {error_rate = 1, code = 503})
  say("Now both replicas fail. Each call is tried, retried, and the last 503 goes back with flag",
      "URX: upstream retry limit exceeded.")
  local r = http.get("http://details:9080/details/0", {from = "productpage-v1"})
  expect(r.status == 503 and r.flags:find("URX", 1, true) ~= nil, "a call to details: 503 with flag URX",
         {status = r.status, flags = r.flags})
  say("meshlab why " .. r.request_id .. " shows each try:")
  for line in why(r.request_id):gmatch("[^\n]+") do
    if line:find("try", 1, true) then say("  " .. line) end
  end
  apply(vs("details", {{route = {{destination = {host = "details"}}}, retries = {attempts = 0}}}))
  local once = http.get("http://details:9080/details/0", {from = "productpage-v1"})
  expect(once.status == 503 and not once.flags:find("URX", 1, true), "with retries off: a plain 503, no URX",
         {status = once.status, flags = once.flags})
  pause()
end)

reset()
