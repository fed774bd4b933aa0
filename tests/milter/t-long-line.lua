-- t-long-line: Postfix's SMTP client breaks a line over 998 octets (RFC
-- 5322 section 2.1.1) after we signed, so a campaign whose body has one,
-- or a header the signature covers, is held whole instead (DESIGN "Message
-- flow" item 5): one spool file, allowed recipients with reason
-- line_too_long, blocked ones with their consent reason, and discarded.
-- Exactly 998 octets go out signed, also when the CRLF is split between
-- two body chunks; a long header the signature does not cover breaks
-- nothing and goes out signed too.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
local news = "<news@example.com>"

-- body line of 1200 octets in two chunks
T.mail(conn, news, "LL1")
T.check(T.rcpt(conn, "<ann@example.com>") == SMFIR_CONTINUE, "rcpt ann")
T.check(T.rcpt(conn, "<bob@example.com>") == SMFIR_CONTINUE, "rcpt bob")
T.check(T.headers(conn, T.campaign_headers) == SMFIR_CONTINUE, "eoh")
T.body(conn, "short\r\n" .. string.rep("x", 600))
T.body(conn, string.rep("y", 600) .. "\r\nend\r\n")
T.check(T.eom(conn) == SMFIR_DISCARD, "LL1 not discarded")
T.check(not mt.eom_check(conn, MT_HDRADD), "LL1: a header was added")
T.check(not mt.eom_check(conn, MT_HDRINSERT), "LL1: signed")
T.check_held("LL1 ann@example.com=line_too_long\nLL1 bob@example.com=opted_out",
    "LL1")

-- a Subject line of 999 octets: "Subject:", the space miltertest puts in
-- front of a value (SMFIP_HDR_LEADSPC) and 990 octets
T.check(T.message(conn, "LL2", news, { "<ann@example.com>" },
    T.campaign_with({ { "Subject", string.rep("s", 990) } }),
    T.campaign_body) == SMFIR_DISCARD, "LL2 not discarded")
T.check(T.sql("select recipient || '=' || reason from quarantine where queue_id = 'LL2'") ==
    "ann@example.com=line_too_long", "LL2 quarantine row")

-- exactly 998 octets: a Subject line, the second line of a folded To, a
-- body line whose CR ends one chunk and whose LF starts the next
T.mail(conn, news, "LL3")
T.check(T.rcpt(conn, "<ann@example.com>") == SMFIR_CONTINUE, "rcpt")
T.check(T.headers(conn, T.campaign_with({ { "Subject", string.rep("s", 989) },
    { "To", "ann@example.com,\n (" .. string.rep("t", 995) .. ")" } }))
    == SMFIR_CONTINUE, "eoh")
T.body(conn, string.rep("z", 998) .. "\r")
T.body(conn, "\nend\r\n")
T.check(T.eom(conn) == SMFIR_CONTINUE, "LL3 (998 octets) not continued")
T.check(mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"), "LL3 not signed")

-- an unsigned header line of 1007 octets: nothing to break (miltertest
-- cannot send much longer ones; tests/e2e/t-signsafe.sh sends 1200)
T.check(T.message(conn, "LL4", news, { "<ann@example.com>" },
    T.campaign_with({ { "X-Long", string.rep("h", 999) } }),
    T.campaign_body) == SMFIR_CONTINUE, "LL4 not continued")
T.check(mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"), "LL4 not signed")
T.check(T.sql("select count(*) from quarantine where queue_id in ('LL3', 'LL4')") == "0",
    "LL3 or LL4 quarantined")
T.finish(conn)
