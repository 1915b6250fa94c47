-- The baseline: POST a small JSON body to the bare app's constant endpoint.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local body = '{"ping": true}'
local headers = {["Content-Type"] = "application/json"}

function request()
  return wrk.format("POST", "/bare", headers, body)
end
