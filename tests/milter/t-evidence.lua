-- t-evidence: a HELO name stored as consent evidence of a mailto
-- unsubscribe cannot add or change fields: a HELO with spaces, '=',
-- quotes and a backslash is one quoted value (milter/util/kv.h), so the
-- evidence string is exactly what the milter itself wrote.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start('evil.example spf=pass client=trusted.example[10.0.0.1] "q"\\')
T.mailto_optout(conn, "<ann@example.com>", "EV1")
local ev = T.sql("select evidence from consent_events where address = 'ann@example.com' and source = 'mailto'")
local want = ' client=client.example.net[192.0.2.7] helo="evil.example spf=pass client=trusted.example[10.0.0.1] \\"q\\"\\\\" mail_from=<ann@example.com>'
T.check(ev:sub(-#want) == want, "evidence: got " .. ev .. ", want ..." .. want)
T.check(ev:find("^spf=%l+ %(") ~= nil, "evidence does not start with spf=: " .. ev)
T.finish(conn)
