-- wrk: POSTs one track per request and counts answers by status.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic d2tfbG9jYWxfZXhhbXBsZTo="

local body = io.open(os.getenv("BODY_FILE")):read("*a")
wrk.body = body

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    ok, other = 0, 0
end

function response(status, headers, body)
    if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
    local o, n = 0, 0
    for _, t in ipairs(threads) do
        o = o + t:get("ok")
        n = n + t:get("other")
    end
    io.write(string.format("answered_200 %d\nanswered_other %d\nerrors %d\n",
        o, n, summary.errors.connect + summary.errors.read
              + summary.errors.write + summary.errors.timeout))
end
