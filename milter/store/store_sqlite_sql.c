/*
 * store_sqlite_sql.c - the text of each prepared statement of the SQLite
 * backend, by enum stmt (store_sqlite.h); store_sqlite.c prepares one on
 * its first use per handle.  Statements that touch data take bound
 * parameters only (?1, ?2, ...).
 */
#include "autoconf.h"

#include "store_sqlite.h"

const char *const sq_stmt_sql[STMT_COUNT] = {
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_SAVEPOINT] = "SAVEPOINT store_op",
	[STMT_RELEASE] = "RELEASE store_op",
	[STMT_ROLLBACK_TO] = "ROLLBACK TO store_op",
	[STMT_LOOKUP] =
	    "SELECT EXISTS (SELECT 1 FROM suppressions WHERE address = ?1),"
	    " (SELECT status FROM subscriptions"
	    " WHERE address = ?1 AND list_id = ?2)",
	[STMT_LIST_GET] = "SELECT double_opt_in, name FROM lists WHERE list_id = ?1",
	[STMT_LIST_ADD] =
	    "INSERT INTO lists (list_id, name, double_opt_in, created_at)"
	    " VALUES (?1, ?2, ?3, ?4)",
	/* one read of subscriptions for all lists: no index by list (schema
	 * version 4) */
	[STMT_LIST_LS] =
	    "SELECT l.list_id, l.name, l.double_opt_in, l.created_at,"
	    " coalesce(c.n_in, 0), coalesce(c.n_pending, 0),"
	    " coalesce(c.n_out, 0) FROM lists l LEFT JOIN"
	    " (SELECT list_id, sum(status = 'opted_in') AS n_in,"
	    " sum(status = 'pending') AS n_pending,"
	    " sum(status = 'opted_out') AS n_out"
	    " FROM subscriptions GROUP BY list_id) c"
	    " ON c.list_id = l.list_id ORDER BY l.list_id",
	[STMT_SUB_SET] =
	    "INSERT INTO subscriptions (address, list_id, status, source,"
	    " updated_at) VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (address, list_id) DO UPDATE SET"
	    " status = excluded.status, source = excluded.source,"
	    " updated_at = excluded.updated_at",
	/* an import's new row: nothing when the row exists (sq_import_set) */
	[STMT_SUB_ADD] =
	    "INSERT INTO subscriptions (address, list_id, status, source,"
	    " updated_at) VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (address, list_id) DO NOTHING",
	[STMT_EVENT_ADD] =
	    "INSERT INTO consent_events (address, list_id, event, source,"
	    " evidence, remote_addr, user_agent, occurred_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STMT_SUPPRESS] =
	    "INSERT INTO suppressions (address, reason, created_at)"
	    " VALUES (?1, ?2, ?3) ON CONFLICT (address) DO NOTHING",
	[STMT_SUPPRESSION] =
	    "SELECT reason, created_at FROM suppressions WHERE address = ?1",
	[STMT_SUBS] =
	    "SELECT list_id, status, source, updated_at FROM subscriptions"
	    " WHERE address = ?1 ORDER BY list_id",
	[STMT_QUARANTINE_ADD] =
	    "INSERT INTO quarantine (queue_id, message_id, sender, recipient,"
	    " list_id, reason, spool_file, received_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STMT_LOOKUP2] =
	    "SELECT EXISTS (SELECT 1 FROM suppressions"
	    " WHERE address IN (?1, ?3)),"
	    " (SELECT status FROM subscriptions"
	    " WHERE address = ?1 AND list_id = ?2)",
	/* STMT_LOOKUP's columns, then erased? (?3, may be NULL) and the
	 * list's name: store_optout_state() */
	[STMT_OPTOUT] =
	    "SELECT EXISTS (SELECT 1 FROM suppressions WHERE address = ?1),"
	    " (SELECT status FROM subscriptions"
	    " WHERE address = ?1 AND list_id = ?2),"
	    " EXISTS (SELECT 1 FROM suppressions WHERE address = ?3),"
	    " (SELECT name FROM lists WHERE list_id = ?2)",
	[STMT_BEGIN_READ] = "BEGIN",
	[STMT_SUB_GET] =
	    "SELECT status, updated_at FROM subscriptions"
	    " WHERE address = ?1 AND list_id = ?2",
	[STMT_SUPP_COUNT] = "SELECT count(*) FROM suppressions WHERE reason = ?1",
	[STMT_EVENTS] =
	    "SELECT id, address, list_id, event, source, evidence,"
	    " remote_addr, user_agent, occurred_at FROM consent_events"
	    " WHERE address = ?1 ORDER BY occurred_at, id",
	[STMT_EVER_IN] =
	    "SELECT EXISTS (SELECT 1 FROM consent_events WHERE address = ?1"
	    " AND list_id = ?2 AND event IN ('opted_in', 'confirmed'))",
	[STMT_DEL_SUBS] = "DELETE FROM subscriptions WHERE address = ?1",
	[STMT_DEL_EVENTS] = "DELETE FROM consent_events WHERE address = ?1",
	[STMT_DEL_QROWS] = "DELETE FROM quarantine WHERE recipient = ?1",
	[STMT_DEL_SUPP] = "DELETE FROM suppressions WHERE address = ?1",
	/* reports about the person, and reports that named nobody but
	 * quote the address in their diagnostic text */
	[STMT_DEL_FEEDBACK] = "DELETE FROM feedback WHERE address = ?1"
	    " OR instr(lower(diagnostic), lower(?1)) > 0",
	[STMT_QLS] =
	    "SELECT id, queue_id, message_id, sender, recipient, list_id,"
	    " reason, spool_file, received_at, released_at FROM quarantine"
	    " WHERE (?1 = 0 OR id = ?1) AND (?2 IS NULL OR reason = ?2)"
	    " AND (?3 IS NULL OR list_id = ?3) AND (?4 IS NULL OR sender = ?4)"
	    " AND (?5 IS NULL OR recipient = ?5)"
	    " AND (?6 = 0 OR received_at < ?6)"
	    " AND (?7 = 0 OR released_at IS NULL)"
	    " AND (?8 IS NULL OR queue_id = ?8) ORDER BY id",
	[STMT_QREL] = "UPDATE quarantine SET released_at = ?2 WHERE id = ?1",
	[STMT_QDEL] = "DELETE FROM quarantine WHERE id = ?1",
	[STMT_SPOOL_REFS] =
	    "SELECT count(*) FROM quarantine WHERE spool_file = ?1",
	[STMT_MEMBERS] =
	    "SELECT s.address, s.list_id, s.status, s.source, s.updated_at,"
	    " EXISTS (SELECT 1 FROM suppressions p"
	    " WHERE p.address = s.address) FROM subscriptions s"
	    " WHERE (?1 IS NULL OR s.list_id = ?1)"
	    " AND (?2 = 0 OR s.status = 'opted_out')"
	    " ORDER BY s.list_id, s.address",
	[STMT_OPTOUT_ADDRS] =
	    "SELECT address FROM subscriptions WHERE status = 'opted_out'"
	    " AND (?1 IS NULL OR list_id = ?1)"
	    " UNION SELECT address FROM suppressions WHERE reason <> 'erased'"
	    " ORDER BY 1",
	[STMT_STATS] =
	    "SELECT 1, 'subscriptions', list_id, status, count(*)"
	    " FROM subscriptions GROUP BY list_id, status"
	    " UNION ALL SELECT 2, 'suppressions', reason, NULL, count(*)"
	    " FROM suppressions GROUP BY reason"
	    " UNION ALL SELECT 3, 'quarantine', reason, CASE WHEN"
	    " released_at IS NULL THEN 'held' ELSE 'released' END, count(*)"
	    " FROM quarantine GROUP BY 3, 4"
	    " UNION ALL SELECT 4, 'events', event, NULL, count(*)"
	    " FROM consent_events WHERE occurred_at >= ?1 GROUP BY event"
	    " ORDER BY 1, 3, 4",
	/* a range on the primary key, not LIKE: the index answers it */
	[STMT_SUPP_PREFIX] =
	    "SELECT EXISTS (SELECT 1 FROM suppressions"
	    " WHERE address >= ?1 AND address < ?2)",
	/* store_sqlite_fb.c: once per campaign message, so kept prepared */
	[STMT_PAUSED] =
	    "SELECT reason, paused_at FROM campaign_pauses WHERE campaign = ?1",
};
