-- t-nokey-tempfail: a campaign whose From domain has no signing key is not
-- sent unsigned with one-click headers (DESIGN "Message flow" item 5).
-- OnNoSigningKey tempfail, the default: 451 4.3.5 (text in the log and in
-- tests/e2e/t-signsafe.sh), nothing changed, nothing quarantined.  A From
-- that has a key is signed.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.check(T.campaign(conn, "NK1", { "<ann@example.com>", "<bob@example.com>" })
    == SMFIR_REPLYCODE, "NK1 not refused")
T.check(not mt.eom_check(conn, MT_HDRADD), "NK1: a header was added")
T.check(not mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>"),
    "NK1: a recipient was removed")
T.check(T.sql("select count(*) from quarantine") == "0", "quarantine rows")

T.check(T.message(conn, "NK2", "<news@example.com>", { "<ann@example.com>" },
    T.campaign_with({ { "From", "News <news@other.example>" } }),
    T.campaign_body) == SMFIR_CONTINUE, "NK2 not continued")
T.check(mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"), "NK2 not signed")
T.finish(conn)
