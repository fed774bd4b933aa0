-- t-author: never sign the ambiguous (RFC 5322 sections 3.6, 3.6.2).  A
-- campaign with two From fields, with a From of two mailboxes and no
-- Sender (or two Sender fields), or with a From naming no mailbox is
-- refused (550 5.6.0, see the log and tests/e2e/t-signsafe.sh for the
-- reply text) and neither signed nor quarantined; two mailboxes with one
-- Sender go out signed.  Transactional mail (SignAll yes) with two From
-- fields is passed, not signed; a good one is signed.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
local ann = { "<ann@example.com>" }

-- campaign(qid, fields) - a campaign to ann with fields in front of the
-- usual ones (in place of those of the same name); the reply to end of
-- message
local function campaign(qid, fields)
	return T.message(conn, qid, "<news@example.com>", ann,
	    T.campaign_with(fields), T.campaign_body)
end

T.check(campaign("AU1", { { "From", "News <news@example.com>" },
    { "From", "Other <other@example.com>" } }) == SMFIR_REPLYCODE,
    "AU1: two From fields not refused")
T.check(not mt.eom_check(conn, MT_HDRINSERT), "AU1: signed")
T.check(campaign("AU2", { { "From", "news@example.com, other@example.com" } })
    == SMFIR_REPLYCODE, "AU2: two mailboxes without Sender not refused")
T.check(not mt.eom_check(conn, MT_HDRADD), "AU2: a header was added")
T.check(campaign("AU3", { { "From", "undisclosed-recipients:;" } })
    == SMFIR_REPLYCODE, "AU3: From without a mailbox not refused")
T.check(campaign("AU4", { { "From", "news@example.com, other@example.com" },
    { "Sender", "news@example.com" }, { "Sender", "x@example.com" } })
    == SMFIR_REPLYCODE, "AU4: two Sender fields not refused")
T.check(T.sql("select count(*) from quarantine") == "0", "quarantine rows")

T.check(campaign("AU5", { { "From",
    "\"News, Team\" <news@example.com>,\n other@example.com" },
    { "Sender", "news@example.com" } }) == SMFIR_CONTINUE,
    "AU5: two mailboxes with Sender not accepted")
T.check(mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"), "AU5 not signed")
T.check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"), "AU5: no List-Unsubscribe")

-- transactional, SignAll yes: two From fields pass unsigned, one is signed
local bob = { "<bob@example.com>" }
T.check(T.message(conn, "AU6", "<billing@example.com>", bob,
    { { "From", "billing@example.com" }, { "From", "other@example.com" },
    { "Subject", "invoice" } }, "x\r\n") == SMFIR_CONTINUE,
    "AU6: transactional not passed")
T.check(not mt.eom_check(conn, MT_HDRINSERT), "AU6: signed")
T.check(T.message(conn, "AU7", "<billing@example.com>", bob,
    { { "From", "billing@example.com" }, { "Subject", "invoice" } },
    "x\r\n") == SMFIR_CONTINUE, "AU7: transactional not passed")
T.check(mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"), "AU7 not signed")
T.finish(conn)
