-- t-campaign-allowed: a campaign to an opted-in recipient gets our
-- List-Unsubscribe, -Post and List-Id; the application's List-Unsubscribe
-- and the internal campaign header are removed.  miltertest offers
-- SMFIP_HDR_LEADSPC, so values added are the exact bytes after the colon:
-- " List-Unsubscribe=One-Click" makes "List-Unsubscribe-Post: List-...".
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.check(T.campaign(conn, "CA1", { "<ann@example.com>" }) == SMFIR_CONTINUE,
    "eom not continued")
T.check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"), "no List-Unsubscribe added")
T.check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe-Post",
    " List-Unsubscribe=One-Click"), "no List-Unsubscribe-Post added")
T.check(mt.eom_check(conn, MT_HDRADD, "List-Id", " <news.lists.example.com>"),
    "no List-Id added")
T.check(mt.eom_check(conn, MT_HDRDELETE, "List-Unsubscribe"),
    "application's List-Unsubscribe not removed")
T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Campaign-ID"),
    "internal header not stripped")
T.check(not mt.eom_check(conn, MT_RCPTDELETE, "<ann@example.com>"), "a recipient was removed")
local lu = mt.getheader(conn, "List-Unsubscribe", 0)
T.check(lu ~= nil and lu:find(" <https://unsub.example.com/u/", 1, true) == 1,
    "List-Unsubscribe value: " .. tostring(lu))
T.check(lu:find("mailto:unsubscribe+", 1, true) ~= nil, "no mailto URI")
T.check(T.sql("select count(*) from quarantine") == "0", "quarantine rows")
T.finish(conn)
