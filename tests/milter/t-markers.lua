-- t-markers: the release and split markers hold for the one message they
-- were made for, and nothing else makes them (issue 10, 0c).  bob opted
-- out of "news" and is opted in on "promo".
--  * a split copy comes back with its marker: its list is taken from it;
--    that marker on another message to bob does not move a "news"
--    campaign to "promo";
--  * "optinctl quarantine release --force" gives a copy that is delivered;
--    its marker on another message, an expired marker, and the erased
--    form of the crafted "address" release|news|bob@example.com used as a
--    marker are not honoured: those copies are checked and held.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local d = os.getenv("OPTIN_DIR")
local conf = os.getenv("OPTIN_CONF")
local ctl = os.getenv("OPTIN_MILTER"):gsub("optin%-milter$", "optinctl") ..
    " -c " .. conf
local marks = "/usr/bin/python3 " .. os.getenv("OPTIN_SRC") .. "/marks.py "

-- readmsg - headers ({name, value} list) and body of a file written by
-- fake-sendmail
local function readmsg(path)
	local f = assert(io.open(path, "rb"))
	local s = f:read("*a")
	f:close()
	s = s:gsub("^ARGS:[^\n]*\n", "")
	local h, b = s:match("^(.-\r\n)\r\n(.*)$")
	T.check(h ~= nil, path .. ": no header end")
	local hdrs = {}
	for line in h:gmatch("(.-)\r\n") do
		if line:match("^[ \t]") then
			hdrs[#hdrs][2] = hdrs[#hdrs][2] .. "\r\n" .. line
		else
			local n, v = line:match("^([^:]+): ?(.*)$")
			table.insert(hdrs, { n, v })
		end
	end
	return hdrs, b
end

-- header - value of name in hdrs
local function header(hdrs, name)
	for _, h in ipairs(hdrs) do
		if h[1]:lower() == name:lower() then return h[2] end
	end
	return nil
end

-- send - one message from news@example.com to rcpts (a list); the reply
-- to end of message
local function send(conn, qid, rcpts, hdrs, body)
	T.mail(conn, "<news@example.com>", qid)
	for _, r in ipairs(rcpts) do
		T.check(T.rcpt(conn, r) == SMFIR_CONTINUE, qid .. ": rcpt " .. r)
	end
	T.check(T.headers(conn, hdrs) == SMFIR_CONTINUE, qid .. ": eoh")
	T.body(conn, body)
	return T.eom(conn)
end

-- campaign - the usual campaign headers with Message-ID id and extra ones
local function campaign(id, extra)
	local h = {}
	for _, x in ipairs(T.campaign_headers) do
		table.insert(h, { x[1], x[1] == "Message-ID" and id or x[2] })
	end
	for _, x in ipairs(extra or {}) do table.insert(h, x) end
	return h
end

-- rows - the quarantine rows, "QID=recipient=reason" one a line
local function rows()
	return T.sql("select queue_id || '=' || recipient || '=' || reason " ..
	    "from quarantine order by id")
end

local held = {}		-- the rows expected so far
local function held_now(label)
	T.check(rows() == table.concat(held, "\n"), label .. ": quarantine " ..
	    "rows:\n" .. rows())
end

local bob = { "<bob@example.com>" }
local conn = T.start()

-- 1. split on promo: ann stays, bob's copy goes out with a marker
T.check(send(conn, "SPA", { "<ann@example.com>", "<bob@example.com>" },
    campaign("<sp@example.com>", { { "X-Campaign-List", "promo" } }),
    "promo body\r\n") == SMFIR_CONTINUE, "SPA: split not continued")
T.check(T.sh("head -1 " .. d .. "/sent/0") ==
    "ARGS: -f news@example.com -- bob@example.com", "SPA: bob's copy")
local sh, sb = readmsg(d .. "/sent/0")
local split = header(sh, "X-Optin-Split")
T.check(split ~= nil and split:match("^v=2; q=SPA; id=0; t=%d+; x=%d+; " ..
    "list=promo; mac=%x+$") ~= nil, "SPA: split marker " .. tostring(split))

-- the copy itself comes back: its list (promo) from the marker, delivered
T.check(send(conn, "SPB", bob, sh, sb) == SMFIR_CONTINUE,
    "SPB: split copy held")
held_now("SPB")

-- that marker on another message: not valid there, so the news campaign
-- (DefaultList) is checked as news, where bob opted out
T.check(send(conn, "SPX", bob, campaign("<other@example.com>",
    { { "X-Optin-Split", split } }), "other body\r\n") == SMFIR_DISCARD,
    "SPX: replayed split marker moved bob to promo")
table.insert(held, "SPX=bob@example.com=opted_out")
held_now("SPX")

-- 2. release: held, then released by force; the copy is delivered
T.check(send(conn, "RL1", bob, campaign("<held-1@example.com>"),
    "held back\r\n") == SMFIR_DISCARD, "RL1: not held")
table.insert(held, "RL1=bob@example.com=opted_out")
held_now("RL1")
local id = T.sql("select id from quarantine where queue_id = 'RL1'")
T.check(T.sh(ctl .. " quarantine release " .. id .. " --force") ==
    "released " .. id .. " to <bob@example.com> (forced)", "release")
local rh, rb = readmsg(d .. "/sent/1")
local release = header(rh, "X-Optin-Release")
T.check(release ~= nil and release:match("^v=2; q=RL1; id=" .. id ..
    "; t=%d+; x=%d+; list=news; mac=%x+$") ~= nil,
    "release marker " .. tostring(release))
T.check(send(conn, "RL2", bob, rh, rb) == SMFIR_CONTINUE,
    "RL2: released copy held again")
held_now("RL2")

-- the same marker on another message to bob: checked, held
T.check(send(conn, "RL3", bob, campaign("<held-2@example.com>",
    { { "X-Optin-Release", release } }), "another campaign\r\n") ==
    SMFIR_DISCARD, "RL3: replayed release marker honoured")
table.insert(held, "RL3=bob@example.com=opted_out")
held_now("RL3")

-- the same message with a marker that expired an hour ago: held; a fresh
-- one made the same way (marks.py) is honoured, so only the time differs
local f = assert(io.open(d .. "/rl1.body", "wb"))
f:write(rb)
f:close()
local function forged(t, x)
	return T.sh(marks .. "release " .. d .. "/token.keys 1 RL1 " .. id ..
	    " news " .. t .. " " ..
	    x .. " news@example.com bob@example.com '<held-1@example.com>' " ..
	    d .. "/rl1.body")
end
local function with_release(value)
	local h = {}
	for _, x in ipairs(rh) do
		table.insert(h, { x[1], x[1] == "X-Optin-Release" and value or
		    x[2] })
	end
	return h
end
T.check(send(conn, "RL4", bob, with_release(forged("now-7200", "now-3600")),
    rb) == SMFIR_DISCARD, "RL4: expired release marker honoured")
table.insert(held, "RL4=bob@example.com=opted_out")
held_now("RL4")
T.check(send(conn, "RL5", bob, with_release(forged("now", "now+600")), rb) ==
    SMFIR_CONTINUE, "RL5: fresh marker (marks.py) not honoured")
held_now("RL5")

-- 3. the erased form of "release|news|bob@example.com" (setup) is no
-- release marker: not in the old form, not in the new one
local form = T.sql("select address from suppressions where reason = 'erased'")
T.check(form:match("^erased:1:%x+$") ~= nil, "erased form " .. form)
local mac = form:match("(%x+)$")
T.check(send(conn, "RL6", bob, campaign("<attack@example.com>",
    { { "X-Optin-Release", "list=news; mac=" .. mac } }), "buy\r\n") ==
    SMFIR_DISCARD, "RL6: erased form honoured as a release marker")
table.insert(held, "RL6=bob@example.com=opted_out")
local now = os.time()
T.check(send(conn, "RL7", bob, campaign("<attack@example.com>",
    { { "X-Optin-Release", "v=2; q=RL1; id=" .. id .. "; t=" .. now ..
    "; x=" .. (now + 600) .. "; list=news; mac=" .. mac } }), "buy\r\n") ==
    SMFIR_DISCARD, "RL7: erased form honoured in a v=2 marker")
table.insert(held, "RL7=bob@example.com=opted_out")
held_now("RL7")
T.check(T.sql("select count(*) from quarantine where released_at is not " ..
    "null and queue_id = 'RL1'") == "1", "RL1 row marked released")
T.finish(conn)
