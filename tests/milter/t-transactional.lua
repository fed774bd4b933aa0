-- t-transactional: mail that is not a campaign passes untouched, even to an
-- address that opted out of campaigns (DESIGN "Consent model").
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.mail(conn, "<billing@example.com>", "TX1")
T.check(T.rcpt(conn, "<bob@example.com>") == SMFIR_CONTINUE, "rcpt")
local r = T.headers(conn, {
	{ "From", "billing@example.com" }, { "To", "bob@example.com" },
	{ "Subject", "Your password reset" } })
T.check(r == SMFIR_ACCEPT, "transactional mail not accepted at end of headers")
T.check(T.sql("select count(*) from quarantine") == "0", "quarantine rows")
T.finish(conn)
