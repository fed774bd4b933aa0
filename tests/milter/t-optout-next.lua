-- t-optout-next: an opt-out committed between two messages of one SMTP
-- session is honoured by the next message, and an opt-in again by the one
-- after: the reads of a decision share one snapshot (store_reads_begin),
-- which must never outlive its message (the connection keeps its store
-- handle from one message to the next).
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local ctl = os.getenv("OPTIN_MILTER"):gsub("optin%-milter$", "optinctl") ..
    " -c " .. os.getenv("OPTIN_CONF")
local ann = "select status from subscriptions where address = " ..
    "'ann@example.com' and list_id = 'news'"

local conn = T.start()
T.check(T.campaign(conn, "ON1", { "<ann@example.com>" }) == SMFIR_CONTINUE,
    "opted in: eom not continued")
T.check(T.sql("select count(*) from quarantine") == "0",
    "opted in: quarantine rows")
T.sh(ctl .. " unsubscribe ann@example.com news --source test")
T.check(T.sql(ann) == "opted_out", "optinctl unsubscribe: ann not opted out")
T.check(T.campaign(conn, "ON2", { "<ann@example.com>" }) == SMFIR_DISCARD,
    "opted out in the same session: not discarded")
T.check(T.sql("select queue_id || ' ' || recipient || '=' || reason " ..
    "from quarantine order by id") == "ON2 ann@example.com=opted_out",
    "opted out in the same session: quarantine rows")
T.sh(ctl .. " subscribe ann@example.com news --source test")
T.check(T.sql(ann) == "opted_in", "optinctl subscribe: ann not opted in")
T.check(T.campaign(conn, "ON3", { "<ann@example.com>" }) == SMFIR_CONTINUE,
    "opted in again in the same session: eom not continued")
T.check(T.sql("select count(*) from quarantine") == "1",
    "opted in again: quarantine rows")
T.finish(conn)
