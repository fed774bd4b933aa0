-- t-nokey-accept: OnNoSigningKey accept sends a campaign whose From domain
-- has no signing key with its unsubscribe headers, unsigned, and says so
-- in the log.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.check(T.campaign(conn, "NA1", { "<ann@example.com>" }) == SMFIR_CONTINUE,
    "NA1 not continued")
T.check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"), "no List-Unsubscribe")
T.check(not mt.eom_check(conn, MT_HDRINSERT), "NA1 signed")
T.check(T.sql("select count(*) from quarantine") == "0", "quarantine rows")
T.finish(conn)
