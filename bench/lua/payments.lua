-- POST /api/payments: a unique Idempotency-Key per request (prefix, thread id, counter) and phone numbers
-- ending in 90, for which the Daraja simulator accepts the push and never sends a callback.
-- Argument: the key prefix (unique per run and phase).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local prefix = "bench"
local counter = 0
local wallet = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
local headers = {["Content-Type"] = "application/json"}

function init(args)
  prefix = args[1] or prefix
end

function request()
  counter = counter + 1
  headers["Idempotency-Key"] = string.format("%s-%d-%d", prefix, id, counter)
  local phone = string.format("07%06d90", (id * 500000 + counter) % 1000000)
  local body = string.format('{"phone": "%s", "package_id": "usdt-10", "wallet_address": "%s"}', phone, wallet)
  return wrk.format("POST", "/api/payments", headers, body)
end
