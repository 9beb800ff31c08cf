-- The garbage-refresh flood of bench/attack.py: POST /auth/refresh with a fresh random token
-- and no credentials, paced to BENCH_RATE requests a second in all (shared by the thread's
-- connections through one schedule on the monotonic clock, read through LuaJIT's ffi). Counts
-- every answer by status; done() prints one "BENCH_JSON {...}" line. In C, wrk costs the
-- shared 2 cores a fraction of what a Python client paced alike did (bench/attack.py's note).

local ffi = require("ffi")
ffi.cdef [[
   typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
   int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")

local function now_ms()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
   return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local interval_ms, due
statuses = {} -- global: done() reads it from each thread with thread:get
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

function init(args)
   local rate = tonumber(os.getenv("BENCH_RATE")) / tonumber(os.getenv("BENCH_FLOOD_THREADS") or "1")
   interval_ms = 1000 / rate
   due = now_ms()
   statuses = {}
   math.randomseed(os.time() * 1000 + math.floor(now_ms()))
end

function delay()
   local now = now_ms()
   due = math.max(due + interval_ms, now - 100) -- a late client catches up for at most 100 ms
   return math.max(0, due - now)
end

function request()
   local token = {}
   for i = 1, 43 do
      local k = math.random(1, 64)
      token[i] = alphabet:sub(k, k)
   end
   return wrk.format("POST", "/auth/refresh", { ["Content-Type"] = "application/json" },
      '{"refresh_token":"' .. table.concat(token) .. '"}')
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local counts = {}
   for _, t in ipairs(threads) do
      for status, n in pairs(t:get("statuses") or {}) do
         counts[status] = (counts[status] or 0) + n
      end
   end
   local parts = {}
   for status, n in pairs(counts) do
      table.insert(parts, string.format('"%d":%d', status, n))
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"statuses":{%s},' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p99":%d}}\n',
      summary.requests, summary.duration, table.concat(parts, ","),
      e.connect, e.read, e.write, e.timeout, latency:percentile(50), latency:percentile(99)))
end
