-- t-log-sender: the decision line's from= for envelope senders that
-- addr_normalize refuses (b511b45): a personal bounce address in any form
-- the MTA delivers to it (case, source route, quotes, root dot, an empty
-- or odd token, broken angle brackets, brackets or quotes left round it,
-- text after it, any length) shows as bounce+[token]; control and 8-bit
-- bytes as '?';
-- only a null sender is from=<> (a sender over ADDR_MAX octets was too);
-- no token in the log.  Mail to a bounce-shaped address holding a valid
-- unsubscribe token is no unsubscribe request; mail to the
-- UnsubscribeMailto address still is.
dofile(os.getenv("OPTIN_SRC") .. "/common.lua")
local dir = os.getenv("OPTIN_DIR")
local token = T.sh("cat " .. dir .. "/token")
T.check(#token > 20, "no token from optinctl")
local tok = string.rep("AbC_-9", 12)
local masked = "from=<bounce+[token]@news.example.com> "
local cases = {
	{ "<>", "from=<> " },
	{ "<bounce+" .. tok .. "@news.example.com>", masked },
	{ "<BOUNCE+" .. tok .. "@NEWS.Example.COM>",
	    "from=<BOUNCE+[token]@NEWS.Example.COM> " },
	{ "<bounce+@news.example.com>", masked },
	{ "<@relay.example,@r2.example:bounce+" .. tok ..
	    "@news.example.com>", masked },
	{ "<\"bounce+" .. tok .. "\"@news.example.com.>", masked },
	{ "<bounce+" .. tok .. "\1@news.example.com>", masked },
	{ "bounce+" .. tok .. "@news.example.com", masked },
	-- broken angle brackets (Postfix passes none such): still no token
	{ "<bounce+" .. tok .. "@news.example.com", masked },
	{ "bounce+" .. tok .. "@news.example.com>", masked },
	-- brackets that stay after one pair is taken, text after the path,
	-- quotes round the whole mailbox: the token is masked where it is
	{ "<<<bounce+" .. tok .. "@news.example.com>>>",
	    "from=<<bounce+[token]@news.example.com>> " },
	{ "<bounce+" .. tok .. "@news.example.com> x",
	    "from=<bounce+[token]@news.example.com> x> " },
	{ "<\"bounce+" .. tok .. "@news.example.com\">",
	    "from=<\"bounce+[token]@news.example.com\"> " },
	{ "<x<bounce+" .. tok .. "@news.example.com>",
	    "from=<x<bounce+[token]@news.example.com> " },
	{ "<bounce+" .. tok .. "@news.example.com>" .. string.rep("z", 900),
	    "from=<bounce+[token]@news.example.com>zzz" },
	{ "<\"bounce+\"" .. tok .. "@news.example.com>",
	    "from=<\"bounce+[token]@news.example.com> " },
	{ "<a\1b\27[31mc@example.com>", "from=<a?b?[31mc@example.com> " },
	{ "<j\252rgen" .. string.rep("x", 60) .. "@example.com>",
	    "from=<j?rgen" .. string.rep("x", 60) .. "@example.com> " },
	{ "<" .. string.rep("y", 400) .. "@example.com>",
	    "from=<" .. string.rep("y", 300) },
}
local conn = T.start()
for i, c in ipairs(cases) do
	T.check(T.message(conn, "LS" .. i, c[1], { "<ann@example.com>" },
	    T.campaign_headers, T.campaign_body) == SMFIR_CONTINUE,
	    "LS" .. i .. ": eom not continued")
end
-- a bounce-shaped recipient with a valid unsubscribe token: no request
T.mail(conn, "<mailer-daemon@example.org>", "LS90")
T.check(T.rcpt(conn, "<bounce+" .. token .. "@news.example.com>") ==
    SMFIR_CONTINUE, "bounce-shaped recipient refused")
T.check(T.headers(conn, { { "From", "ann@example.com" },
    { "Subject", "unsubscribe" } }) ~= SMFIR_DISCARD, "LS90 discarded")
T.check(T.sql("select status from subscriptions where address = " ..
    "'ann@example.com' and list_id = 'news'") == "opted_in",
    "a mail to a bounce address opted ann out")
mt.abort(conn)
T.mailto_optout(conn, "<bounce+" .. tok .. "@news.example.com>", "LS91")
T.check(T.sql("select status from subscriptions where address = " ..
    "'ann@example.com' and list_id = 'news'") == "opted_out",
    "the mailto request did not opt ann out")
T.finish(conn)
local log = T.sh("cat " .. dir .. "/out")
for i, c in ipairs(cases) do
	local line = log:match("LS" .. i .. ": campaign list=news [^\n]*")
	T.check(line ~= nil and line:find(c[2], 1, true) ~= nil,
	    "LS" .. i .. ": want " .. c[2] .. " in " .. tostring(line))
end
T.check(log:find("LS91: unsubscribe source=mailto list=news", 1, true)
    ~= nil, "no mailto line for LS91")
T.check(log:find("LS90: unsubscribe", 1, true) == nil,
    "LS90 logged as an unsubscribe")
T.check(log:find(" mail_from=<bounce+[token]@news.example.com>", 1, true)
    ~= nil, "the mailto evidence's sender not masked")
T.check(log:find(tok, 1, true) == nil and log:find(token, 1, true) == nil,
    "a token in the log")
T.check(log:find("[\1-\8\11-\31\127]") == nil,
    "a raw control character in the log")
