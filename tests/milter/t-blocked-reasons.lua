-- t-blocked-reasons: each blocked reason removes and quarantines its
-- recipient; the opted-in recipient stays (DESIGN "Consent model").
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.check(T.campaign(conn, "BR1", { "<bob@example.com>", "<carol@example.com>",
    "<ANN@Example.COM>", "<dave@example.com>", "<eve@example.com>" }) == SMFIR_CONTINUE,
    "eom not continued")
for _, r in ipairs({ "<bob@example.com>", "<carol@example.com>",
    "<dave@example.com>", "<eve@example.com>" }) do
	T.check(mt.eom_check(conn, MT_RCPTDELETE, r), r .. " not removed")
end
T.check(not mt.eom_check(conn, MT_RCPTDELETE, "<ANN@Example.COM>"),
    "the opted-in recipient was removed")
local rows = T.sql("select recipient || '=' || reason || '=' || queue_id || '=' || list_id from quarantine order by recipient")
T.check(rows == "bob@example.com=opted_out=BR1=news\n" ..
    "carol@example.com=pending=BR1=news\n" ..
    "dave@example.com=no_consent=BR1=news\n" ..
    "eve@example.com=suppressed=BR1=news", "quarantine rows:\n" .. rows)
local file = T.sql("select distinct spool_file from quarantine")
local content = T.sh("cat " .. os.getenv("OPTIN_DIR") .. "/quarantine/" .. file)
T.check(content:find("Subject: November news", 1, true) ~= nil, "spool file content")
T.check(content:find("the November news.", 1, true) ~= nil, "spool file body")
T.finish(conn)
