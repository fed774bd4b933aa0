-- t-defer: MultiRecipientCampaign defer answers 452 4.5.3 to the second
-- recipient of a campaign known from the envelope.  Recipients without
-- angle brackets (Postfix's sendmail(1) path) cannot be answered at RCPT:
-- the message is refused as a whole at end of message.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()

-- two(qid, first, second, want at the second RCPT, want at end of message)
local function two(qid, a, b, want_rcpt, want_eom)
	T.mail(conn, "<news@example.com>", qid)
	T.check(T.rcpt(conn, a) == SMFIR_CONTINUE, qid .. ": first rcpt")
	T.check(T.rcpt(conn, b) == want_rcpt, qid .. ": second rcpt")
	T.check(T.headers(conn, T.campaign_headers) == SMFIR_CONTINUE,
	    qid .. ": eoh")
	T.body(conn, T.campaign_body)
	T.check(T.eom(conn) == want_eom, qid .. ": end of message")
end

two("DF1", "<ann@example.com>", "<frank@example.com>", SMFIR_REPLYCODE,
    SMFIR_CONTINUE)
T.check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"),
    "DF1: no List-Unsubscribe")
two("DF2", "ann@example.com", "frank@example.com", SMFIR_CONTINUE,
    SMFIR_REPLYCODE)
T.finish(conn)
