-- pgsql/003-handover.sql - schema step 3: the hand-over records on
-- PostgreSQL (SQLite: sql/sqlite-003-handover.sql; DESIGN "Message flow",
-- issue 15 item 1).  Compiled into the programs (Makefile.am PGSQL_STEPS)
-- and applied by optinctl migrate, or when a database is created; it ends
-- by recording its schema version.
--
-- handover: one row per (message, recipient).  msg_key is the keyed hash of
-- the message that stays the same when the MTA retries it under a new queue
-- ID; state 'claimed' is written before a split copy goes to
-- SendmailCommand, 'done' after it exited 0, 'quarantined' in the same
-- transaction as the recipient's quarantine row.  optinctl quarantine purge
-- deletes rows not updated for 7 days.
CREATE TABLE handover (
	msg_key		text NOT NULL,
	recipient	text NOT NULL,
	state		text NOT NULL
			CHECK (state IN ('claimed', 'done', 'quarantined')),
	queue_id	text,
	claimed_at	bigint NOT NULL,
	updated_at	bigint NOT NULL,
	PRIMARY KEY (msg_key, recipient)
);

CREATE INDEX handover_updated ON handover (updated_at);

UPDATE optin_schema SET version = 3;
