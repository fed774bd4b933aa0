-- common.lua - shared steps of the miltertest scripts.  run.sh sets
-- OPTIN_MILTER, OPTIN_CONF, OPTIN_SOCK, OPTIN_DIR and OPTIN_DB for each
-- script.
T = {}

function T.fail(msg)
	mt.echo("FAIL: " .. msg)
	error("FAIL: " .. msg)
end

function T.check(cond, msg)
	if not cond then T.fail(msg) end
end

-- start the filter and connect (HELO helo, default client.example.net);
-- returns the connection
function T.start(helo)
	T.pid = mt.startfilter(os.getenv("OPTIN_MILTER"), "-f", "-c",
	    os.getenv("OPTIN_CONF"), "-p", "unix:" .. os.getenv("OPTIN_SOCK"))
	-- up to 300 tries 0.1 s apart: an ASan build on a loaded machine,
	-- six scripts at a time, took more than 5 s to listen
	local conn = mt.connect("unix:" .. os.getenv("OPTIN_SOCK"), 300, 0.1)
	T.check(conn ~= nil, "cannot connect to the filter")
	T.check(mt.conninfo(conn, "client.example.net", "192.0.2.7") == nil,
	    "conninfo")
	T.check(mt.getreply(conn) == SMFIR_CONTINUE, "connect not continued")
	mt.helo(conn, helo or "client.example.net")
	return conn
end

-- MAIL FROM with queue ID qid
function T.mail(conn, from, qid)
	mt.macro(conn, SMFIC_MAIL, "i", qid or "QID1")
	T.check(mt.mailfrom(conn, from) == nil, "mailfrom")
	T.check(mt.getreply(conn) == SMFIR_CONTINUE, "mailfrom not continued")
end

-- RCPT TO; returns the reply
function T.rcpt(conn, to)
	T.check(mt.rcptto(conn, to) == nil, "rcptto " .. to)
	return mt.getreply(conn)
end

-- headers (a list of {name, value}), end of headers, body; returns the
-- reply to end of headers
function T.headers(conn, hdrs)
	for _, h in ipairs(hdrs) do
		T.check(mt.header(conn, h[1], h[2]) == nil, "header " .. h[1])
		T.check(mt.getreply(conn) == SMFIR_CONTINUE,
		    "header " .. h[1] .. " not continued")
	end
	T.check(mt.eoh(conn) == nil, "eoh")
	return mt.getreply(conn)
end

function T.body(conn, text)
	T.check(mt.bodystring(conn, text) == nil, "body")
	T.check(mt.getreply(conn) == SMFIR_CONTINUE, "body not continued")
end

function T.eom(conn)
	T.check(mt.eom(conn) == nil, "eom")
	return mt.getreply(conn)
end

-- the rest of a mail to the unsubscribe address, after its RCPT: headers
-- From from and Subject unsubscribe, an empty body; returns the reply to
-- end of message
function T.unsub_message(conn, from)
	T.check(T.headers(conn, { { "From", from },
	    { "Subject", "unsubscribe" } }) == SMFIR_CONTINUE, "eoh")
	T.body(conn, "\r\n")
	return T.eom(conn)
end

-- a whole mailto unsubscribe by ann@example.com with the token that the
-- script's .setup issued (t-mailto.setup): MAIL FROM from (queue ID qid),
-- RCPT to the unsubscribe address, the message; checks each step
function T.mailto_optout(conn, from, qid)
	local token = T.sh("cat " .. os.getenv("OPTIN_DIR") .. "/token")
	T.check(#token > 20, "no token from optinctl")
	T.mail(conn, from, qid)
	T.check(T.rcpt(conn, "<unsubscribe+" .. token .. "@example.com>") ==
	    SMFIR_CONTINUE, "valid token refused")
	T.check(T.unsub_message(conn, "ann@example.com") == SMFIR_DISCARD,
	    "request not discarded")
end

-- the campaign message used by most scripts
T.campaign_headers = {
	{ "From", "News <news@example.com>" },
	{ "To", "ann@example.com" },
	{ "Subject", "November news" },
	{ "Date", "Sun, 29 Nov 2026 10:00:00 +0000" },
	{ "Message-ID", "<n1@example.com>" },
	{ "X-Campaign-ID", "nov-2026" },
	{ "List-Unsubscribe", "<https://crm.example.com/old-unsub>" },
}
T.campaign_body = "Hello,\r\nthe November news.\r\n"

-- one message: MAIL FROM from with queue ID qid, each recipient of rcpts
-- (must be accepted), the headers hdrs (end of headers must continue) and
-- body; returns the reply to end of message
function T.message(conn, qid, from, rcpts, hdrs, body)
	T.mail(conn, from, qid)
	for _, r in ipairs(rcpts) do
		T.check(T.rcpt(conn, r) == SMFIR_CONTINUE, "rcpt " .. r)
	end
	T.check(T.headers(conn, hdrs) == SMFIR_CONTINUE, qid .. ": eoh")
	T.body(conn, body)
	return T.eom(conn)
end

-- the usual campaign: MAIL FROM news@example.com with queue ID qid, each
-- recipient of rcpts (must be accepted), the campaign headers and body;
-- returns the reply to end of message
function T.campaign(conn, qid, rcpts)
	return T.message(conn, qid, "<news@example.com>", rcpts,
	    T.campaign_headers, T.campaign_body)
end

-- the campaign headers with the fields of extra (a list of {name, value})
-- in front, in place of the campaign fields of the same names
function T.campaign_with(extra)
	local hdrs, named = {}, {}
	for _, h in ipairs(extra) do
		table.insert(hdrs, h)
		named[h[1]] = true
	end
	for _, h in ipairs(T.campaign_headers) do
		if not named[h[1]] then table.insert(hdrs, h) end
	end
	return hdrs
end

-- the quarantine rows, "QID recipient=reason" by id, must be want, all in
-- one spool file (a message held whole)
function T.check_held(want, label)
	T.check(T.sql("select queue_id || ' ' || recipient || '=' || reason " ..
	    "from quarantine order by id") == want, label .. ": quarantine rows")
	T.check(T.sql("select count(distinct spool_file) from quarantine") ==
	    "1", label .. ": one spool file")
end

-- the rest of an unsubscribe request by mail after its RCPTs: headers,
-- an empty body, end of message, which must discard it
function T.unsub_request(conn, label)
	T.check(T.unsub_message(conn, "ann@example.com") == SMFIR_DISCARD,
	    label .. ": request not discarded")
end

-- one line of output of a shell command
function T.sh(cmd)
	local f = io.popen(cmd)
	local out = f:read("*a")
	f:close()
	return (out:gsub("%s+$", ""))
end

-- s quoted for sh: one word, whatever it holds
function T.shq(s)
	return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- an SQL query on the test database, either engine (run.sh's OPTIN_DB,
-- db_sql of tests/lib/db.sh): its rows, one line each, columns joined by
-- "|", NULL as ""; the query in the SQL both engines read
function T.sql(q)
	return T.sh(". " .. T.shq(os.getenv("top_srcdir") .. "/tests/lib/db.sh") ..
	    " && db_sql " .. T.shq(os.getenv("OPTIN_DB")) .. " " .. T.shq(q))
end

-- run one SQL statement that changes the test database (either engine,
-- db_exec of tests/lib/db.sh: committed); fails the script on an error
function T.exec(q)
	local ok = os.execute(". " ..
	    T.shq(os.getenv("top_srcdir") .. "/tests/lib/db.sh") ..
	    " && db_exec " .. T.shq(os.getenv("OPTIN_DB")) .. " " .. T.shq(q))
	T.check(ok == true or ok == 0, "SQL failed: " .. q)
end

function T.finish(conn)
	mt.disconnect(conn)
end
