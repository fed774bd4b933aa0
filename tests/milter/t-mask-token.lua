-- t-mask-token: an unsubscribe token is a bearer credential and never
-- reaches the log.  A request whose envelope sender is itself an
-- unsubscribe address logs it as unsubscribe+[token]@example.com (the
-- .log-re file); a request written with a source route and a root dot is
-- still a request.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local token = T.sh("cat " .. os.getenv("OPTIN_DIR") .. "/token")
T.check(#token > 20, "no token from optinctl")
local conn = T.start()
T.mail(conn, "<unsubscribe+" .. token .. "@example.com>", "MK1")
T.check(T.rcpt(conn, "<@relay.example:unsubscribe+" .. token ..
    "@example.com.>") == SMFIR_CONTINUE, "request refused")
T.unsub_request(conn, "MK1")
T.check(T.sql("select status from subscriptions where address = 'ann@example.com' and list_id = 'news'")
    == "opted_out", "ann not opted out")
T.finish(conn)
