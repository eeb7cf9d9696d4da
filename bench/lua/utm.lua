-- Workload "utm": every request is the page's URL as visitors from campaigns send it:
-- the real parameters (p, s, color) in a random order, plus 2-3 tracking parameters
-- (utm_*, gclid, fbclid) with fresh random values at random positions. E.g.
--   /shop/?utm_source=a8Xk2&color=red&p=2&gclid=Cj0KCQ...&s=shoes
-- Stripped and (if sorted) reordered, these are all one cache entry; as raw
-- $request_uri keys, every request is a new one.
-- With an argument N (wrk ... -s utm.lua URL -- N), the page is one of N catalogue pages,
-- p=1..N at random: N cache entries (bench/cluster.sh).
dofile("report.lua")

local path = "/shop/"
local real = { "p=2", "s=shoes", "color=red" }
local tracking = { "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "gclid", "fbclid" }
local chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

local function token(n)
   local t = {}
   for i = 1, n do
      local k = math.random(1, 64)
      t[i] = chars:sub(k, k)
   end
   return table.concat(t)
end

local pages = 1

function init(args)
   math.randomseed(os.time() + math.floor(os.clock() * 1e6))
   pages = tonumber(args[1]) or 1
end

function request()
   local page = pages > 1 and "p=" .. math.random(1, pages) or real[1]
   local parts = { page, real[2], real[3] }
   for i = 3, 2, -1 do
      local j = math.random(1, i)
      parts[i], parts[j] = parts[j], parts[i]
   end
   for _ = 1, math.random(2, 3) do
      local name = tracking[math.random(1, #tracking)]
      local value = (name == "gclid" or name == "fbclid") and token(40) or token(8)
      table.insert(parts, math.random(1, #parts + 1), name .. "=" .. value)
   end
   return wrk.format(nil, path .. "?" .. table.concat(parts, "&"))
end
