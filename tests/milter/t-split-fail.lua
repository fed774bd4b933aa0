-- t-split-fail: a copy whose re-submission fails goes to quarantine with
-- reason resubmit_failed: nothing lost, nothing sent twice.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.mail(conn, "<news@example.com>", "SF1")
T.check(T.rcpt(conn, "<ann@example.com>") == SMFIR_CONTINUE, "rcpt")
T.check(T.rcpt(conn, "<frank@example.com>") == SMFIR_CONTINUE, "rcpt")
T.check(T.headers(conn, T.campaign_headers) == SMFIR_CONTINUE, "eoh")
T.body(conn, T.campaign_body)
T.check(T.eom(conn) == SMFIR_CONTINUE, "eom not continued")
T.check(mt.eom_check(conn, MT_RCPTDELETE, "<frank@example.com>"), "frank not removed")
T.check(T.sql("select recipient || '=' || reason from quarantine") ==
    "frank@example.com=resubmit_failed", "quarantine rows")
T.finish(conn)
