-- t-spf-helo: the SPF evidence of a mailto unsubscribe sent with the null
-- sender checks the HELO name (RFC 7208 section 2.4); a HELO that is not
-- a valid domain name (here a 64-octet label) is "none" at once, without
-- asking the SPF helper or DNS (section 4.3).
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local helo = string.rep("x", 64) .. ".example"
local conn = T.start(helo)
T.mailto_optout(conn, "<>", "SH1")
local ev = T.sql("select evidence from consent_events where address = 'ann@example.com' and source = 'mailto'")
local want = "spf=none (the HELO name is not a valid domain name, RFC 7208 section 4.3: no DNS query) client=client.example.net[192.0.2.7] helo=" .. helo .. " mail_from="
T.check(ev:sub(1, #want) == want, "evidence: got " .. ev .. ", want " .. want .. "...")
T.finish(conn)
