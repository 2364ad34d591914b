-- bench/store: N ids never seen before in each request
local n = 0
local size = tonumber(os.getenv("N") or "20")
local path = os.getenv("PATH_") or "/probe"
local op = os.getenv("OP") or "reserve"
local run = (os.getenv("RUN") or "0") .. "-" .. tostring(os.time())

request = function()
    n = n + 1
    local ids = {}
    for i = 1, size do
        ids[i] = run .. "-" .. n .. "-" .. i
    end
    return wrk.format("GET", path .. "?zone=ids&app=bench&op=" .. op
                      .. "&ids=" .. table.concat(ids, ","))
end
