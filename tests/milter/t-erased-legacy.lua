-- t-erased-legacy: an erased form kept before ErasureKeyFile ("hmac:",
-- made with the then newest token key 1) is still found after two token
-- key rotations (setup): the lookup tries every token key for legacy
-- forms.  optinctl status finds it the same way.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local ctl = os.getenv("OPTIN_MILTER"):gsub("optin%-milter$", "optinctl") ..
    " -c " .. os.getenv("OPTIN_CONF")
T.check(T.sql("select count(*) from suppressions where address like 'hmac:%'") == "1",
    "no legacy form")
T.check(T.sh("grep -c '^[0-9]' " .. os.getenv("OPTIN_DIR") .. "/token.keys") == "3",
    "token keys rotated")
T.check(T.sh(ctl .. " status ann@example.com") ==
    "ann@example.com suppressed=erased\n  (other lists) decision=suppressed",
    "optinctl status: " .. T.sh(ctl .. " status ann@example.com 2>&1"))
local conn = T.start()
T.check(T.campaign(conn, "EL1", { "<ann@example.com>" }) == SMFIR_DISCARD,
    "person erased before ErasureKeyFile not held back")
T.check(T.campaign(conn, "EL2", { "<frank@example.com>" }) == SMFIR_CONTINUE,
    "frank held")
T.check(T.sql("select queue_id || '=' || recipient || '=' || reason from quarantine") ==
    "EL1=ann@example.com=suppressed", "quarantine rows")
T.finish(conn)
