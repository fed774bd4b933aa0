-- t-erased-nokey: the database keeps an address erased with ErasureKeyFile
-- (setup), but the milter is started without that key: it cannot tell who
-- was erased, so campaign mail is tempfailed (OnDBError tempfail: 451
-- 4.3.0) rather than delivered, even to someone opted in.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
T.check(T.sql("select count(*) from suppressions where address like 'erased:1:%'") == "1",
    "setup did not erase ann")
local conn = T.start()
for _, r in ipairs({ "<ann@example.com>", "<frank@example.com>" }) do
	T.check(T.campaign(conn, "NK1", { r }) == SMFIR_REPLYCODE,
	    r .. ": not tempfailed")
	T.check(not mt.eom_check(conn, MT_RCPTDELETE, r), r .. ": removed")
end
T.check(T.sql("select count(*) from quarantine") == "0", "quarantine rows")
T.finish(conn)
