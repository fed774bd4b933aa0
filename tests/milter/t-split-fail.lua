-- t-split-fail: a copy whose re-submission fails goes to quarantine with
-- reason resubmit_failed: nothing lost, nothing sent twice.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.check(T.campaign(conn, "SF1", { "<ann@example.com>", "<frank@example.com>" }) == SMFIR_CONTINUE,
    "eom not continued")
T.check(mt.eom_check(conn, MT_RCPTDELETE, "<frank@example.com>"), "frank not removed")
T.check(T.sql("select recipient || '=' || reason from quarantine") ==
    "frank@example.com=resubmit_failed", "quarantine rows")
T.finish(conn)
