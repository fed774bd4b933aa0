-- t-erased: after "optinctl forget" only a keyed hash of the address is
-- left; the milter still finds it, so the person stays suppressed.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
T.check(T.sql("select count(*) from suppressions where address = 'ann@example.com'") == "0",
    "plain address still in the database")
T.check(T.sql("select reason from suppressions where address like 'hmac:%'") == "erased",
    "no hashed suppression")
local conn = T.start()
T.check(T.campaign(conn, "ER1", { "<ann@example.com>" }) == SMFIR_DISCARD,
    "erased person not held back")
T.check(T.sql("select reason from quarantine") == "suppressed", "quarantine row")
T.finish(conn)
