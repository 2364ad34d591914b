-- wrk script: bench/post.lua (its body, headers and RESULT line), but
-- every request carries messageIds never sent before, so a de-dup zone
-- (and its store) records 20 new ids per batch of 20 instead of
-- answering "already delivered" (bench/run fleet).  The body is cut at
-- its "messageId" values once; a request joins the pieces with new ids:
-- <RUN>-<thread>-<request>-<message>.

dofile(os.getenv("POST_LUA"))

local pieces = {}
local rest = wrk.body
while true do
    local s, e = rest:find('"messageId":"[^"]*"')
    if not s then break end
    pieces[#pieces + 1] = rest:sub(1, s - 1) .. '"messageId":"'
    rest = rest:sub(e)
end
pieces[#pieces + 1] = rest

local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

local n = 0
local run = (os.getenv("RUN") or "run") .. "-" .. tostring(os.time())

request = function()
    n = n + 1
    local prefix = run .. "-" .. tostring(tid) .. "-" .. n .. "-"
    local parts = {}
    for i = 1, #pieces - 1 do
        parts[#parts + 1] = pieces[i]
        parts[#parts + 1] = prefix .. i
    end
    parts[#parts + 1] = pieces[#pieces]
    return wrk.format(nil, nil, nil, table.concat(parts))
end
