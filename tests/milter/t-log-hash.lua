-- t-log-hash: with LogAddresses hash the milter's log names people by the
-- keyed hash that optinctl export shows as "log_as" (logaddr.h, the one
-- home): the held recipient, the campaign sender and the sender of an
-- unsubscribe mail.  No address is in the log; the null sender is <>.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local dir = os.getenv("OPTIN_DIR")
local function log_as(a) return T.sh("cat " .. dir .. "/logas-" .. a) end
local ann, bob = log_as("ann@example.com"), log_as("bob@example.com")
local news = log_as("news@example.com")
T.check(bob:find("^<hash:%x+>$") ~= nil, "optinctl export log_as: " .. bob)
T.check(ann ~= bob, "two people, one hash")
local token = T.sh("cat " .. dir .. "/token")
local conn = T.start()
T.check(T.campaign(conn, "LH1", { "<bob@example.com>" }) == SMFIR_DISCARD,
    "bob (opted out) not held")
-- a campaign from the null sender: it names nobody, so <> (not a hash)
T.message(conn, "LH3", "<>", { "<bob@example.com>" }, T.campaign_headers,
    T.campaign_body)
T.mail(conn, "<ann@example.com>", "LH2")
T.check(T.rcpt(conn, "<unsubscribe+" .. token .. "@example.com>") ==
    SMFIR_CONTINUE, "valid token refused")
T.check(T.unsub_message(conn, "ann@example.com") == SMFIR_DISCARD,
    "request not discarded")
T.finish(conn)
local log = T.sh("cat " .. dir .. "/out")
T.check(log:find("LH3: campaign list=news from=<> ", 1, true) ~= nil,
    "no campaign line with from=<>:\n" .. log)
T.check(log:find("LH1: quarantine to=" .. bob .. " list=news", 1, true)
    ~= nil, "no quarantine line with " .. bob .. ":\n" .. log)
T.check(log:find("LH1: campaign list=news from=" .. news, 1, true) ~= nil,
    "no campaign line with " .. news)
T.check(log:find("LH2: unsubscribe source=mailto list=news spf=", 1, true)
    ~= nil and log:find(" mail_from=" .. ann, 1, true) ~= nil,
    "no mailto line with " .. ann)
for _, a in ipairs({ "ann@example.com", "bob@example.com",
    "news@example.com" }) do
	T.check(log:find(a, 1, true) == nil, a .. " in the log:\n" .. log)
end
