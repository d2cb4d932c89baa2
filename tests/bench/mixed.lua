-- mixed.lua: the wrk script of the mixed CRUD workload (tests/bench/run-benchmarks).
-- Every connection sends, in turn: GET /items/1 four times, POST /items, PUT /items/1,
-- GET /items/1, DELETE /items/N. The run starts with item 1 in the store; N counts up from 2
-- and stays BEHIND (the connections' requests in flight, with room) the POSTs sent, so every
-- DELETE names an item already created and not yet deleted (servers number items 1, 2, 3...).
-- Until then the DELETE slot is one more GET. All answers are 2xx: wrk's non-2xx count stays 0.
local BEHIND = 200
local step, posts, deleted = 0, 0, 1
local json = { ["Content-Type"] = "application/json" }

function request()
  step = step % 8 + 1
  if step == 5 then
    posts = posts + 1
    return wrk.format("POST", "/items", json, '{"title":"buy milk","completed":false}')
  elseif step == 6 then
    return wrk.format("PUT", "/items/1", json, '{"title":"benchmark","completed":true}')
  elseif step == 8 and deleted + 1 < posts + 1 - BEHIND then
    deleted = deleted + 1
    return wrk.format("DELETE", "/items/" .. deleted)
  end
  return wrk.format("GET", "/items/1")
end
