-- t-bounce-address: the feedback loop's side of the milter (issue 12):
-- a campaign copy gets CFBL-Address and a Feedback-ID whose token names
-- its recipient, list and campaign (the application's are removed) and is
-- counted in campaign_sent; a split copy is re-submitted with its own
-- bounce address as envelope sender (the kept copy's is changed by
-- smfi_chgfrom: see t-bounce-address.log-re and tests/e2e/t-feedback.sh);
-- transactional mail is untouched; a paused campaign is kept queued (451),
-- and so is every campaign when the store cannot say (OnDBError).
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local d = os.getenv("OPTIN_DIR")
local ctl = os.getenv("OPTIN_MILTER"):gsub("optin%-milter$", "optinctl") ..
    " -c " .. os.getenv("OPTIN_CONF")

-- token_of(s) - "recipient|list" of the first run of 40+ base64url
-- characters in s, by optinctl token check
local function token_of(s)
	local tok = s:match("[A-Za-z0-9_-]" .. string.rep("[A-Za-z0-9_-]", 39) ..
	    "[A-Za-z0-9_-]*")
	T.check(tok ~= nil, "no token in " .. s)
	return T.sh(ctl .. " token check " .. tok ..
	    " | sed -n 's/^recipient: //p; s/^list: //p' | paste -sd'|'")
end

local conn = T.start()
local hdrs = {}
for _, h in ipairs(T.campaign_headers) do hdrs[#hdrs + 1] = h end
hdrs[#hdrs + 1] = { "Feedback-ID", "app:set:this:example.com" }
hdrs[#hdrs + 1] = { "CFBL-Address", "app@example.org; report=arf" }
T.mail(conn, "<news@example.com>", "BA1")
T.check(T.rcpt(conn, "<ann@example.com>") == SMFIR_CONTINUE, "rcpt ann")
T.check(T.headers(conn, hdrs) == SMFIR_CONTINUE, "eoh")
T.body(conn, T.campaign_body)
T.check(T.eom(conn) == SMFIR_CONTINUE, "campaign: eom not continued")
T.check(mt.eom_check(conn, MT_HDRDELETE, "Feedback-ID"),
    "application's Feedback-ID not removed")
T.check(mt.eom_check(conn, MT_HDRDELETE, "CFBL-Address"),
    "application's CFBL-Address not removed")
-- with SMFIP_HDR_LEADSPC the value added carries its leading space
T.check(mt.eom_check(conn, MT_HDRADD, "CFBL-Address",
    " fbl@example.com; report=arf"), "no CFBL-Address added")
T.check(mt.eom_check(conn, MT_HDRADD, "Feedback-ID"), "no Feedback-ID added")
local fbid = mt.getheader(conn, "Feedback-ID", 0)
T.check(fbid ~= nil and fbid:match("^ ?nov%-2026:news:[A-Za-z0-9_-]+:example%.com$"),
    "Feedback-ID value: " .. tostring(fbid))
T.check(token_of(fbid) == "ann@example.com|news/nov-2026",
    "Feedback-ID token names: " .. token_of(fbid))
T.check(T.sql("select campaign || '|' || list_id || '|' || sent from campaign_sent") ==
    "nov-2026|news|1", "sent count after one copy")

-- two allowed: ann's copy is kept, frank's re-submitted from his own
-- bounce address; each counted once where delivered (frank's when his copy
-- comes back through the milter)
T.check(T.campaign(conn, "BA2", { "<ann@example.com>", "<frank@example.com>" })
    == SMFIR_CONTINUE, "split: eom not continued")
local args = T.sh("grep -h '^ARGS:' " .. d .. "/sent/*")
local from = args:match("^ARGS: %-f (bounce%+[A-Za-z0-9_-]+@news%.example%.com) %-%- frank@example%.com$")
T.check(from ~= nil, "split copy re-submission: " .. args)
T.check(token_of(from) == "frank@example.com|news/nov-2026",
    "split bounce address names: " .. token_of(from))
T.check(T.sql("select sent from campaign_sent") == "2", "sent count after split")

-- transactional: accepted at end of headers, nothing changed or counted
T.mail(conn, "<shop@example.com>", "BA3")
T.check(T.rcpt(conn, "<ann@example.com>") == SMFIR_CONTINUE, "rcpt ann")
T.check(T.headers(conn, { { "From", "shop@example.com" },
    { "Subject", "your order" } }) == SMFIR_ACCEPT, "transactional not accepted")
T.check(T.sql("select sum(sent) from campaign_sent") == "2", "transactional counted")

-- paused: kept queued with the reason and the way out
T.exec("insert into campaign_pauses values ('nov-2026', 'policy_bounce 50 in 1h', 1700000000)")
T.check(T.campaign(conn, "BA4", { "<ann@example.com>" }) == SMFIR_REPLYCODE,
    "paused: not a reply code")
T.check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1",
    "campaign nov-2026 paused: policy_bounce 50 in 1h (optinctl campaign resume nov-2026)"),
    "paused: reply text")
T.check(T.sql("select sum(sent) from campaign_sent") == "2", "paused copy counted")

-- a store that cannot say whether the campaign is paused (here: no table
-- campaign_pauses, as an engine without the feedback tables): OnDBError
T.exec("drop table campaign_pauses")
T.check(T.campaign(conn, "BA5", { "<ann@example.com>" }) == SMFIR_REPLYCODE,
    "no pause table: not a reply code")
T.check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.3.0",
    "consent database unavailable, try again later"),
    "no pause table: not OnDBError tempfail")
T.check(T.sql("select sum(sent) from campaign_sent") == "2",
    "copy counted without the pause check")
T.check(T.sql("select count(*) from quarantine") == "0", "quarantine rows")
T.finish(conn)
