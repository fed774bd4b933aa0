-- t-rcpt-forms: a recipient is removed with the string the MTA matches.
-- A source route is dropped (Postfix's smtpd drops it before it compares);
-- recipients without angle brackets (Postfix's sendmail(1) path, rewritten
-- after the MTA recorded the original) cannot be named reliably: every
-- allowed person gets a re-submitted copy and the message is discarded.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local d = os.getenv("OPTIN_DIR")
local conn = T.start()

-- SMTP, source route: removed as <bob@example.com>, ann kept
T.check(T.campaign(conn, "RF1", { "<ann@example.com>",
    "<@relay.example:bob@example.com>" }) == SMFIR_CONTINUE,
    "RF1: eom not continued")
T.check(mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>"),
    "RF1: bob not removed as <bob@example.com>")
T.check(not mt.eom_check(conn, MT_RCPTDELETE, "<ann@example.com>"),
    "RF1: ann removed")
T.check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"),
    "RF1: kept copy has no List-Unsubscribe")
T.check(T.sh("ls " .. d .. "/sent | wc -l") == "0", "RF1: re-submitted")

-- each case is a message of its own (Message-ID): the same message again
-- would be a retry, which hands nobody a second copy (t-split-once.lua)
local function campaign_as(id, rcpts)
	return T.message(conn, id, "<news@example.com>", rcpts,
	    T.campaign_with({ { "Message-ID", "<" .. id .. "@example.com>" } }),
	    T.campaign_body)
end

-- no brackets: nothing rests on smfi_delrcpt
T.check(campaign_as("RF2", { "ann@example.com", "bob@example.com.",
    "frank@example.com", "ANN@example.com" }) == SMFIR_DISCARD,
    "RF2: not discarded")
T.check(not mt.eom_check(conn, MT_RCPTDELETE, "bob@example.com."),
    "RF2: a removal was asked for")
T.check(not mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"),
    "RF2: discarded copy got personal headers")
local args = T.sh("grep -h '^ARGS:' " .. d .. "/sent/* | sort")
T.check(args == "ARGS: -f news@example.com -- ann@example.com\n" ..
    "ARGS: -f news@example.com -- frank@example.com",
    "RF2: re-submissions (one per person):\n" .. args)

-- two spellings of one mailbox over SMTP: Postfix would remove both
T.check(campaign_as("RF3", { "<frank@example.com>",
    "<\"frank\"@example.com>", "<bob@example.com>" }) == SMFIR_DISCARD,
    "RF3: not discarded")
T.check(T.sh("grep -l -- '-- frank@example.com' " .. d ..
    "/sent/* | wc -l") == "2", "RF3: frank not re-submitted once")

T.check(T.sql("select queue_id || '=' || recipient || '=' || reason " ..
    "from quarantine order by id") ==
    "RF1=bob@example.com=opted_out\n" ..
    "RF2=bob@example.com=opted_out\n" ..
    "RF3=bob@example.com=opted_out", "quarantine rows:\n" ..
    T.sql("select queue_id || '=' || recipient || '=' || reason from quarantine"))
T.finish(conn)
