-- Shared by every bench script (loaded with dofile): numbers each thread, counts non-2xx answers,
-- paces requests when BENCH_PACE_MS is set, and prints one machine-readable BENCH_RESULT line at the
-- end (latencies in microseconds).

-- Paced mode: after each answer a connection waits a random 0..2 x BENCH_PACE_MS (mean BENCH_PACE_MS;
-- random so that the connections do not fire in step), which sets the offered rate to about
-- connections / (pace + latency).
local pace_ms = tonumber(os.getenv("BENCH_PACE_MS") or "0") or 0
if pace_ms > 0 then
  math.randomseed(os.time())
  function delay()
    return math.random() * 2 * pace_ms
  end
end

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

non2xx = 0
last_bad_status = 0
last_bad_body = ""

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    last_bad_status = status
    last_bad_body = string.sub(body or "", 1, 300)
  end
end

function done(summary, latency, requests)
  local bad, bad_status, bad_body = 0, 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    if thread:get("last_bad_status") ~= 0 then
      bad_status = thread:get("last_bad_status")
      bad_body = thread:get("last_bad_body")
    end
  end
  local e = summary.errors
  io.write(string.format(
    '\nBENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "timeouts": %d, "status_errors": %d, "non2xx": %d, "last_bad_status": %d, '
      .. '"mean_us": %.1f, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout, e.status, bad,
    bad_status, latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  io.write("BENCH_BAD_BODY " .. string.gsub(bad_body, "[\r\n]", " ") .. "\n")
end

