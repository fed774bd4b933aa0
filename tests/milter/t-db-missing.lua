-- t-db-missing: without the database (SQLite: no file; PostgreSQL: no
-- server at the address), campaign mail is tempfailed (OnDBError tempfail:
-- 451 4.3.0); nothing is removed or lost.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.check(T.campaign(conn, "DB1", { "<ann@example.com>" }) == SMFIR_REPLYCODE,
    "not tempfailed")
T.check(not mt.eom_check(conn, MT_RCPTDELETE, "<ann@example.com>"), "a recipient was removed")
T.check(not mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"), "a header was added")
T.finish(conn)
