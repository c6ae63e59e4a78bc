-- Lesson 4: fault injection (Istio's "Fault Injection" task). A VirtualService can delay or
-- abort requests at the caller's sidecar, to test how an application copes, without touching
-- the application. Istio's task finds a real bug this way: the timeouts inside Bookinfo do not
-- fit together.
lesson {
  title = "Fault injection: delays and aborts",
  goal = "Delay ratings by 7 s for jason and see the page give up after about 6 s; abort 60 % of ratings calls",
  duration = "1 min",
}

step("Start clean: all v1, jason on reviews v2 (which calls ratings)", function()
  reset()
  apply(bookinfo.gateway)
  apply(bookinfo.destination_rule_all)
  apply(bookinfo.virtual_service_all_v1)
  apply(bookinfo.virtual_service_reviews_test_v2)
  local ok, r = wait_until(function()
    local p = http.page("jason")
    return bookinfo.reviews_version(p.body) == "v2" and p
  end, 10)
  expect(ok, "jason sees reviews v2 (black stars) before any fault", r and {ms = r.ms})
end)

step("virtual-service-ratings-test-delay: 7 s for jason's calls to ratings", function()
  apply [[
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - match:
    - headers:
        end-user:
          exact: jason
    fault:
      delay:
        percentage:
          value: 100.0
        fixedDelay: 7s
    route:
    - destination:
        host: ratings
        subset: v1
  - route:
    - destination:
        host: ratings
        subset: v1
]]
  say("reviews v2 waits up to 10 s for ratings, so a 7 s delay looks harmless. Watch the page:")
  local r = http.page("jason")
  say(string.format("jason's page: HTTP %d after %.1f s", r.status, r.ms / 1000))
  expect(r.ms >= 5500 and r.ms <= 9500, "the page gives up after about 6 s, not 7", {seconds = r.ms / 1000})
  expect(r.body:find("Sorry, product reviews are currently unavailable", 1, true) ~= nil,
         "and says the reviews are unavailable", {reviews = bookinfo.reviews_version(r.body)})
  say("Why: productpage calls reviews with a 3 s timeout and one retry, 3 s + 3 s = 6 s, so it",
      "gives up before reviews' own 10 s timeout toward ratings could matter. The fault found a",
      "bug: the caller's timeout is shorter than the callee's. (Istio's task: the same 6 s.)")
  say("meshlab why " .. r.request_id .. ", productpage's calls to reviews:")
  wait(0.5)
  local cut = 0
  for block in (why(r.request_id) .. "\n\n"):gmatch("(.-)\n%s*\n") do
    if block:find("productpage%-v1%-0 → outbound") and block:find("GET reviews:9080", 1, true) then
      local head = block:match("^%s*([^\n]+)")
      local try = block:match("\n%s*(try 1[^\n]+)")
      say("  " .. head .. "\n      " .. (try or ""))
      local ms = tonumber(head:match("(%d+) ms"))
      if ms and ms >= 2500 and ms <= 4500 then cut = cut + 1 end
    end
  end
  expect(cut == 2, "why: productpage tried reviews twice, each try cut after about 3 s", {tries_cut_at_3s = cut})
  local other = http.page()
  expect(other.ms < 3000 and other.body:find("Sorry", 1, true) == nil,
         "another user is not delayed: the fault matches end-user jason only", {seconds = other.ms / 1000})
  pause()
end)

step("An abort: 60 % of the calls to ratings answered 500 by the caller's sidecar", function()
  apply [[
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - fault:
      abort:
        percentage:
          value: 60
        httpStatus: 500
    route:
    - destination:
        host: ratings
        subset: v1
]]
  say("Now every caller of ratings gets HTTP 500 on 60 % of its calls, drawn per request. The",
      "sidecar answers itself (flag FI): ratings never sees those requests.")
  wait(1.2)
  load.start {url = "/productpage", qps = 30, connections = 4, headers = {cookie = "user=jason"}}
  wait(5)
  local s = load.stop()
  wait(0.8)
  local m = metrics {service = "ratings", window = 5}
  local errors = m:code(500)
  local share = m.requests > 0 and errors / m.requests or 0
  say(string.format("pages: %d, all HTTP 200: %s (productpage shows 'Ratings service is currently unavailable');",
                    s.requests, tostring(s:code(200) == s.requests)),
      string.format("ratings calls: %d, 500 FI: %d (%s)", m.requests, m:flag("FI"), pct(share)))
  local margin = share_margin(0.6, m.requests)
  expect(m.requests >= 50 and math.abs(share - 0.6) <= margin,
         string.format("about 60 %% of the calls to ratings fail (+- %.0f points for %d calls)", margin * 100, m.requests),
         {share = share, requests = m.requests, codes = m.by_response_code, flags = m.by_response_flags})
  expect(m:flag("FI") == errors, "every failure carries the FI flag (fault injected)", m.by_response_flags)
  expect(s:code(200) == s.requests, "the pages themselves still answer 200: reviews degrades gracefully", s.codes)
  local dest = metrics {service = "ratings", window = 5, reporter = "destination"}
  expect(dest.requests <= m.requests - errors + 5, "ratings itself saw only the calls that were not aborted",
         {ratings_saw = dest.requests, callers_sent = m.requests, aborted = errors})
  pause()
end)

reset()
