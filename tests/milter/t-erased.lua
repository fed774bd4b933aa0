-- t-erased: after "optinctl forget" only a keyed hash of the address is
-- left; the milter still finds it, so the person stays suppressed.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
T.check(T.sql("select count(*) from suppressions where address = 'ann@example.com'") == "0",
    "plain address still in the database")
T.check(T.sql("select reason from suppressions where address like 'hmac:%'") == "erased",
    "no hashed suppression")
local conn = T.start()
T.mail(conn, "<news@example.com>", "ER1")
T.check(T.rcpt(conn, "<ann@example.com>") == SMFIR_CONTINUE, "rcpt")
T.check(T.headers(conn, T.campaign_headers) == SMFIR_CONTINUE, "eoh")
T.body(conn, T.campaign_body)
T.check(T.eom(conn) == SMFIR_DISCARD, "erased person not held back")
T.check(T.sql("select reason from quarantine") == "suppressed", "quarantine row")
T.finish(conn)
