-- t-no-from: a campaign without a From header can be neither signed nor
-- attributed (RFC 5322 section 3.6): refused with 550 5.6.0.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.mail(conn, "<news@example.com>", "NF1")
T.check(T.rcpt(conn, "<ann@example.com>") == SMFIR_CONTINUE, "rcpt")
T.check(T.headers(conn, { { "To", "ann@example.com" },
    { "Subject", "no from" } }) == SMFIR_CONTINUE, "eoh")
T.body(conn, "x\r\n")
T.check(T.eom(conn) == SMFIR_REPLYCODE, "not refused")
T.check(T.sql("select count(*) from quarantine") == "0", "quarantine rows")
T.finish(conn)
