-- t-missing-ids: a campaign copy without Message-ID and Date gets them from
-- the milter before it is signed (DESIGN "Message flow" item 5), added
-- before the unsubscribe headers; the split copy carries the very same
-- two fields, so every copy of the message has one Message-ID and one Date.
-- A message that has them gets none added.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()

local hdrs = {}
for _, h in ipairs(T.campaign_headers) do
	if h[1] ~= "Date" and h[1] ~= "Message-ID" then
		table.insert(hdrs, h)
	end
end
T.check(T.message(conn, "MI1", "<news@example.com>",
    { "<ann@example.com>", "<frank@example.com>" }, hdrs, T.campaign_body)
    == SMFIR_CONTINUE, "MI1 not continued")
local mid = mt.getheader(conn, "Message-ID", 0)
local date = mt.getheader(conn, "Date", 0)
T.check(mid ~= nil and mid:match("^ <%d+%.%x+@example%.com>$") ~= nil,
    "Message-ID added: " .. tostring(mid))
T.check(date ~= nil and date:match("^ %a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d %+0000$") ~= nil,
    "Date added: " .. tostring(date))
T.check(mt.getheader(conn, "Message-ID", 1) == nil, "two Message-IDs added")
local d = os.getenv("OPTIN_DIR")
T.check(T.sh("grep -c '^Message-ID:" .. mid .. "\r$' " .. d .. "/sent/0") == "1",
    "split copy has another Message-ID")
T.check(T.sh("grep -c '^Date:" .. date .. "\r$' " .. d .. "/sent/0") == "1",
    "split copy has another Date")
T.check(T.sh("grep -ci '^\\(message-id\\|date\\):' " .. d .. "/sent/0") == "2",
    "split copy: not one Message-ID and one Date")

-- both present: nothing added
T.check(T.campaign(conn, "MI2", { "<ann@example.com>" }) == SMFIR_CONTINUE,
    "MI2 not continued")
T.check(not mt.eom_check(conn, MT_HDRADD, "Message-ID"), "MI2: Message-ID added")
T.check(not mt.eom_check(conn, MT_HDRADD, "Date"), "MI2: Date added")
T.finish(conn)
