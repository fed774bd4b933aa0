-- t-split: three allowed recipients: the first stays, the other two are
-- re-submitted one each through SendmailCommand with an authenticated
-- split marker; blocked ones are quarantined.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local conn = T.start()
T.check(T.campaign(conn, "SP1", { "<ann@example.com>", "<bob@example.com>",
    "<frank@example.com>", "<dave@example.com>", "<gina@bücher.example>" }) == SMFIR_CONTINUE,
    "eom not continued")
for _, r in ipairs({ "<bob@example.com>", "<frank@example.com>",
    "<dave@example.com>", "<gina@bücher.example>" }) do
	T.check(mt.eom_check(conn, MT_RCPTDELETE, r), r .. " not removed")
end
local d = os.getenv("OPTIN_DIR")
local args = T.sh("grep -h '^ARGS:' " .. d .. "/sent/* | sort")
T.check(args == "ARGS: -f news@example.com -- frank@example.com\n" ..
    "ARGS: -f news@example.com -- gina@bücher.example",
    "re-submissions:\n" .. args)
T.check(T.sh("grep -lE '^X-Optin-Split: v=2; q=SP1; id=0; t=[0-9]+; " ..
    "x=[0-9]+; list=news; mac=[0-9a-f]{64}' " .. d .. "/sent/* | wc -l") ==
    "2", "split marker missing")
T.check(T.sql("select recipient || '=' || reason from quarantine order by 1") ==
    "bob@example.com=opted_out\ndave@example.com=no_consent", "quarantine rows")
T.finish(conn)
