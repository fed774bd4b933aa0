-- sqlite-002-feedback.sql - schema version 1 -> 2: bounces and complaints
-- (DESIGN "Feedback: bounces and complaints").  Compiled into
-- milter/store/store_sqlite.c (migrations[]; tests/unit/test_store.c
-- compares the two).
--
-- feedback: one row per report optin-feedback read, acted on or not.
-- address is NULL when the report named nobody we could trust; kind is
-- hard_bounce, soft_bounce, policy_bounce, complaint, auto_reply or
-- unusable; acted says whether it changed consent.  The evidence columns are
-- the report's own words (reporting MTA, RFC 3463 status, diagnostic text,
-- arrival date) and are never trusted for identity.
CREATE TABLE feedback (
	id		INTEGER PRIMARY KEY,
	address		TEXT,
	list_id		TEXT,
	campaign	TEXT,
	kind		TEXT NOT NULL
			CHECK (kind IN ('hard_bounce', 'soft_bounce',
			    'policy_bounce', 'complaint', 'auto_reply',
			    'unusable')),
	status		TEXT,
	reporting_mta	TEXT,
	diagnostic	TEXT,
	arrival		TEXT,
	identity	TEXT NOT NULL,
	acted		INTEGER NOT NULL DEFAULT 0 CHECK (acted IN (0, 1)),
	received_at	INTEGER NOT NULL
);

CREATE INDEX feedback_address ON feedback (address, kind, received_at);
CREATE INDEX feedback_campaign ON feedback (campaign, kind, received_at);

-- Campaigns paused by too many policy refusals, until optinctl campaign
-- resume deletes the row.
CREATE TABLE campaign_pauses (
	campaign	TEXT PRIMARY KEY NOT NULL,
	reason		TEXT NOT NULL,
	paused_at	INTEGER NOT NULL
) WITHOUT ROWID;

-- Copies sent per campaign and list (the milter adds to it; the base of the
-- bounce and complaint rates).
CREATE TABLE campaign_sent (
	campaign	TEXT NOT NULL,
	list_id		TEXT NOT NULL,
	sent		INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (campaign, list_id)
) WITHOUT ROWID;

PRAGMA user_version = 2;
