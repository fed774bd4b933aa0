-- sqlite-004-listindex.sql - schema version 3 -> 4: no index of
-- subscriptions by (list_id, status) (issue 14 item 4).  Compiled into
-- milter/store/store_sqlite_open.c (migrations[]; tests/unit/test_store.c
-- compares the two).
--
-- Every write of consent paid for it: an imported pair is one more b-tree
-- insert, an opt-out moves the pair's entry from one leaf to another.
-- Nothing on the mail or one-click path reads by list; only optinctl list
-- ls and stats counted with it, and they now read the table itself.
DROP INDEX IF EXISTS subscriptions_list;

PRAGMA user_version = 4;
