-- t-mailto-erased: mail to the UnsubscribeMailto address with a token
-- issued before optinctl forget is taken and discarded as any request, but
-- writes nothing: no subscription row and no event with the address (it
-- wrote both back in clear).
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local token = T.sh("cat " .. os.getenv("OPTIN_DIR") .. "/token")
T.check(#token > 20, "no token from optinctl")
T.check(T.sql("select reason from suppressions where address like 'erased:%'")
    == "erased", "ann not erased by the set-up")
local conn = T.start()
T.mail(conn, "<ann@example.com>", "ME1")
T.check(T.rcpt(conn, "<unsubscribe+" .. token .. "@example.com>") ==
    SMFIR_CONTINUE, "valid token refused")
T.check(T.unsub_message(conn, "ann@example.com") == SMFIR_DISCARD,
    "request not discarded")
T.check(T.sql("select count(*) from subscriptions where address = 'ann@example.com'")
    == "0", "ann written back into subscriptions")
T.check(T.sql("select count(*) from consent_events where address = 'ann@example.com'")
    == "0", "ann written back into consent_events")
T.finish(conn)
