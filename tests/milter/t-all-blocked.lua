-- t-all-blocked: no allowed recipient left: the message is discarded and
-- its copy is in quarantine.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.mail(conn, "<news@example.com>", "AB1")
T.check(T.rcpt(conn, "<bob@example.com>") == SMFIR_CONTINUE, "rcpt")
T.check(T.headers(conn, T.campaign_headers) == SMFIR_CONTINUE, "eoh")
T.body(conn, T.campaign_body)
T.check(T.eom(conn) == SMFIR_DISCARD, "not discarded")
T.check(T.sql("select reason from quarantine") == "opted_out", "quarantine row")
T.finish(conn)
