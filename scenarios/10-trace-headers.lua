-- Lesson 10: the headers apps must forward (Istio's "Distributed Tracing" overview: "the
-- application needs to propagate the trace headers"). A sidecar gives a request its
-- x-request-id and trace headers, but it cannot tell which outgoing call belongs to which
-- incoming request: only the app can, by copying the headers onto its own calls. Bookinfo's apps
-- do (x-request-id, traceparent, tracestate, the B3 headers, and end-user). Turn that off in
-- reviews and the trace breaks at reviews, and so does every rule that matches a forwarded
-- header: Istio's fault for end-user jason never fires.
lesson {
  title = "Trace headers: what the apps must forward",
  goal = "Follow one request id through productpage, reviews and ratings; see it lost when reviews stops forwarding",
  duration = "1 min",
}

local RATINGS = "ratings.default.svc.cluster.local"

-- The ids of the sampled calls to a service (the lab's live request log, newest 1000).
local function ids_seen(service)
  local r = lab.call("GET", "/v1/requests?limit=1000&destination_service=" .. service)
  local seen = {}
  for _, rec in ipairs(json_decode(r.body) or {}) do seen[rec.request_id] = true end
  return seen
end

-- jason's page with a chosen request id; waits for the sidecars' next report.
local function page(id)
  local r = http.page("jason", {headers = {["x-request-id"] = id}})
  wait(0.8)
  return r
end

local ratings_delay = {
  apiVersion = "networking.istio.io/v1", kind = "VirtualService", metadata = {name = "ratings"},
  spec = {hosts = {"ratings"},
          http = {{match = {{headers = {["end-user"] = {exact = "jason"}}}},
                   fault = {delay = {percentage = {value = 100}, fixedDelay = "2s"}},
                   route = {{destination = {host = "ratings", subset = "v1"}}}},
                  {route = {{destination = {host = "ratings", subset = "v1"}}}}}},
}

step("One request id from the gateway to ratings", function()
  reset()
  apply(bookinfo.gateway)
  apply(bookinfo.destination_rule_all)
  apply(bookinfo.virtual_service_all_v1)
  apply(bookinfo.virtual_service_reviews_test_v2)
  local ok = wait_until(function() return bookinfo.reviews_version(page("trace-on").body) == "v2" end, 10)
  expect(ok, "jason gets reviews v2, the version that calls ratings", nil)
  expect(ids_seen(RATINGS)["trace-on"] == true, "ratings' call carries the id the gateway saw: trace-on", nil)
  say("`meshlab why trace-on` lists every hop: gateway, productpage, reviews-v2, ratings.")
  pause()
end)

step("reviews stops forwarding: the trace breaks at reviews", function()
  chaos("reviews-v2", {headers_forwarding = false})
  local r = page("trace-off")
  expect(bookinfo.reviews_version(r.body) == "v2", "the page still works: reviews v2 still calls ratings",
         {version = bookinfo.reviews_version(r.body)})
  expect(ids_seen("reviews.default.svc.cluster.local")["trace-off"] == true,
         "productpage -> reviews still carries trace-off (productpage forwards)", nil)
  expect(ids_seen(RATINGS)["trace-off"] == nil,
         "reviews -> ratings does not: reviews' sidecar gave that call a fresh id, a trace of its own", nil)
  pause()
end)

step("And a rule on a forwarded header stops matching", function()
  apply(ratings_delay)
  say("A 2 s delay on ratings for end-user jason. reviews no longer copies end-user onto its call:")
  local off = page("fault-off")
  expect(off.ms < 1500, "jason's page comes back at once: ratings never sees end-user: jason", {ms = off.ms})
  chaos("reviews-v2", {headers_forwarding = true})
  local on = page("fault-on")
  expect(on.ms >= 1900, "forwarding back on, the delay fires for jason again", {ms = on.ms})
  pause()
end)

reset()
