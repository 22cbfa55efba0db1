-- wrk: POST a different picture on every request, as multipart field `image`:
-- the files UPLOAD_FIRST to UPLOAD_FIRST + UPLOAD_COUNT - 1 of folder UPLOADS.
-- Each wrk thread takes every other file, so none repeats until all are sent.
local boundary = "bench-boundary-7d1f"
local folder = os.getenv("UPLOADS")
local first = tonumber(os.getenv("UPLOAD_FIRST"))
local count = tonumber(os.getenv("UPLOAD_COUNT"))
local threads_seen = 0
local bodies = {}
local next_index = 1

function setup(thread)
  thread:set("offset", threads_seen)
  threads_seen = threads_seen + 1
end

function init(args)
  for n = first + offset, first + count - 1, 2 do
    local file = io.open(string.format("%s/%05d.jpg", folder, n), "rb")
    local data = file:read("*a")
    file:close()
    bodies[#bodies + 1] = "--" .. boundary .. "\r\n"
      .. 'Content-Disposition: form-data; name="image"; filename="p.jpg"\r\n'
      .. "Content-Type: image/jpeg\r\n\r\n" .. data .. "\r\n--" .. boundary .. "--\r\n"
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
end

function request()
  local body = bodies[next_index]
  next_index = next_index % #bodies + 1
  return wrk.format(nil, nil, nil, body)
end
