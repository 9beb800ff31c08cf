-- Shared by the wrk scripts of the benchmark harness (bench/run): the bearer token from
-- BENCH_TOKEN, a per-thread id for seeding and partitioning, and a done() that prints one
-- line "BENCH_JSON {...}" with the counts and latency percentiles the harness parses.

local threads = {}

function bench_setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads - 1)
   thread:set("nthreads", 0) -- fixed in init: every thread is set up before any runs
end

wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

function done(summary, latency, requests)
   local extra = 0
   for _, t in ipairs(threads) do
      extra = extra + (t:get("extra") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d},"extra":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9), extra))
end
