-- pgsql/handover.sql - the hand-over records on PostgreSQL (SQLite:
-- sql/sqlite-003-handover.sql; DESIGN "Message flow", issue 15 item 1).
-- One self-contained migration step: compiled into the programs as it is
-- (Makefile.am makes milter/store/handover_pgsql.h from it) and applied by
-- optinctl migrate, or by optinctl init after schema.sql; it ends by
-- recording its schema version.
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

INSERT INTO optin_schema (version) VALUES (2);
