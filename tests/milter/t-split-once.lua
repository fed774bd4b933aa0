-- t-split-once: the same message again (the MTA's retry under a new queue
-- ID) hands nobody a second split copy and writes no second quarantine row;
-- the kept recipient stays in it.  A copy another attempt claimed but never
-- recorded is deferred while the claim is young and held as
-- handover_unknown after SplitHandoverWait (handover.h).
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local d = os.getenv("OPTIN_DIR")
local conn = T.start()
local rcpts = { "<ann@example.com>", "<frank@example.com>",
    "<bob@example.com>" }
local function copies() return T.sh("ls " .. d .. "/sent | wc -l") end

-- the first attempt: ann kept, frank's copy handed over, bob quarantined
T.check(T.campaign(conn, "SO1", rcpts) == SMFIR_CONTINUE,
    "SO1: eom not continued")
T.check(copies() == "1", "SO1: copies handed over")

-- the retry: ann kept again, frank and bob removed, nothing handed over
T.check(T.campaign(conn, "SO2", rcpts) == SMFIR_CONTINUE,
    "SO2: eom not continued")
T.check(mt.eom_check(conn, MT_RCPTDELETE, "<frank@example.com>"),
    "SO2: frank not removed")
T.check(mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>"),
    "SO2: bob not removed")
T.check(not mt.eom_check(conn, MT_RCPTDELETE, "<ann@example.com>"),
    "SO2: ann removed")
T.check(copies() == "1", "SO2: frank got a second copy")
T.check(T.sql("select queue_id || '=' || recipient || '=' || state " ..
    "from handover order by recipient") ==
    "SO1=bob@example.com=quarantined\nSO1=frank@example.com=done",
    "SO2: hand-over records")

-- frank's record left claimed by an attempt that died a moment ago
T.exec("update handover set state = 'claimed', claimed_at = " ..
    os.time() .. " where recipient = 'frank@example.com'")
T.check(T.campaign(conn, "SO3", rcpts) == SMFIR_REPLYCODE,
    "SO3: a young claim not deferred")
T.check(copies() == "1", "SO3: a copy handed over")

-- ... and long ago: held, not handed over, ann still kept
T.exec("update handover set claimed_at = claimed_at - 3600 " ..
    "where recipient = 'frank@example.com'")
T.check(T.campaign(conn, "SO4", rcpts) == SMFIR_CONTINUE,
    "SO4: eom not continued")
T.check(mt.eom_check(conn, MT_RCPTDELETE, "<frank@example.com>"),
    "SO4: frank not removed")
T.check(copies() == "1", "SO4: a copy handed over")
T.check(T.sql("select queue_id || '=' || recipient || '=' || reason " ..
    "from quarantine order by id") ==
    "SO1=bob@example.com=opted_out\nSO4=frank@example.com=handover_unknown",
    "quarantine rows")
T.check(T.sql("select count(*) from handover where state = 'quarantined'")
    == "2", "SO4: frank's record not quarantined")
T.finish(conn)
