-- One benchmark row for wrk. The row's load is a JSON file written by bench/run.py (`Load`)
-- and passed as the first script argument: {
--   "requests": [{"method":, "path":, "headers": {...}, "body":}, ...],  -- sent in rotation
--   "offset": n,          -- where in the rotation each thread starts
--   "expect": "...",      -- the body every response must equal ("exact") or match
--                         -- ("match", a Lua pattern)
--   "expect_mode": "exact" | "match" | "status",
--   "expect_status": 200, -- the status every response must have
--   "expect_header": "x-name", "expect_header_value": "...",  -- a header every response
--                         -- must carry with exactly this value ("": none checked)
--   "credentials_file": "...", "credential_header": "...", "credential_prefix": "...",
--                         -- when set, one request per line of the file instead: the first
--                         -- request with that header set to the prefix and the line
--   "max_requests": n,    -- stop after n responses (0: run for the duration) ...
--   "stop_file": "...",   -- ... and create this file, so the harness ends wrk (SIGINT) early
-- }
-- Every response whose status is not the expected one, whose body is not as expected, or
-- that lacks the expected header value, counts as "bad", so a row that silently measures
-- failures (an expired token, a stale cookie) shows it. In "match" mode the pattern's
-- first capture is counted too ("distinct"): how many different ones were answered.

local threads = {}

-- The JSON that run.py writes: objects, arrays, strings and integers, UTF-8 unescaped
-- (ensure_ascii=False); anything else is an error, never a guess.
local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function decode(text)
  local pos = 1
  local function fail(what) error(string.format("spec: %s at byte %d", what, pos)) end
  local function skip() pos = string.find(text, "[^ \t\r\n]", pos) or #text + 1 end
  local function char() return string.sub(text, pos, pos) end
  local function text_value()
    local parts = {}
    pos = pos + 1
    while true do
      local stop = string.find(text, '["\\]', pos) or fail("unterminated string")
      table.insert(parts, string.sub(text, pos, stop - 1))
      if string.sub(text, stop, stop) == '"' then
        pos = stop + 1
        return table.concat(parts)
      end
      local escape = string.sub(text, stop + 1, stop + 1)
      pos = stop + 2
      if escape == "u" then
        local code = tonumber(string.sub(text, pos, pos + 3), 16)
        if not code or code > 127 then fail("a \\u escape beyond ASCII") end
        table.insert(parts, string.char(code))
        pos = pos + 4
      else
        table.insert(parts, escapes[escape] or fail("an unknown escape"))
      end
    end
  end
  local function value()
    skip()
    local opening = char()
    if opening == '"' then
      return text_value()
    elseif opening == "{" or opening == "[" then
      local result, closing = {}, opening == "{" and "}" or "]"
      pos = pos + 1
      skip()
      if char() == closing then pos = pos + 1 return result end
      local separator
      repeat
        if opening == "{" then
          skip()
          if char() ~= '"' then fail("a key expected") end
          local key = text_value()
          skip()
          if char() ~= ":" then fail("':' expected") end
          pos = pos + 1
          result[key] = value()
        else
          table.insert(result, value())
        end
        skip()
        separator = char()
        pos = pos + 1
      until separator ~= ","
      if separator ~= closing then fail("'" .. closing .. "' expected") end
      return result
    end
    local number = string.match(text, "^-?%d+", pos) or fail("a value expected")
    pos = pos + #number
    return tonumber(number)
  end
  local result = value()
  skip()
  if pos <= #text then fail("trailing data") end
  return result
end

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local spec = decode(file:read("*a"))
  file:close()
  prepared = {}
  if spec.credentials_file ~= "" then
    local first = spec.requests[1]
    for line in io.lines(spec.credentials_file) do
      first.headers[spec.credential_header] = spec.credential_prefix .. line
      table.insert(prepared, wrk.format(first.method, first.path, first.headers, first.body))
    end
  else
    for i, r in ipairs(spec.requests) do
      prepared[i] = wrk.format(r.method, r.path, r.headers, r.body)
    end
  end
  count = #prepared
  position = (spec.offset + (thread_index or 0) * 7919) % count
  expect, expect_mode, expect_status = spec.expect, spec.expect_mode, spec.expect_status
  expect_header, expect_header_value = spec.expect_header, spec.expect_header_value
  max_requests, stop_file = spec.max_requests, spec.stop_file
  responses, bad, distinct, seen = 0, 0, 0, {}
end

function request()
  position = position % count + 1
  return prepared[position]
end

-- The value of header `name` (lower case) whatever case the server wrote it in.
local function header_value(headers, name)
  for key, value in pairs(headers) do
    if string.lower(key) == name then
      return value
    end
  end
  return nil
end

-- Whether `body` matches the pattern whole; a first capture not seen before is counted.
local function matches(body)
  local capture = string.match(body, expect)
  if capture == nil then return false end
  if not seen[capture] then
    seen[capture] = true
    distinct = distinct + 1
  end
  return true
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= expect_status then
    bad = bad + 1
  elseif expect_header ~= "" and header_value(headers, expect_header) ~= expect_header_value then
    bad = bad + 1
  elseif expect_mode == "exact" and body ~= expect then
    bad = bad + 1
  elseif expect_mode == "match" and not matches(body) then
    bad = bad + 1
  end
  if max_requests > 0 and responses == max_requests then
    -- wrk's main thread sleeps for the whole duration; the harness sees the file and
    -- sends SIGINT, after which wrk reports as usual.
    wrk.thread:stop()
    if stop_file ~= "" then
      local marker = io.open(stop_file, "w")
      if marker then marker:close() end
    end
  end
end

function done(summary, latency, requests)
  local total_bad, total_responses, total_distinct = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + (thread:get("bad") or 0)
    total_responses = total_responses + (thread:get("responses") or 0)
    total_distinct = total_distinct + (thread:get("distinct") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"responses":%d,"distinct":%d,"duration_us":%d,"bad":%d,"status_errors":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, total_responses, total_distinct, summary.duration, total_bad, e.status,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
