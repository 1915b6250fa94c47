-- POST Daraja success callbacks to their payments' callback paths, read from a file of
-- "<path>\t<json body>" lines. Thread t takes lines t, t+T, t+2T, ... so that no callback is repeated
-- before every line has been sent once; after that the threads cycle (repeats are stored and
-- recognised as duplicates). Arguments: the file, the number of wrk threads.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local prepared = {}
local position = 0
local headers = {["Content-Type"] = "application/json;charset=UTF-8", ["Businessshortcode"] = "174379"}

function init(args)
  local threads = tonumber(args[2] or "1")
  local line_number = 0
  for line in io.lines(args[1]) do
    if line_number % threads == id then
      local path, body = line:match("^(%S+)\t(.*)$")
      table.insert(prepared, wrk.format("POST", path, headers, body))
    end
    line_number = line_number + 1
  end
  if #prepared == 0 then
    error("no callbacks for thread " .. id .. " in " .. args[1])
  end
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end
