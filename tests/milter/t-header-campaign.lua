-- t-header-campaign: a sender not in CampaignSenders is still a campaign
-- when the message carries CampaignHeader; ListHeader names the list.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.mail(conn, "<crm@example.org>", "HC1")
T.check(T.rcpt(conn, "<ann@example.com>") == SMFIR_CONTINUE, "rcpt")
T.check(T.headers(conn, {
	{ "From", "crm@example.org" }, { "Subject", "Promo" },
	{ "X-Campaign-ID", "p1" }, { "X-Campaign-List", "promo" } })
    == SMFIR_CONTINUE, "eoh")
T.body(conn, "promo\r\n")
T.check(T.eom(conn) == SMFIR_DISCARD, "ann has no consent for promo: not discarded")
T.check(T.sql("select reason || '=' || list_id from quarantine") == "no_consent=promo",
    "quarantine row")
T.finish(conn)
