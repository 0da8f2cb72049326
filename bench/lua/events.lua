-- POST /api/v1/events: batches of learning events, each request as the next learner.
-- args: sessions file, batch size, item keys (comma-separated), run nonce (hex, 8 digits)
local batch, items, nonce
local seq = 0

function init(args)
  sessions = read_sessions(args[1])
  batch = tonumber(args[2])
  items = {}
  for key in string.gmatch(args[3], "[^,]+") do
    table.insert(items, key)
  end
  nonce = tonumber(args[4], 16)
end

-- Event ids must be unique across threads and runs: nonce, thread id and a counter.
local function event_id()
  seq = seq + 1
  return string.format("%08x-%04x-4000-8000-%012x", nonce, id, seq)
end

function request()
  local s = next_session()
  local parts = {}
  for i = 1, batch do
    parts[i] = string.format(
      '{"id":"%s","verb":"progressed","object":"%s",' ..
      '"result":{"duration_s":15,"completion":0.5},"timestamp":"2026-03-02T08:%02d:%02d+07:00"}',
      event_id(), items[(seq % #items) + 1], seq % 60, i % 60)
  end
  local body = '{"events":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/api/v1/events", phone({
    Cookie = s.cookie,
    ["X-CSRFToken"] = s.csrf,
    ["Content-Type"] = "application/json",
  }), body)
end
