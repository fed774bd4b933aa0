-- mt-load.lua - drive a running milter directly (no MTA) with campaign
-- messages, for tests/bench/run.sh (memory after 100,000 messages, and the
-- callgrind profile).  miltertest -s tests/bench/mt-load.lua, with:
--   BENCH_SOCK      milter socket, e.g. unix:/path/milter.sock
--   BENCH_MSG       message file (headers, empty line, body)
--   BENCH_FROM      envelope sender
--   BENCH_RCPT      recipient format with one %d, e.g. "%dreader@example.net"
--   BENCH_FIRST     first recipient number; BENCH_COUNT messages
--   BENCH_PER_CONN  messages per milter connection (then a new one)
-- Each message has one recipient, number FIRST+k.  Any reply other than
-- continue/accept at end of message counts as a failure; the script prints
-- "mt-load: sent=N failed=N" and fails when N failed > 0.

local sock = os.getenv("BENCH_SOCK")
local from = os.getenv("BENCH_FROM") or "<news@shop.example.com>"
local rfmt = os.getenv("BENCH_RCPT") or "%dreader@example.net"
local first = tonumber(os.getenv("BENCH_FIRST") or "1")
local count = tonumber(os.getenv("BENCH_COUNT") or "1000")
local perconn = tonumber(os.getenv("BENCH_PER_CONN") or "50")

-- read the message: header list (unfolded lines kept as value) and body
local f = assert(io.open(os.getenv("BENCH_MSG"), "rb"))
local raw = f:read("*a"):gsub("\r\n", "\n")
f:close()
local hpart, body = raw:match("^(.-)\n\n(.*)$")
local hdrs = {}
for line in (hpart .. "\n"):gmatch("(.-)\n") do
	if line:match("^[ \t]") and #hdrs > 0 then
		hdrs[#hdrs][2] = hdrs[#hdrs][2] .. "\r\n" .. line
	else
		local n, v = line:match("^([^:]+):[ \t]?(.*)$")
		if n then hdrs[#hdrs + 1] = { n, v } end
	end
end
body = body:gsub("\n", "\r\n")

local function fail(msg)
	mt.echo("mt-load: " .. msg)
	error(msg)
end

local function open()
	local conn = mt.connect(sock, 50, 0.1)
	if conn == nil then fail("cannot connect to " .. sock) end
	if mt.conninfo(conn, "localhost", "127.0.0.1") ~= nil then
		fail("conninfo")
	end
	-- a milter may have negotiated HELO away (OpenDKIM: SMFIP_NOHELO)
	pcall(mt.helo, conn, "client.example.net")
	return conn
end

local sent, failed = 0, 0
local conn = nil
for k = 0, count - 1 do
	if conn == nil then conn = open() end
	local n = first + k
	mt.macro(conn, SMFIC_MAIL, "i", string.format("B%X", n))
	if mt.mailfrom(conn, from) ~= nil then fail("mailfrom") end
	local r = string.format("<" .. rfmt .. ">", n)
	if mt.rcptto(conn, r) ~= nil then fail("rcptto") end
	for _, h in ipairs(hdrs) do
		if mt.header(conn, h[1], h[2]) ~= nil then fail("header") end
	end
	if mt.eoh(conn) ~= nil then fail("eoh") end
	if mt.bodystring(conn, body) ~= nil then fail("body") end
	if mt.eom(conn) ~= nil then fail("eom") end
	local rep = mt.getreply(conn)
	sent = sent + 1
	if rep ~= SMFIR_CONTINUE and rep ~= SMFIR_ACCEPT then
		failed = failed + 1
	end
	if (k + 1) % perconn == 0 then
		mt.disconnect(conn)
		conn = nil
	end
end
if conn ~= nil then mt.disconnect(conn) end
mt.echo(string.format("mt-load: sent=%d failed=%d", sent, failed))
if failed > 0 then error("failed") end
