-- GET /orders/{id} with ids drawn uniformly from 1..BENCH_N (every one exists after the
-- harness's import), one random stream per wrk thread.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
require("common")

local n = tonumber(os.getenv("BENCH_N"))

function setup(thread) bench_setup(thread) end

function init(args)
   math.randomseed(os.time() * 1000 + tid * 7919)
end

function request()
   return wrk.format("GET", "/orders/" .. math.random(1, n))
end
