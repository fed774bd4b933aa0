-- t-all-blocked: no allowed recipient left: the message is discarded and
-- its copy is in quarantine.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.check(T.campaign(conn, "AB1", { "<bob@example.com>" }) == SMFIR_DISCARD,
    "not discarded")
T.check(T.sql("select reason from quarantine") == "opted_out", "quarantine row")
T.finish(conn)
