-- t-mailto: mail to the UnsubscribeMailto address with a valid token
-- records the opt-out (source mailto, with evidence) and is discarded; a
-- bad token is refused at RCPT with 550 5.1.1.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local token = T.sh("cat " .. os.getenv("OPTIN_DIR") .. "/token")
T.check(#token > 20, "no token from optinctl")
local conn = T.start()
T.mail(conn, "<ann@example.com>", "MT1")
-- one changed character: refused
local bad = token:sub(1, 10) .. (token:sub(11, 11) == "A" and "B" or "A") ..
    token:sub(12)
T.check(T.rcpt(conn, "<unsubscribe+" .. bad .. "@example.com>") ==
    SMFIR_REPLYCODE, "tampered token not refused")
T.check(T.rcpt(conn, "<unsubscribe+@example.com>") == SMFIR_REPLYCODE,
    "empty token not refused")
T.check(T.rcpt(conn, "<\"unsubscribe+garbage\"@example.com>") ==
    SMFIR_REPLYCODE, "quoted bad token not refused")
T.check(T.rcpt(conn, "<unsubscribe+" .. token .. "@example.com>") ==
    SMFIR_CONTINUE, "valid token refused")
T.unsub_request(conn, "MT1")
T.check(T.sql("select status from subscriptions where address = 'ann@example.com' and list_id = 'news'")
    == "opted_out", "ann not opted out")
local ev = T.sql("select source || '|' || remote_addr || '|' || evidence from consent_events where address = 'ann@example.com'")
T.check(ev:find("^mailto|192.0.2.7|spf=%l+ %(.*%) client=client.example.net%[192.0.2.7%] helo=client.example.net mail_from=<ann@example.com>$") ~= nil,
    "event: " .. ev)
T.finish(conn)
