-- unsub.lua - wrk script for tests/bench/run.sh: RFC 8058 one-click
-- unsubscribes (POST /u/TOKEN, body List-Unsubscribe=One-Click), each
-- with a distinct valid token while they last.
--
--   wrk -t T -c C -d 30s --latency -s unsub.lua http://127.0.0.1:PORT \
--       -- TOKENFILE T [DELAY_MS]   (and WRK_REPORT=FILE in the environment)
--
-- DELAY_MS (default 0): each connection waits that long before each
-- request, so C connections send at most C * 1000 / DELAY_MS requests a
-- second (a paced load instead of as fast as optin-unsubd answers).
--
-- TOKENFILE has "NUMBER TOKEN" lines (tests/bench/tokens).  Thread t
-- (1..T) takes lines t, t+T, t+2T, ... in order, so which tokens were
-- posted follows from how many requests each thread made.  When a thread
-- runs out it starts again from its first token (marked "wrapped": a
-- repeated one-click is idempotent, still 200).  At the end the file
-- $WRK_REPORT gets one line per thread: "id sent responses non200 wrapped", and the
-- 99th percentile latency in microseconds on a line "p99_us N".

local threads = {}
local nextid = 1

function setup(thread)
	thread:set("id", nextid)
	nextid = nextid + 1
	table.insert(threads, thread)
end

function init(args)
	local file, nthreads = args[1], tonumber(args[2])
	tokens = {}
	local n = 0
	for line in io.lines(file) do
		if n % nthreads == id - 1 then
			local tok = line:match("^%d+ (%S+)$")
			if tok then tokens[#tokens + 1] = tok end
		end
		n = n + 1
	end
	-- wrk asks for delay() after init: defined only when pacing, so an
	-- unpaced load runs as before (no timer per request)
	local pace = tonumber(args[3] or "0")
	if pace > 0 then delay = function() return pace end end
	sent, responses, non200, wrapped, pos = 0, 0, 0, 0, 0
	headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
end

function request()
	pos = pos + 1
	if pos > #tokens then
		pos = 1
		wrapped = 1
	end
	sent = sent + 1
	return wrk.format("POST", "/u/" .. tokens[pos], headers,
	    "List-Unsubscribe=One-Click")
end

function response(status, hdrs, body)
	responses = responses + 1
	if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
	local out = assert(io.open(os.getenv("WRK_REPORT"), "w"))
	for _, t in ipairs(threads) do
		out:write(string.format("%d %d %d %d %d\n", t:get("id"),
		    t:get("sent"), t:get("responses"), t:get("non200"),
		    t:get("wrapped")))
	end
	out:write(string.format("p99_us %d\n", latency:percentile(99)))
	out:write(string.format("p50_us %d\n", latency:percentile(50)))
	out:close()
end
