-- t-monitor-multi: Mode monitor delivers to everyone, so a copy with more
-- than one recipient gets no personal headers (DESIGN "Message flow" item
-- 6), even when only one of them is allowed; a single-recipient copy gets
-- them.  The log says what enforce would have done.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.check(T.campaign(conn, "MM1", { "<ann@example.com>", "<bob@example.com>" })
    == SMFIR_CONTINUE, "MM1: eom not continued")
T.check(not mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"),
    "MM1: ann's List-Unsubscribe on a copy that bob gets too")
T.check(not mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>"),
    "MM1: bob removed in monitor")
T.check(T.campaign(conn, "MM2", { "<ann@example.com>", "<frank@example.com>" })
    == SMFIR_CONTINUE, "MM2: eom not continued")
T.check(not mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"),
    "MM2: List-Unsubscribe on a copy to two")
T.check(T.campaign(conn, "MM3", { "<ann@example.com>" }) == SMFIR_CONTINUE,
    "MM3: eom not continued")
T.check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"),
    "MM3: no List-Unsubscribe for ann alone")
T.check(T.sql("select count(*) from quarantine") == "0", "quarantine rows")
T.check(T.sh("ls " .. os.getenv("OPTIN_DIR") .. "/sent | wc -l") == "0",
    "re-submitted in monitor")
T.finish(conn)
