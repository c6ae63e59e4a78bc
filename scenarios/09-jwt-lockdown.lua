-- Lesson 9: a JWT lockdown (Istio's "End-user authentication" and "Authorization with JWT"
-- tasks, on Bookinfo's productpage). A RequestAuthentication says which tokens are valid: it
-- turns away a bad token with 401, but lets a request with no token at all through, which
-- surprises almost everyone. Requiring a token is an AuthorizationPolicy's job (403), and the
-- same policy can look inside the token: a group claim, a subject. Tokens come from the lab's
-- own issuer (`meshlab token`), trusted through its jwksUri.
lesson {
  title = "JWT: authentication lets tokenless requests in; authorization locks the door",
  goal = "See 401 for a bad token, 200 without one, then 403 once a policy requires a request principal",
  duration = "1 min",
}

local ISSUER = "https://issuer.meshlab.local"

local request_authentication = {
  apiVersion = "security.istio.io/v1", kind = "RequestAuthentication",
  metadata = {name = "productpage-jwt"},
  spec = {selector = {matchLabels = {app = "productpage"}},
          jwtRules = {{issuer = ISSUER, jwksUri = ISSUER .. "/.well-known/jwks.json"}}},
}

local function require_principal(name, when)
  local rule = {from = {{source = {requestPrincipals = {"*"}}}}, when = when}
  return {apiVersion = "security.istio.io/v1", kind = "AuthorizationPolicy", metadata = {name = name},
          spec = {selector = {matchLabels = {app = "productpage"}}, action = "ALLOW", rules = {rule}}}
end

-- The product page through the ingress, with a bearer token when one is given.
local function page(tok)
  return http.page(nil, {headers = tok and {authorization = "Bearer " .. tok} or {}})
end

step("Trust the lab's issuer for productpage", function()
  reset()
  apply(bookinfo.gateway)
  expect(page().status == 200, "before any policy the page answers", nil)
  apply(request_authentication)
  local alice = token {sub = "alice"}
  -- the sidecar fetches the jwksUri through the lab once; until then a token cannot be checked
  local ok, r = wait_until(function()
    local x = page(alice)
    return x.status == 200 and x
  end, 5, 0.2)
  expect(ok, "a token signed by the lab's issuer is accepted", r and {status = r.status})
  pause()
end)

step("Authentication alone: bad tokens out, no token in", function()
  local bad = page("not.a.jwt")
  expect(bad.status == 401, "a malformed token: 401 from productpage's sidecar", {status = bad.status, body = bad.body})
  local expired = page(token {sub = "alice", exp = -3600})
  expect(expired.status == 401 and (expired.body or ""):find("expired") ~= nil,
         "an expired token: 401 \"Jwt is expired\"", {status = expired.status, body = expired.body})
  local none = page()
  expect(none.status == 200, "NO token at all: 200. RequestAuthentication only judges tokens that are there",
         {status = none.status})
  say("`meshlab why " .. expired.request_id .. "` shows the authn line that said no.")
  pause()
end)

step("Require a request principal: the door locks", function()
  apply(require_principal("require-jwt"))
  local none = page()
  expect(none.status == 403, "no token: 403 RBAC: access denied", {status = none.status, body = none.body})
  local alice = page(token {sub = "alice"})
  expect(alice.status == 200, "alice's valid token: 200 (principal " .. ISSUER .. "/alice)", {status = alice.status})
  pause()
end)

step("Exercise: only group1", function()
  exercise {
    task = "Change require-jwt so that only tokens whose groups claim holds group1 get the page.",
    hint = "Add when: [{key: request.auth.claims[groups], values: [group1]}] to the rule.",
    solution = require_principal("require-jwt", {{key = "request.auth.claims[groups]", values = {"group1"}}}),
    check = function()
      local in1 = page(token {sub = "alice", groups = {"group1"}})
      local in2 = page(token {sub = "bob", groups = {"group2"}})
      return in1.status == 200 and in2.status == 403, {group1 = in1.status, group2 = in2.status}
    end,
  }
end)

reset()
