-- t-symlist: the filter asks an MTA that offers SMFIF_SETSYMLIST for the
-- macros it reads and no others (Postfix's defaults are 5 at connect, 5
-- at HELO, 7 at MAIL, 4 at RCPT), one list per stage it sends (SMFIM_*:
-- 0 connect, 1 HELO, 2 MAIL, 3 RCPT, 5 end of message, 6 end of headers);
-- an MTA that does not offer it gets no lists and the same actions as
-- before.  (That Postfix then sends the queue ID where it is read: the
-- e2e suites, whose log lines carry it.)
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local neg = "/usr/bin/python3 " .. os.getenv("OPTIN_SRC") .. "/symlist.py " ..
    os.getenv("OPTIN_SOCK")

local conn = T.start()
local got = T.sh(neg .. " sym")
T.check(got == "actions 0x159\n0={client_addr}\n1=i\n2=i {auth_authen}\n" ..
    "3=i\n5=i\n6=i", "with SMFIF_SETSYMLIST: " .. got)
got = T.sh(neg .. " nosym")
T.check(got == "actions 0x59", "without SMFIF_SETSYMLIST: " .. got)
T.check(T.campaign(conn, "SYM1", { "<ann@example.com>" }) == SMFIR_CONTINUE,
    "campaign: eom not continued")
T.finish(conn)
