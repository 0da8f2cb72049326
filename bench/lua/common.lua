-- Shared by every Kru wrk script: signed-in sessions, per-thread counters, a JSON report.
-- bench/load.py prepends this file to a scenario script and passes arguments after "--":
-- args[1] is a file of "cookie<TAB>csrf token" lines (one signed-in learner each).

-- As bench/client.py's USER_AGENT: the phone that signed in (Flask-Login compares them).
-- wrk.format does not add wrk.headers to the headers a script gives, so scripts pass theirs
-- through phone().
USER_AGENT = "Mozilla/5.0 (Linux; Android 10) Kru-bench"

function phone(headers)
  headers["User-Agent"] = USER_AGENT
  return headers
end

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

sessions = {}
counter = 0
bad = 0

function read_sessions(path)
  local list = {}
  if path == nil or path == "" or path == "-" then
    return list
  end
  for line in io.lines(path) do
    local cookie, csrf = line:match("^([^\t]*)\t?(.*)$")
    table.insert(list, { cookie = cookie, csrf = csrf })
  end
  return list
end

function next_session()
  counter = counter + 1
  if #sessions == 0 then
    return nil
  end
  return sessions[(counter + id) % #sessions + 1]
end

-- Count answers that are not the status the scenario expects (a redirect to the sign-in
-- page would otherwise look like a fast success).
expected_status = 200

function response(status, headers, body)
  if status ~= expected_status then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + (thread:get("bad") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "bad_status": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.0f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes, total_bad,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
