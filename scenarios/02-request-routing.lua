-- Lesson 2: request routing (Istio's "Request Routing" task). Bookinfo's reviews service has
-- three versions behind one Service; a VirtualService decides which subset gets a request,
-- first for everyone, then by the end-user header productpage sends for a logged-in user.
lesson {
  title = "Request routing",
  goal = "Send every request to reviews v1, then route the user jason to v2 by header",
  duration = "1 min",
}

-- n pages as `user` (nil: anonymous): how many showed each reviews version.
local function pages(n, user)
  local seen = {}
  for _ = 1, n do
    local r = http.page(user)
    local v = r.status == 200 and bookinfo.reviews_version(r.body) or ("HTTP " .. r.status)
    seen[v] = (seen[v] or 0) + 1
  end
  return seen
end

local function only(seen, version)
  for v in pairs(seen) do
    if v ~= version then return false end
  end
  return seen[version] ~= nil
end

step("Start clean: the Bookinfo gateway and the subsets of every service", function()
  reset()
  apply(bookinfo.gateway)
  apply(bookinfo.destination_rule_all)
  say("A DestinationRule names subsets by label (version: v1, v2, v3); it routes nothing by itself.")
  local ok = wait_until(function() return http.page().status == 200 end, 10)
  expect(ok, "the product page answers through the ingress gateway")
end)

step("No VirtualService: reviews' three versions take turns", function()
  say("Without a VirtualService every request to reviews may go to any of its endpoints:",
      "v1 shows no stars, v2 black stars, v3 red stars.")
  local seen = pages(15)
  local versions = 0
  for v in pairs(seen) do if v:match("^v%d$") then versions = versions + 1 end end
  expect(versions >= 2, "15 pages show at least two versions of reviews", seen)
  pause()
end)

step("virtual-service-all-v1: every request to reviews goes to v1", function()
  apply(bookinfo.virtual_service_all_v1)
  say("Each VirtualService sends its host to subset v1; the sidecars got the new routes within",
      "milliseconds (meshlab proxy-status shows each one's config version).")
  local seen = pages(10)
  expect(only(seen, "v1"), "10 pages: all show reviews v1 (no stars)", seen)
  pause()
end)

step("virtual-service-reviews-test-v2: jason goes to v2, everyone else to v1", function()
  apply(bookinfo.virtual_service_reviews_test_v2)
  say("productpage reads the login cookie and sends `end-user: jason` to reviews; the first",
      "rule matches that header, the second catches everything else. Rules are tried in order.")
  local jason = pages(6, "jason")
  expect(only(jason, "v2"), "jason's 6 pages all show reviews v2 (black stars)", jason)
  local anon = pages(6)
  expect(only(anon, "v1"), "an anonymous user's 6 pages all show reviews v1", anon)
  local other = pages(4, "kim")
  expect(only(other, "v1"), "another user (kim) still sees v1: the match is exact", other)
  pause()
end)

step("Exercise: send the user ana to reviews v3", function()
  exercise {
    task = "Edit the reviews VirtualService so that ana sees reviews v3 (red stars), jason still v2, everyone else v1.",
    hint = "Add a rule matching end-user: exact: ana before the catch-all route.",
    solution = [[
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - match:
    - headers:
        end-user:
          exact: jason
    route:
    - destination:
        host: reviews
        subset: v2
  - match:
    - headers:
        end-user:
          exact: ana
    route:
    - destination:
        host: reviews
        subset: v3
  - route:
    - destination:
        host: reviews
        subset: v1
]],
    check = function()
      local ana, jason, anon = pages(4, "ana"), pages(2, "jason"), pages(2)
      return only(ana, "v3") and only(jason, "v2") and only(anon, "v1"), {ana = ana, jason = jason, anonymous = anon}
    end,
  }
end)

reset()
