-- t-keycache: with an RSA and an Ed25519 key the start-up probe turns the
-- DKIM key cache on (log: "DKIM key cache: on: 2 keys parsed once",
-- t-keycache.log-re), and campaigns one after the other are signed with
-- the parsed keys (milter/dkim/dkimpkey.c).
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
for i = 1, 3 do
	local qid = "KC" .. i
	T.check(T.campaign(conn, qid, { "<ann@example.com>" }) == SMFIR_CONTINUE,
	    qid .. ": eom not continued")
	T.check(mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"),
	    qid .. " not signed")
end
T.finish(conn)
