-- pgsql/004-listindex.sql - schema step 4: no index of subscriptions by
-- (list_id, status) (SQLite: sql/sqlite-004-listindex.sql; issue 14 item
-- 4).  Compiled into the programs (Makefile.am PGSQL_STEPS) and applied by
-- optinctl migrate, or when a database is created; it ends by recording its
-- schema version.
--
-- Every write of consent paid for it: an imported pair is one more index
-- insert, an opt-out one more index entry.  Nothing on the mail or
-- one-click path reads by list; only optinctl list ls and stats counted
-- with it, and they now read the table itself.
DROP INDEX IF EXISTS subscriptions_list;

UPDATE optin_schema SET version = 4;
