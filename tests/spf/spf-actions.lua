-- spf-actions.lua - the milter's SPFCheck actions, played by miltertest
-- (run by t-milter.sh, which starts optin-milter inside the DNS namespace
-- with SPFCheck SPF_MODE, OutboundIP 192.0.2.1 and 2001:db8::1, and every
-- sender domain below in CampaignSenders).  One campaign message per
-- domain, each on its own connection, envelope sender news@DOMAIN:
--   warn:   end of headers continues, the message is accepted at end of
--           message with its List-Unsubscribe header; the log names the
--           result ("QID: spf=RESULT campaign sender domain does not
--           authorise this relay: ...", pass only at debug level)
--   reject: pass continues to the end as under warn; every other result
--           gets a reply code at end of headers (which code and text:
--           t-milter.sh asks milter_reply.py, as miltertest keeps them
--           for end of message only)
-- Prints "ok LABEL" / "not ok LABEL" and goes on after a failure.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")

local mode = os.getenv("SPF_MODE")
local logfile = os.getenv("OPTIN_LOG")
local sock = "unix:" .. os.getenv("OPTIN_SOCK")

local cases = {
	{ "pass.example.test", "pass" },
	{ "fail.example.test", "fail" },
	{ "soft.example.test", "softfail" },
	{ "neutral.example.test", "neutral" },
	{ "none.example.test", "none" },		-- TXT, but not SPF
	{ "absent.example.test", "none" },		-- NXDOMAIN
	{ "syntax.example.test", "permerror" },
	{ "many.example.test", "permerror" },		-- > 10 lookups
	{ "v6.example.test", "fail" },		-- 192.0.2.1 fails
	{ "down.example.test", "temperror" },
}

local function readlog()
	local f = io.open(logfile, "r")
	if f == nil then return "" end
	local s = f:read("*a")
	f:close()
	return s
end

-- the explanation logged for qid with result r, or nil
local function logged(qid, r)
	local s = readlog()
	local head = qid .. ": spf=" .. r ..
	    " campaign sender domain does not authorise this relay: "
	local i, j = s:find(head, 1, true)
	if i == nil then return nil end
	return s:sub(j + 1):match("^[^\n]*")
end

local function connect()
	local conn = mt.connect(sock, 50, 0.1)
	T.check(conn ~= nil, "cannot connect to the filter")
	T.check(mt.conninfo(conn, "app.example.net", "192.0.2.50") == nil,
	    "conninfo")
	T.check(mt.getreply(conn) == SMFIR_CONTINUE, "connect not continued")
	mt.helo(conn, "app.example.net")
	return conn
end

local function one(n, domain, r)
	local qid = "SPF" .. mode:upper() .. n
	local conn = connect()
	T.mail(conn, "<news@" .. domain .. ">", qid)
	T.check(T.rcpt(conn, "<ann@example.com>") == SMFIR_CONTINUE, "rcpt")
	local reply = T.headers(conn, T.campaign_headers)
	local explain = logged(qid, r)

	if r == "pass" then
		T.check(explain == nil, "pass logged as a warning")
		T.check(readlog():find(qid .. ": spf=pass " .. domain ..
		    ": pass for all 2 OutboundIP", 1, true) ~= nil,
		    "pass not logged at debug level")
	else
		T.check(explain ~= nil, "no log line '" .. qid .. ": spf=" ..
		    r .. " campaign sender domain does not authorise this " ..
		    "relay: ...'")
		T.check(explain:find(domain .. ": " .. r .. " for OutboundIP ",
		    1, true) == 1, "explanation does not name domain, " ..
		    "result and address: " .. explain)
	end

	if mode == "warn" or r == "pass" then
		T.check(reply == SMFIR_CONTINUE, "end of headers not " ..
		    "continued (reply " .. tostring(reply) .. ")")
		T.body(conn, T.campaign_body)
		T.check(T.eom(conn) == SMFIR_CONTINUE, "eom not continued")
		T.check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"),
		    "no List-Unsubscribe added")
	else
		-- miltertest keeps the code and text of a reply for end of
		-- message only: t-milter.sh checks them with milter_reply.py
		T.check(reply == SMFIR_REPLYCODE, "end of headers not " ..
		    "answered with a reply code (reply " .. tostring(reply) ..
		    ")")
	end
	mt.disconnect(conn)
end

for n, c in ipairs(cases) do
	local label = mode .. " " .. c[2] .. " (" .. c[1] .. ")"
	local good, err = pcall(one, n, c[1], c[2])
	if good then
		mt.echo("ok " .. label)
	else
		mt.echo("not ok " .. label .. ": " .. tostring(err))
	end
end
