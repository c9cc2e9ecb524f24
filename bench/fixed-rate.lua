-- wrk script for the fixed-rate rows of `npm run bench`: each connection waits an exponentially distributed think
-- time before every request, so the arrivals of all connections together are Poisson at about RATE per second
-- (hey's workers tick in step, which sends bursts of ten at once and measures queueing behind the burst instead).
-- env: RATE (req/s, default 1000), CONNECTIONS (must equal wrk's -c, default 20).
-- Prints one JSON line on stdout when done: achieved rate, percentiles in ms, errors.
local rate = tonumber(os.getenv("RATE") or "1000")
local connections = tonumber(os.getenv("CONNECTIONS") or "20")
local mean_ms = connections * 1000 / rate

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

function delay()
  -- wrk takes whole milliseconds; rounding keeps the mean.
  return math.floor(-math.log(1 - math.random()) * mean_ms + 0.5)
end

function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.timeout + e.status
  local function p(q) return latency:percentile(q) / 1000 end
  io.write(string.format('{"rps":%.1f,"p50":%.3f,"p90":%.3f,"p99":%.3f,"p999":%.3f,"max":%.3f,"errors":%d}\n',
    summary.requests / (summary.duration / 1e6), p(50), p(90), p(99), p(99.9), latency.max / 1000, errors))
end
