-- wrk script: POST pre-signed, distinct webhooks read from BENCH_EVENTS (body TAB signature
-- per line); thread i of BENCH_THREADS sends lines i, i + threads, ... so no two threads send
-- the same event before the file wraps. BENCH_DELAY_MS paces each connection.
-- done() prints one JSON line: requests, duration, non-2xx answers, latency percentiles (us).
local lines, counter, threads = {}, 0, {}
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local stride = tonumber(os.getenv("BENCH_THREADS") or "1")

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("BENCH_EVENTS")) do table.insert(lines, line) end
  n = id
end

function request()
  n = (n + stride) % #lines
  local body, sig = lines[n + 1]:match("^(.-)\t(.*)$")
  return wrk.format("POST", "/webhooks/userdb",
    {["Content-Type"] = "application/json", ["X-Signature"] = sig}, body)
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, bad, latency:percentile(50), latency:percentile(99)))
end
