-- t-monitor: Mode monitor removes and quarantines nobody.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.check(T.campaign(conn, "MO1", { "<bob@example.com>" }) == SMFIR_CONTINUE,
    "eom not continued")
T.check(not mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>"), "a recipient was removed")
T.check(T.sql("select count(*) from quarantine") == "0", "quarantine rows")
T.finish(conn)
