-- t-unknown-list: a campaign naming a list that does not exist (a typo in
-- X-Campaign-List) is kept queued with 451, not quarantined wholesale.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.mail(conn, "<news@example.com>", "UL1")
T.check(T.rcpt(conn, "<ann@example.com>") == SMFIR_CONTINUE, "rcpt")
T.check(T.headers(conn, { { "From", "news@example.com" },
    { "Subject", "typo" }, { "X-Campaign-List", "newz" } }) == SMFIR_CONTINUE,
    "eoh")
T.body(conn, "x\r\n")
T.check(T.eom(conn) == SMFIR_REPLYCODE, "not tempfailed")
T.check(T.sql("select count(*) from quarantine") == "0", "quarantine rows")
T.finish(conn)
