-- GET /orders?limit=100 paged to the end by following Link: rel="next", then from the start
-- again. Run with one connection per thread (-c = -t) so each thread's walk is sequential;
-- "extra" in the output counts complete walks.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
require("common")

local first = "/orders?limit=100"
local path = first
extra = 0

function setup(thread) bench_setup(thread) end

function request()
   return wrk.format("GET", path)
end

function response(status, headers, body)
   if status ~= 200 then
      path = first
      return
   end
   local link = headers["Link"] or headers["link"]
   if link then
      path = link:match("<([^>]*)>")
   else
      extra = extra + 1
      path = first
   end
end
