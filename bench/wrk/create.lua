-- POST /orders with datetimes that never conflict: request k of thread t asks for
-- BENCH_BASE + (k * BENCH_THREADS + t) * 4 h (seconds since the epoch), a slot no other
-- request of this run or any earlier one uses (the harness moves BENCH_BASE past every slot
-- a run could have taken). Two services, as the pgbench script's transaction.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
require("common")

local base = tonumber(os.getenv("BENCH_BASE"))
local nthreads_env = tonumber(os.getenv("BENCH_THREADS"))
local k = 0
wrk.headers["Content-Type"] = "application/json"

function setup(thread) bench_setup(thread) end

function request()
   local at = base + (k * nthreads_env + tid) * 14400
   k = k + 1
   local body = string.format('{"datetime":"%s","totalfee":99.95,"services":[123,456]}',
      os.date("!%Y-%m-%dT%H:%M:%SZ", at))
   return wrk.format("POST", "/orders", nil, body)
end
