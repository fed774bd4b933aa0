-- t-defer: MultiRecipientCampaign defer answers 452 4.5.3 to the second
-- recipient of a campaign known from the envelope.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.mail(conn, "<news@example.com>", "DF1")
T.check(T.rcpt(conn, "<ann@example.com>") == SMFIR_CONTINUE, "first rcpt")
T.check(T.rcpt(conn, "<frank@example.com>") == SMFIR_REPLYCODE,
    "second rcpt not deferred")
T.check(T.headers(conn, T.campaign_headers) == SMFIR_CONTINUE, "eoh")
T.body(conn, T.campaign_body)
T.check(T.eom(conn) == SMFIR_CONTINUE, "eom")
T.check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"), "no List-Unsubscribe")
T.finish(conn)
