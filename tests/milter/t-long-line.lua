-- t-long-line: a body line over 998 octets (RFC 5322 section 2.1.1) is
-- delivered but logged: Postfix would fold it after signing.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.mail(conn, "<news@example.com>", "LL1")
T.check(T.rcpt(conn, "<ann@example.com>") == SMFIR_CONTINUE, "rcpt")
T.check(T.headers(conn, T.campaign_headers) == SMFIR_CONTINUE, "eoh")
T.body(conn, "short\r\n" .. string.rep("x", 600))
T.body(conn, string.rep("y", 600) .. "\r\nend\r\n")
T.check(T.eom(conn) == SMFIR_CONTINUE, "eom not continued")
T.finish(conn)
