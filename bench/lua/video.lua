-- Stream one media file as phones' video players do: Range requests for successive chunks.
-- args: sessions file, path, file size in bytes, chunk size in bytes
local path, size, chunk, pos

function init(args)
  sessions = read_sessions(args[1])
  path = args[2]
  size = tonumber(args[3])
  chunk = tonumber(args[4])
  -- each thread starts at a different place, like a class that did not press play together
  pos = (id * 7 * chunk) % size
  expected_status = 206
end

function request()
  local last = math.min(pos + chunk, size) - 1
  local range = string.format("bytes=%d-%d", pos, last)
  pos = last + 1
  if pos >= size then
    pos = 0
  end
  local s = next_session()
  return wrk.format("GET", path, phone({ Range = range, Cookie = s.cookie }))
end
