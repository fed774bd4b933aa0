-- t-campaign-pause: "optinctl campaign pause LIST CAMPAIGN" pauses a
-- campaign by hand, with no feedback loop configured (no BounceAddress, no
-- CFBLAddress): new copies are kept queued with 451 4.7.1 and the admin's
-- reason, as a PolicyBounceLimit pause; "campaign resume" lets them pass.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local ctl = os.getenv("OPTIN_MILTER"):gsub("optin%-milter$", "optinctl") ..
    " -c " .. os.getenv("OPTIN_CONF")
local me = T.sh("id -un")

local conn = T.start()
T.check(T.campaign(conn, "CP1", { "<ann@example.com>" }) == SMFIR_CONTINUE,
    "before the pause: eom not continued")
T.check(T.sh(ctl .. " campaign pause news nov-2026 --reason 'list check'") ==
    "paused nov-2026: paused by an admin: list check (list=news; optinctl user=" ..
    me .. ")", "campaign pause output")
T.check(T.sql("select campaign || '|' || reason from campaign_pauses") ==
    "nov-2026|paused by an admin: list check (list=news; optinctl user=" ..
    me .. ")", "pause row")
T.check(T.campaign(conn, "CP2", { "<ann@example.com>" }) == SMFIR_REPLYCODE,
    "paused: not a reply code")
T.check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1",
    "campaign nov-2026 paused: paused by an admin: list check (list=news; optinctl user=" ..
    me .. ") (optinctl campaign resume nov-2026)"), "paused: reply text")
T.check(T.sql("select count(*) from quarantine") == "0", "paused: quarantine rows")
T.check(T.sh(ctl .. " campaign resume nov-2026") == "resumed nov-2026",
    "campaign resume output")
T.check(T.campaign(conn, "CP3", { "<ann@example.com>" }) == SMFIR_CONTINUE,
    "resumed: eom not continued")
T.finish(conn)
