-- sqlite-003-handover.sql - schema version 2 -> 3: a split copy is handed
-- to the MTA at most once (DESIGN "Message flow", issue 15 item 1).
-- Compiled into milter/store/store_sqlite_open.c (migrations[];
-- tests/unit/test_store.c compares the two).
--
-- handover: one row per (message, recipient).  msg_key is the keyed hash of
-- the message that stays the same when the MTA retries it under a new queue
-- ID (handover.h); state 'claimed' is written before a split copy goes to
-- SendmailCommand, 'done' after it exited 0, 'quarantined' in the same
-- transaction as the recipient's quarantine row.  optinctl quarantine purge
-- deletes rows not updated for STORE_HANDOVER_KEEP (7 days).
CREATE TABLE handover (
	msg_key		TEXT NOT NULL,
	recipient	TEXT NOT NULL,
	state		TEXT NOT NULL
			CHECK (state IN ('claimed', 'done', 'quarantined')),
	queue_id	TEXT,
	claimed_at	INTEGER NOT NULL,
	updated_at	INTEGER NOT NULL,
	PRIMARY KEY (msg_key, recipient)
) WITHOUT ROWID;

CREATE INDEX handover_updated ON handover (updated_at);

PRAGMA user_version = 3;
