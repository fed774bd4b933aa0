-- schema.sql - optin-milter consent store, schema version 1.
--
-- DESIGN "Consent model".  Addresses are normalised (addr_normalize) before
-- they reach the database; times are integer seconds since the epoch; state
-- and reason words are DESIGN's exact words.  The text of this file is
-- compiled into the programs (milter/store_sqlite.c, schema_sql[], kept
-- identical and compared by tests/unit/test_store.c); later versions come as
-- numbered migrations, never as edits to this file.

CREATE TABLE lists (
	list_id		TEXT PRIMARY KEY NOT NULL,
	name		TEXT,
	double_opt_in	INTEGER NOT NULL DEFAULT 0 CHECK (double_opt_in IN (0, 1)),
	created_at	INTEGER NOT NULL
);

CREATE TABLE subscriptions (
	address		TEXT NOT NULL,
	list_id		TEXT NOT NULL REFERENCES lists (list_id),
	status		TEXT NOT NULL
			CHECK (status IN ('pending', 'opted_in', 'opted_out')),
	source		TEXT,
	updated_at	INTEGER NOT NULL,
	PRIMARY KEY (address, list_id)
) WITHOUT ROWID;

CREATE INDEX subscriptions_list ON subscriptions (list_id, status);

-- Global suppression of campaign mail.  An erased person is kept only as a
-- keyed hash of the address (reason 'erased').
CREATE TABLE suppressions (
	address		TEXT PRIMARY KEY NOT NULL,
	reason		TEXT NOT NULL
			CHECK (reason IN ('unsubscribed_all', 'hard_bounce',
			    'complaint', 'erased', 'manual')),
	created_at	INTEGER NOT NULL
) WITHOUT ROWID;

-- Append-only proof of consent.  Rows are never changed; erasure may delete
-- a person's rows (and keeps a hashed suppression instead).
CREATE TABLE consent_events (
	id		INTEGER PRIMARY KEY,
	address		TEXT NOT NULL,
	list_id		TEXT,
	event		TEXT NOT NULL,
	source		TEXT,
	evidence	TEXT,
	remote_addr	TEXT,
	user_agent	TEXT,
	occurred_at	INTEGER NOT NULL
);

CREATE INDEX consent_events_address ON consent_events (address, occurred_at);

CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
BEGIN
	SELECT RAISE(ABORT, 'consent_events is append-only');
END;

-- One row per blocked recipient of a quarantined message; spool_file is
-- relative to QuarantineDir and may be shared by several rows.
CREATE TABLE quarantine (
	id		INTEGER PRIMARY KEY,
	queue_id	TEXT,
	message_id	TEXT,
	sender		TEXT,
	recipient	TEXT NOT NULL,
	list_id		TEXT,
	reason		TEXT NOT NULL,
	spool_file	TEXT NOT NULL,
	received_at	INTEGER NOT NULL,
	released_at	INTEGER
);

CREATE INDEX quarantine_recipient ON quarantine (recipient);
CREATE INDEX quarantine_received ON quarantine (received_at);
CREATE INDEX quarantine_spool ON quarantine (spool_file);

PRAGMA user_version = 1;
