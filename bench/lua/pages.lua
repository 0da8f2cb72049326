-- GET one signed-in page, each request as the next learner of the class.
-- args: sessions file, path
local path

function init(args)
  sessions = read_sessions(args[1])
  path = args[2]
end

function request()
  local s = next_session()
  return wrk.format("GET", path, phone({ Cookie = s.cookie }))
end
