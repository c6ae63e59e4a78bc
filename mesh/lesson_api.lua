-- The lesson API, written in Lua on top of the runner's operations (mesh/lesson.c). Loaded
-- into every lesson's sandbox before the lesson; documented call by call, with examples, in
-- docs/scenario-api.md. Everything that waits goes through __host, which yields the lesson's
-- coroutine until the event loop has the answer.
--
-- Errors meant for the lesson author are raised with level 0: the sandbox then puts the
-- lesson's own file:line in front (the innermost frame of the lesson's chunk).

local host_call = __host
__host = nil

local function call(op, args)
  local ok, r = host_call(op, args)
  if not ok then error(r, 0) end
  return r
end

local function fail(fmt, ...) error(string.format(fmt, ...), 0) end

-- ---- formatting -------------------------------------------------------------------------------

-- A value as one readable line: tables as {k=v, ...} with sorted keys, numbers rounded.
local function show(v, depth)
  depth = depth or 0
  local t = type(v)
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if math.abs(v) >= 1000 then return string.format("%.0f", v) end
    return string.format("%.3g", v)
  elseif t == "string" then
    return v
  elseif t ~= "table" then
    return tostring(v)
  end
  if depth > 3 then return "{...}" end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  local seq = #v > 0 and #keys == #v
  for _, k in ipairs(keys) do
    local s = show(v[k], depth + 1)
    parts[#parts + 1] = seq and s or (tostring(k) .. "=" .. s)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end
fmt = show

function pct(x) return x and string.format("%.1f %%", x * 100) or "n/a" end

-- ---- lesson structure ----------------------------------------------------------------------------

local info = {}

function lesson(meta)
  if type(meta) ~= "table" then fail("lesson{title=..., goal=..., duration=...} takes a table") end
  info = meta
  call("lesson", {title = meta.title or "", goal = meta.goal or "", duration = meta.duration or ""})
end

function say(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[#parts + 1] = show((select(i, ...))) end
  call("say", {text = table.concat(parts, " ")})
end

function step(title, fn)
  if type(title) ~= "string" then fail("step(title, fn): the title is a string") end
  call("step", {title = title})
  if fn ~= nil then
    if type(fn) ~= "function" then fail("step(title, fn): fn is a function") end
    fn()
  end
end

-- expect(condition, message [, observed]): observed is any value (a table prints as {k=v});
-- the failure line carries the message, the observed values and the step.
function expect(condition, message, observed)
  if type(message) ~= "string" then fail("expect(condition, message [, observed]): message is a string") end
  local o = observed ~= nil and show(observed) or nil
  call("expect", {ok = condition and true or false, message = message, observed = o})
  return condition and true or false
end

-- expect_near(value, target, margin, message): |value - target| <= margin.
function expect_near(value, target, margin, message)
  local ok = type(value) == "number" and math.abs(value - target) <= margin
  return expect(ok, message, string.format("%s (want %s +- %s)", show(value), show(target), show(margin)))
end

-- The statistical margin of a share p measured over n independent requests: four standard
-- deviations plus 2 points, so a correct mesh fails it less than once in ten thousand runs.
function share_margin(p, n)
  if not n or n <= 0 then return 1 end
  return 4 * math.sqrt(p * (1 - p) / n) + 0.02
end

function interactive() return call("interactive") end

-- pause([prompt]): waits for the presenter's key when interactive (no-op headless). Returns
-- true when the presenter asked to move on ("n": skip, e.g. an exercise applies its solution).
function pause(prompt) return call("pause", {prompt = prompt or "press a key to go on"}) == true end

function now() return call("now") end

function wait(seconds)
  if type(seconds) ~= "number" then fail("wait(seconds): a number") end
  call("wait", {seconds = seconds})
end

-- wait_until(predicate, timeout [, interval]): calls predicate until it returns a true value
-- (returned, with true first) or timeout seconds pass (false, and the last value).
function wait_until(predicate, timeout, interval)
  timeout = timeout or 10
  interval = interval or 0.2
  local t0 = now()
  local last
  while true do
    last = predicate()
    if last then return true, last end
    if now() - t0 >= timeout then return false, last end
    wait(interval)
  end
end

-- ---- the lab API -------------------------------------------------------------------------------

local function query(params)
  local parts = {}
  local keys = {}
  for k in pairs(params) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = tostring(params[k])
    v = v:gsub("[^%w%-%._~/]", function(c) return string.format("%%%02X", c:byte()) end)
    parts[#parts + 1] = k .. "=" .. v
  end
  return #parts > 0 and ("?" .. table.concat(parts, "&")) or ""
end

-- lab.call(method, path [, body]): the raw lab API (docs/lab.md): {status, body, exit, stdout, stderr}.
lab = {}
function lab.call(method, path, body, content_type)
  return call("api", {method = method, path = path, body = body, content_type = content_type})
end

-- A console answer that failed is the lesson's error (bad YAML, unknown workload).
local function console(what, r)
  if r.exit ~= 0 then fail("%s failed (exit %d):\n%s", what, r.exit, (r.stderr or r.body or ""):gsub("\n$", "")) end
  return r.stdout or r.body
end

-- Resources as YAML text: a string is sent as it is; a table (or a list of tables) with
-- Istio's field names is written as JSON, which YAML reads, one document each.
local json_encode
local function to_yaml(doc)
  if type(doc) == "string" then return doc end
  if type(doc) ~= "table" then fail("apply/delete take YAML text or a table with Istio's field names") end
  if doc[1] ~= nil then
    local docs = {}
    for i, d in ipairs(doc) do docs[i] = json_encode(d) end
    return table.concat(docs, "\n---\n")
  end
  return json_encode(doc)
end

json_encode = function(v)
  local t = type(v)
  if t == "table" then
    if next(v) == nil then return "{}" end
    if v[1] ~= nil then
      local out = {}
      for i, x in ipairs(v) do out[i] = json_encode(x) end
      return "[" .. table.concat(out, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local out = {}
    for _, k in ipairs(keys) do out[#out + 1] = json_encode(k) .. ":" .. json_encode(v[k]) end
    return "{" .. table.concat(out, ",") .. "}"
  elseif t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return string.format("%.17g", v)
  elseif t == "boolean" then
    return tostring(v)
  end
  fail("a %s cannot be written as YAML", t)
end

-- apply(yaml_or_table [, namespace]): kubectl apply; returns its lines. Waits until every
-- sidecar runs the new config (the lab pushes within milliseconds; 0.3 s covers a busy machine).
function apply(doc, namespace)
  local path = "/v1/apply" .. query({file = call("where") .. " yaml", ns = namespace})
  local out = console("apply", lab.call("POST", path, to_yaml(doc)))
  wait(0.3)
  return out
end

-- delete(yaml_or_table) or delete(kind, name [, namespace]).
function delete(a, b, namespace)
  local r
  if type(a) == "string" and type(b) == "string" then
    r = lab.call("POST", "/v1/delete" .. query({kind = a, name = b, ns = namespace}))
  else
    r = lab.call("POST", "/v1/delete" .. query({file = call("where") .. " yaml", ns = b}), to_yaml(a))
  end
  local out = console("delete", r)
  wait(0.3)
  return out
end

-- reset(): the lab's clean state (POST /v1/reset): Istio resources applied since start deleted,
-- chaos cleared everywhere, the manifest's replica counts back; waits until every replica is
-- ready again.
function reset()
  local out = console("reset", lab.call("POST", "/v1/reset"))
  wait_until(function() return lab.call("GET", "/v1/ready").status == 200 end, 20)
  wait(0.3)
  return out
end

-- get(kind [, name [, namespace]]): the applied object(s) as tables (kubectl get -o json), nil
-- when not found.
function get(kind, name, namespace)
  local r = lab.call("GET", "/v1/get" .. query({kind = kind, name = name, ns = namespace, o = "json"}))
  if r.exit ~= 0 then return nil end
  return json_decode(r.stdout or r.body)
end

-- status(): the lab's replicas (meshlab status -o json), as a table.
function status() return json_decode(lab.call("GET", "/v1/status").body) end

-- ready(): true when every replica is running and every sidecar synced.
function ready() return lab.call("GET", "/v1/ready").status == 200 end

-- replicas(prefix): names of the replicas whose name starts with prefix, app running.
function replicas(prefix)
  local out = {}
  for _, r in ipairs(status().replicas or {}) do
    if r.name:sub(1, #prefix) == prefix and (r.app == "running" or r.app == "none" or r.app == nil) then
      out[#out + 1] = r.name
    end
  end
  table.sort(out)
  return out
end

-- chaos(workload, {latency=, jitter=, error_rate=, code=, hang=, crash=, slow_start=,
-- headers_forwarding=}) or chaos(workload, "clear"). Durations in seconds (0.5) or Istio's
-- strings ("500ms"); headers_forwarding = false is `--headers-forwarding off`.
local function ms(v)
  if v == nil then return nil end
  if type(v) == "number" then return math.floor(v * 1000 + 0.5) end
  local n, unit = tostring(v):match("^([%d%.]+)(%a*)$")
  if not n then fail("\"%s\" is not a duration (0.5, \"500ms\", \"2s\")", tostring(v)) end
  n = tonumber(n)
  local f = ({ms = 1, s = 1000, m = 60000, [""] = 1000})[unit]
  if not f then fail("\"%s\" is not a duration (0.5, \"500ms\", \"2s\")", tostring(v)) end
  return math.floor(n * f + 0.5)
end

function chaos(workload, knobs)
  if knobs == "clear" or (type(knobs) == "table" and knobs.clear) then
    return console("chaos", lab.call("POST", "/v1/chaos" .. query({workload = workload, clear = 1})))
  end
  if type(knobs) ~= "table" then fail("chaos(workload, {latency=..., error_rate=..., ...}) or chaos(w, \"clear\")") end
  local body = {}
  if knobs.latency ~= nil then body.latency_ms = ms(knobs.latency) end
  if knobs.jitter ~= nil then body.jitter_ms = ms(knobs.jitter) end
  if knobs.slow_start ~= nil then body.slow_start_ms = ms(knobs.slow_start) end
  if knobs.error_rate ~= nil then body.error_rate = knobs.error_rate + 0.0 end
  if knobs.code ~= nil then body.error_code = knobs.code end
  if knobs.hang ~= nil then body.hang = knobs.hang end
  if knobs.crash ~= nil then body.crash = knobs.crash end
  if knobs.headers_forwarding ~= nil then body.headers_forwarding = knobs.headers_forwarding end
  return console("chaos", lab.call("POST", "/v1/chaos" .. query({workload = workload}), json_encode(body),
                                   "application/json"))
end

function kill(replica, container)
  return console("kill", lab.call("POST", "/v1/kill" .. query({workload = replica, c = container})))
end

function restart(replica) return console("restart", lab.call("POST", "/v1/restart" .. query({workload = replica}))) end

-- scale(deployment, n): waits until the new replicas run (or the removed ones are gone).
function scale(deployment, n)
  local out = console("scale", lab.call("POST", "/v1/scale" .. query({workload = deployment, replicas = n})))
  wait_until(function()
    return #replicas(deployment .. "-") == n and ready()
  end, 20)
  wait(0.3)
  return out
end

-- why(request_id): the lab's per-hop explanation of one request, as text (meshlab why).
function why(request_id)
  local r = lab.call("GET", "/v1/why/" .. request_id .. "?o=text")
  return r.stdout or r.body
end

-- ---- metrics --------------------------------------------------------------------------------------

local function fqdn(service)
  if service == nil or service:find("%.") then return service end
  return service .. ".default.svc.cluster.local"
end

-- metrics{service=, window=, source=, reporter=}: the telemetry sink over the last `window`
-- seconds (default 10; whole seconds, the current one included), as the callers count it
-- unless reporter = "destination". Fields: requests, rate_rps, success_ratio, latency_ms
-- {p50, p90, p99}, share_by_destination_version {v1=...}, by_response_code {["200"]=n},
-- by_response_flags {["-"]=n, UO=n}; helpers m:share(version), m:code(c), m:flag(f).
local metrics_mt = {__index = {}}
function metrics_mt.__index.share(m, version) return (m.share_by_destination_version or {})[version] or 0 end
function metrics_mt.__index.code(m, c) return (m.by_response_code or {})[tostring(c)] or 0 end
function metrics_mt.__index.flag(m, f) return (m.by_response_flags or {})[f] or 0 end

function metrics(q)
  q = q or {}
  local window = q.window or 10
  if type(window) == "number" then window = tostring(math.max(1, math.ceil(window))) .. "s" end
  local r = lab.call("GET", "/v1/metrics" .. query({window = window, destination_service = fqdn(q.service),
                                                    source_workload = q.source,
                                                    reporter = q.reporter or "source"}))
  if r.status ~= 200 then fail("metrics: the lab answered %d: %s", r.status, r.body) end
  local m = json_decode(r.body)
  m.requests = m.requests or 0
  return setmetatable(m, metrics_mt)
end

-- ---- requests through the mesh ----------------------------------------------------------------------

-- http.get(url [, {headers=, from=, timeout=}]): one request. "/productpage" or
-- "http://ingress/..." goes to the ingress gateway; "http://reviews:9080/reviews/0" leaves
-- through the sidecar of `from` (default productpage-v1), as `meshlab exec` does; with from =
-- "outside" it goes straight to the URL's address, plaintext, as a client with no sidecar. Returns
-- {status, headers, body, flags, request_id, ms}; status 0 with `error` when no answer came.
http = {}
function http.request(r)
  if type(r) ~= "table" or type(r.url) ~= "string" then fail("http.request{url=..., method=, headers=, from=}") end
  return call("http", {url = r.url, method = r.method or "GET", headers = r.headers, body = r.body,
                       from = r.from, timeout = r.timeout})
end
function http.get(url, opts)
  opts = opts or {}
  return http.request({url = url, headers = opts.headers, from = opts.from, timeout = opts.timeout})
end

-- Bookinfo's page as a user: logs in the way Istio's tasks do (productpage reads the `user`
-- cookie and sends end-user: NAME to reviews and ratings).
function http.page(user, opts)
  opts = opts or {}
  local headers = opts.headers or {}
  if user then headers.cookie = "user=" .. user end
  return http.get(opts.url or "/productpage", {headers = headers, timeout = opts.timeout})
end

-- ---- load ----------------------------------------------------------------------------------------------

-- load.start{url=, qps=, connections=, headers=, from=}: open-loop load in the background
-- (default: /productpage through the ingress at 10 qps on 4 connections).
-- load.stop(): ends it; returns {requests, codes {["200"]=n}, flags {UO=n}, errors, qps,
-- latency_ms {p50, p90, p99, max}} with helpers s:code(c), s:flag(f), s:share_code(c).
-- load.run{..., seconds=}: start, wait, stop.
load = {}
local summary_mt = {__index = {}}
function summary_mt.__index.code(s, c) return (s.codes or {})[tostring(c)] or 0 end
function summary_mt.__index.flag(s, f) return (s.flags or {})[f] or 0 end
function summary_mt.__index.share_code(s, c) return s.requests > 0 and s:code(c) / s.requests or 0 end
function summary_mt.__index.share_flag(s, f) return s.requests > 0 and s:flag(f) / s.requests or 0 end

function load.start(o)
  o = o or {}
  call("load_start", {url = o.url or "/productpage", qps = o.qps or 10, connections = o.connections or 4,
                      headers = o.headers, from = o.from, method = o.method, timeout = o.timeout})
end
function load.stop()
  local s = call("load_stop")
  if s == nil then return nil end
  s.codes = s.codes or {}
  s.flags = s.flags or {}
  return setmetatable(s, summary_mt)
end
function load.run(o)
  load.start(o)
  wait(o.seconds or 5)
  return load.stop()
end

-- ---- per-caller state: breakers and ejections ------------------------------------------------------------

-- clusters(caller): the caller sidecar's view of every upstream cluster (Envoy's /clusters),
-- parsed: {[cluster] = {stats..., hosts = {[address] = {stats...}}}}. One function, so the
-- lab's /v1/clusters can replace the admin read later without touching lessons.
function clusters(caller)
  local r = call("admin", {replica = caller, path = "/clusters"})
  if r.status ~= 200 then fail("clusters(%s): the admin answered %d", caller, r.status) end
  local out = {}
  for line in r.body:gmatch("[^\n]+") do
    local parts = {}
    for p in (line .. "::"):gmatch("(.-)::") do parts[#parts + 1] = p end
    local c = parts[1]
    out[c] = out[c] or {hosts = {}}
    local value = parts[#parts]
    value = tonumber(value) or (value == "true" and true) or (value == "false" and false) or value
    if #parts == 3 then
      out[c][parts[2]] = value
    elseif #parts == 4 and (parts[2] == "default_priority" or parts[2] == "circuit_breakers" or parts[2] == "outlier") then
      out[c][parts[3]] = value
    elseif #parts == 4 then
      out[c].hosts[parts[2]] = out[c].hosts[parts[2]] or {address = parts[2]}
      out[c].hosts[parts[2]][parts[3]] = value
    end
  end
  return out
end

-- breakers(caller, service [, subset]): the caller's circuit-breaker and outlier state toward
-- one service: {max_connections, max_pending_requests, cx_active, rq_pending_active,
-- upstream_rq_pending_overflow, upstream_cx_overflow, hosts = {list of {address, ejected,
-- ejection_remaining_ms, times_ejected, consecutive_5xx, health_flags, rq_total, ...}}},
-- ejected = how many hosts are ejected now.
function breakers(caller, service, subset)
  local name = fqdn(service)
  for cname, c in pairs(clusters(caller)) do
    local dir, _, sub, host = cname:match("^(%a+)|(%d+)|([^|]*)|(.+)$")
    if dir == "outbound" and host == name and sub == (subset or "") then
      local list, ejected = {}, 0
      for _, h in pairs(c.hosts) do
        list[#list + 1] = h
        if h.ejected == true then ejected = ejected + 1 end
      end
      table.sort(list, function(a, b) return a.address < b.address end)
      c.hosts = list
      c.ejected = ejected
      c.name = cname
      return c
    end
  end
  return nil
end

-- The replica called name as status() lists it, or nil.
local function replica_entry(name)
  for _, r in ipairs(status().replicas or {}) do
    if r.name == name then return r end
  end
  return nil
end

-- replica_address(replica): the pod address its sidecar serves on (to match clusters' hosts).
function replica_address(replica)
  local r = replica_entry(replica)
  return r and r.address
end

-- pod_url(replica, port, path): where a client outside the mesh reaches the replica's service
-- port (its sidecar's inbound listener): http://ADDRESS:PORT/path, the block's port in port
-- blocks. For http.get(url, {from = "outside"}).
function pod_url(replica, port, path)
  local r = replica_entry(replica) or fail("pod_url: no replica %q", tostring(replica))
  local block = type(r.port_block) == "table" and r.port_block.ports or {}
  return string.format("http://%s:%d%s", r.address, block[tostring(port)] or port, path or "/")
end

-- token{sub=, groups=, aud=, scope=, exp=, alg=}: a JWT signed by the lab's own issuer
-- (https://issuer.meshlab.local), as `meshlab token` mints it; exp is the lifetime in seconds
-- (negative: already expired that long ago).
function token(claims) return call("token", claims or {}) end

-- ---- exercises --------------------------------------------------------------------------------------------

-- exercise{task=, hint=, solution=, check=function() return ok, observed end}: hands the
-- learner a task; when they press a key, check() looks at what they applied (get(), metrics,
-- http). Headless, the solution (YAML or a table) is applied in their place, so the check itself
-- is tested. Returns check's verdict, expected as "exercise: <task>".
function exercise(e)
  if type(e) ~= "table" or type(e.task) ~= "string" or type(e.check) ~= "function" then
    fail("exercise{task=..., check=function() ... end, solution=...}")
  end
  say("Exercise: " .. e.task)
  if e.hint then say("Hint: " .. e.hint) end
  local ok, observed
  if interactive() then
    repeat
      local skip = pause("apply your answer (meshlab apply -f ...), then space to check it, n to see the solution")
      if skip and e.solution then
        say("The solution, applied:\n" .. (type(e.solution) == "string" and e.solution or show(e.solution)))
        apply(e.solution)
      end
      ok, observed = e.check()
      if not ok then say("Not yet: " .. show(observed)) end
    until ok or (skip and not e.solution)
  else
    if e.solution then apply(e.solution) end
    ok, observed = e.check()
  end
  return expect(ok, "exercise: " .. (e.name or e.task), observed)
end

-- ---- JSON (the lab's answers) ------------------------------------------------------------------------------

-- json_decode(text): JSON into tables (null becomes nil). Small and strict enough for the
-- lab's own answers.
function json_decode(s)
  local pos = 1
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local value
  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local c = s:sub(pos, pos)
      if c == "" then fail("json: unterminated string") end
      if c == '"' then pos = pos + 1 break end
      if c == "\\" then
        local e = s:sub(pos + 1, pos + 1)
        if e == "u" then
          local cp = tonumber(s:sub(pos + 2, pos + 5), 16)
          out[#out + 1] = utf8.char(cp)
          pos = pos + 6
        else
          out[#out + 1] = ({n = "\n", t = "\t", r = "\r", b = "\b", f = "\f"})[e] or e
          pos = pos + 2
        end
      else
        local j = s:find('["\\]', pos) or #s + 1
        out[#out + 1] = s:sub(pos, j - 1)
        pos = j
      end
    end
    return table.concat(out)
  end
  value = function()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      local t = {}
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1 return t end
      while true do
        ws()
        local k = str()
        ws()
        pos = pos + 1 -- :
        t[k] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "}" then return t end
      end
    elseif c == "[" then
      local t = {}
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1 return t end
      while true do
        t[#t + 1] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "]" then return t end
      end
    elseif c == '"' then
      return str()
    elseif s:sub(pos, pos + 3) == "true" then
      pos = pos + 4 return true
    elseif s:sub(pos, pos + 4) == "false" then
      pos = pos + 5 return false
    elseif s:sub(pos, pos + 3) == "null" then
      pos = pos + 4 return nil
    else
      local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if not num or num == "" then fail("json: unexpected %q at %d", c, pos) end
      pos = pos + #num
      return math.tointeger(tonumber(num)) or tonumber(num)
    end
  end
  return value()
end

-- ---- Bookinfo's routing files (Istio's samples/bookinfo/networking, as the lab ships them) ----------------

bookinfo = {}
bookinfo.gateway = [[
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: bookinfo-gateway
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - "*"
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: bookinfo
spec:
  hosts:
  - "*"
  gateways:
  - bookinfo-gateway
  http:
  - match:
    - uri:
        exact: /productpage
    - uri:
        prefix: /static
    - uri:
        exact: /login
    - uri:
        exact: /logout
    - uri:
        prefix: /api/v1/products
    route:
    - destination:
        host: productpage
        port:
          number: 9080
]]

bookinfo.destination_rule_all = [[
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: productpage
spec:
  host: productpage
  subsets:
  - name: v1
    labels:
      version: v1
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
  - name: v3
    labels:
      version: v3
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
spec:
  host: ratings
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
  - name: v2-mysql
    labels:
      version: v2-mysql
  - name: v2-mysql-vm
    labels:
      version: v2-mysql-vm
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: details
spec:
  host: details
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
]]

-- Istio's virtual-service-reviews-test-v2.yaml: jason to v2, everyone else to v1 (the
-- request-routing and fault-injection tasks start from it).
bookinfo.virtual_service_reviews_test_v2 = [[
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
  - route:
    - destination:
        host: reviews
        subset: v1
]]

bookinfo.virtual_service_all_v1 = [[
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: productpage
spec:
  hosts:
  - productpage
  http:
  - route:
    - destination:
        host: productpage
        subset: v1
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - route:
    - destination:
        host: ratings
        subset: v1
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: details
spec:
  hosts:
  - details
  http:
  - route:
    - destination:
        host: details
        subset: v1
]]

-- The version of reviews a product page shows: v1 no stars, v2 black, v3 red (Istio's task).
function bookinfo.reviews_version(body)
  if not body or body == "" then return nil end
  if body:find('<font color="red">', 1, true) then return "v3" end
  if body:find('<font color="black">', 1, true) then return "v2" end
  if body:find("Sorry, product reviews are currently unavailable", 1, true) then return "none" end
  return "v1"
end
