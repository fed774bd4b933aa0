-- t-noreply: the filter asks the MTA not to wait for its reply to the
-- steps that never decide anything (milter protocol 6 SMFIP_NR_*):
-- connect, HELO, MAIL, each header, each body chunk; it still answers
-- RCPT, end of headers and end of message, and a campaign gets exactly the
-- same edits.  A failure in a step without a reply (here: out of memory
-- while the body grows past 1 MiB, from failrealloc.c) is remembered and
-- answered with a tempfail at end of message, never lost; the next message
-- on the connection is not affected.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local dir = os.getenv("OPTIN_DIR")
local shim = io.open(dir .. "/no-shim") == nil
if shim then
	T.pid = mt.startfilter("/usr/bin/env",
	    "LD_PRELOAD=" .. dir .. "/failrealloc.so", "FAILREALLOC_AT=1048576",
	    os.getenv("OPTIN_MILTER"), "-f", "-c", os.getenv("OPTIN_CONF"),
	    "-p", "unix:" .. os.getenv("OPTIN_SOCK"))
else
	mt.echo("t-noreply: no realloc shim (sanitizer build): NR2 skipped")
	T.pid = mt.startfilter(os.getenv("OPTIN_MILTER"), "-f", "-c",
	    os.getenv("OPTIN_CONF"), "-p", "unix:" .. os.getenv("OPTIN_SOCK"))
end
local conn = mt.connect("unix:" .. os.getenv("OPTIN_SOCK"), 50, 0.1)
T.check(conn ~= nil, "cannot connect to the filter")
T.check(mt.conninfo(conn, "client.example.net", "192.0.2.7") == nil,
    "conninfo")

-- what was negotiated (miltertest offers every flag)
local cases = {
	{ "SMFIP_NR_CONN", SMFIP_NR_CONN, true },
	{ "SMFIP_NR_HELO", SMFIP_NR_HELO, true },
	{ "SMFIP_NR_MAIL", SMFIP_NR_MAIL, true },
	{ "SMFIP_NR_HDR", SMFIP_NR_HDR, true },
	{ "SMFIP_NR_BODY", SMFIP_NR_BODY, true },
	{ "SMFIP_NR_RCPT", SMFIP_NR_RCPT, false },
	{ "SMFIP_NR_EOH", SMFIP_NR_EOH, false },
	{ "SMFIP_HDR_LEADSPC", SMFIP_HDR_LEADSPC, true },
}
for _, c in ipairs(cases) do
	local got = mt.test_option(conn, c[2])
	T.check(got == c[3], c[1] .. ": got " .. tostring(got) .. ", want " ..
	    tostring(c[3]))
end
mt.helo(conn, "client.example.net")

-- NR1: a campaign: the replies that remain, and its exact edits
T.check(T.campaign(conn, "NR1", { "<ann@example.com>" }) == SMFIR_CONTINUE,
    "NR1: eom not continued")
T.check(mt.eom_check(conn, MT_HDRADD, "List-Id", " <news.lists.example.com>"),
    "NR1: no List-Id added")
T.check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe-Post",
    " List-Unsubscribe=One-Click"), "NR1: no List-Unsubscribe-Post added")
T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Campaign-ID"),
    "NR1: internal header not stripped")
T.check(not mt.eom_check(conn, MT_RCPTDELETE, "<ann@example.com>"),
    "NR1: a recipient was removed")

if shim then
	-- NR2: the body chunks get no reply; the one that cannot be stored
	-- makes end of message a tempfail (451 4.3.0), with no edit
	T.mail(conn, "<news@example.com>", "NR2")
	T.check(T.rcpt(conn, "<ann@example.com>") == SMFIR_CONTINUE,
	    "NR2: rcpt")
	T.check(T.headers(conn, T.campaign_headers) == SMFIR_CONTINUE,
	    "NR2: eoh")
	local chunk = string.rep("0123456789abcde\r\n", 3500)	-- 59,500
	for i = 1, 20 do
		T.check(mt.bodystring(conn, chunk) == nil, "NR2: body " .. i)
	end
	T.check(T.eom(conn) == SMFIR_REPLYCODE, "NR2: eom not refused")
	T.check(not mt.eom_check(conn, MT_HDRADD, "List-Id"),
	    "NR2: List-Id added to a refused message")
	-- NR3: the next message on the connection goes through
	T.check(T.campaign(conn, "NR3", { "<ann@example.com>" }) ==
	    SMFIR_CONTINUE, "NR3: eom not continued")
	T.check(mt.eom_check(conn, MT_HDRADD, "List-Id",
	    " <news.lists.example.com>"), "NR3: no List-Id added")
end
T.check(T.sql("select count(*) from quarantine") == "0", "quarantine rows")
T.finish(conn)
