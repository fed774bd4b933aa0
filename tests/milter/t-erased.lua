-- t-erased: after "optinctl forget" only the erased form of the address is
-- left, keyed with ErasureKeyFile; the token keys rotated twice since
-- (setup), and the milter still finds it, so the person stays suppressed.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local d = os.getenv("OPTIN_DIR")
T.check(T.sql("select count(*) from suppressions where address = 'ann@example.com'") == "0",
    "plain address still in the database")
T.check(T.sql("select reason from suppressions where address like 'erased:1:%'") == "erased",
    "no erased form")
T.check(T.sh("/usr/bin/python3 " .. os.getenv("OPTIN_SRC") .. "/marks.py erased " ..
    d .. "/erasure.keys 1 ann@example.com") ==
    T.sql("select address from suppressions where reason = 'erased'"),
    "erased form is not HMAC(ErasureKeyFile key 1, address)")
T.check(T.sh("grep -c '^[0-9]' " .. d .. "/token.keys") == "3", "token keys rotated")
local conn = T.start()
T.check(T.campaign(conn, "ER1", { "<ann@example.com>" }) == SMFIR_DISCARD,
    "erased person not held back")
T.check(T.sql("select reason from quarantine") == "suppressed", "quarantine row")
T.finish(conn)
