-- t-quoted-sender: "news"@example.com is the same mailbox as
-- news@example.com (RFC 5321 section 4.1.2): quoting the envelope sender
-- must not turn a campaign into transactional mail.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.mail(conn, '<"news"@example.com>', "QS1")
T.check(T.rcpt(conn, '<"dave"@example.com>') == SMFIR_CONTINUE, "rcpt")
-- no X-Campaign-ID: only the envelope sender makes it a campaign
T.check(T.headers(conn, { { "From", "news@example.com" },
    { "Subject", "November news" } }) == SMFIR_CONTINUE,
    "treated as transactional at end of headers")
T.body(conn, T.campaign_body)
T.check(T.eom(conn) == SMFIR_DISCARD, "dave has no consent: not discarded")
T.check(T.sql("select recipient || '=' || reason from quarantine") ==
    "dave@example.com=no_consent", "quarantine row")
T.finish(conn)
