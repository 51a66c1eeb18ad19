-- One benchmark row for wrk. bench/run.py (`Load.script_args`) passes the load as
-- `key=value` script arguments: the requests file (sent in rotation), the expected body's
-- file, the mode ("exact", "match": the body matches the Lua pattern whole, its first
-- capture counted as "distinct", or "status"), the status, a header every answer must carry
-- with exactly a value, the offset in the rotation, a credentials file (one request per line
-- instead, the first with `Authorization` set to the prefix and the line), and max_requests
-- (stop after that many answers and create stop_file, so the harness ends wrk early).
-- Every answer whose status, body or header is not as expected counts as "bad", so a row
-- that silently measures failures (an expired token, a stale cookie) shows it.

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

-- {method, path, headers, body} of each request in the file: its request line, its header
-- lines, a blank line and its body line.
local function read_requests(path)
  local requests, next_line = {}, io.lines(path)
  for request_line in next_line do
    local method, target = string.match(request_line, "^(%S+) (.*)$")
    local headers = {}
    for line in next_line do
      if line == "" then break end
      local name, value = string.match(line, "^([^:]+): (.*)$")
      headers[name] = value
    end
    table.insert(requests, { method, target, headers, next_line() })
  end
  return requests
end

function init(args)
  local spec = {}
  for _, arg in ipairs(args) do
    local key, value = string.match(arg, "^([%w_]+)=(.*)$")
    spec[key] = value
  end
  local file = assert(io.open(spec.expect, "rb"))
  expect = file:read("*a")
  file:close()
  prepared = {}
  local requests = read_requests(spec.requests)
  if spec.credentials ~= "" then
    local method, target, headers, body = unpack(requests[1])
    for line in io.lines(spec.credentials) do
      headers["Authorization"] = spec.credential_prefix .. line
      table.insert(prepared, wrk.format(method, target, headers, body))
    end
  else
    for i, r in ipairs(requests) do
      prepared[i] = wrk.format(unpack(r))
    end
  end
  count = #prepared
  position = (tonumber(spec.offset) + (thread_index or 0) * 7919) % count
  expect_mode, expect_status = spec.mode, tonumber(spec.status)
  expect_header, expect_header_value = spec.header, spec.header_value
  max_requests, stop_file = tonumber(spec.max_requests), spec.stop_file
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
