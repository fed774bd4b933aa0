-- t-nokey-quarantine: OnNoSigningKey quarantine holds a campaign whose From
-- domain has no signing key: one spool file, the allowed recipient with
-- reason no_signing_key, the blocked one with its consent reason;
-- discarded, nothing sent unsigned.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.check(T.campaign(conn, "NQ1", { "<ann@example.com>", "<bob@example.com>" })
    == SMFIR_DISCARD, "NQ1 not discarded")
T.check(not mt.eom_check(conn, MT_HDRADD), "NQ1: a header was added")
T.check_held("NQ1 ann@example.com=no_signing_key\nNQ1 bob@example.com=opted_out",
    "NQ1")
T.finish(conn)
