/*
 * handover.c - split copies and quarantine rows once per message and
 * recipient across the MTA's retries (handover.h).
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "buf.h"
#include "campaign.h"
#include "config.h"
#include "feedbackhdr.h"
#include "handover.h"
#include "log.h"
#include "store.h"

#define WHY 512

/* put - append "name=LEN:value\n" (value NULL: "name=-\n"); 0 / -1 */
static int
put(struct buf *b, const char *name, const char *value)
{
	char head[64];

	if (value == NULL)
		snprintf(head, sizeof(head), "%s=-\n", name);
	else
		snprintf(head, sizeof(head), "%s=%zu:", name, strlen(value));
	if (buf_puts(b, head) < 0)
		return -1;
	if (value != NULL && (buf_puts(b, value) < 0 || buf_puts(b, "\n") < 0))
		return -1;
	return 0;
}

int
handover_key(struct conn *c, char key[MARK_HEX_MAX])
{
	struct msg *m = &c->msg;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	struct buf b = { NULL, 0, 0 };
	unsigned int i;
	int rc = -1;

	if (c->rt->ring == NULL)
		return -1;
	if (EVP_Digest(m->body.data, m->body.len, md, &mdlen, EVP_sha256(),
	    NULL) != 1)
		return -1;
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	/* the client's own header fields only: what the milter adds when
	 * they are missing differs between attempts */
	if (put(&b, "sender", m->sender != NULL ? m->sender : "") == 0 &&
	    put(&b, "message-id", msg_header(m, "Message-ID")) == 0 &&
	    put(&b, "date", msg_header(m, "Date")) == 0 &&
	    put(&b, "list", m->list) == 0 &&
	    put(&b, "campaign", fbhdr_campaign(c)) == 0 &&
	    put(&b, "body-sha256", hex) == 0 &&
	    put(&b, "split", msg_header(m, CAMPAIGN_SPLIT_HEADER)) == 0 &&
	    put(&b, "release", msg_header(m, CAMPAIGN_RELEASE_HEADER)) == 0)
		rc = mark_make(c->rt->ring, MARK_HANDOVER, b.data, b.len, key);
	buf_free(&b);
	return rc;
}

/* judge - what an existing record old of another attempt means now */
static enum handover_go
judge(struct conn *c, const struct store_handover *old, time_t now)
{
	struct msg *m = &c->msg;

	switch (old->state) {
	case STORE_HANDOVER_NONE:
		return HANDOVER_GO;
	case STORE_HANDOVER_DONE:
	case STORE_HANDOVER_QUARANTINED:
		log_info("%s: split copy already %s by an earlier attempt "
		    "(queue id %s): not sent again", m->qid, old->state ==
		    STORE_HANDOVER_DONE ? "handed over" : "quarantined",
		    old->queue_id);
		return HANDOVER_SKIP;
	default:
		break;
	}
	if (now - old->claimed_at < c->rt->cfg->split_handover_wait) {
		log_warnx("%s: split copy being handed over by another attempt "
		    "(queue id %s, %llds ago): deferred", m->qid, old->queue_id,
		    (long long)(now - old->claimed_at));
		return HANDOVER_BUSY;
	}
	log_warnx("%s: split copy claimed by attempt %s %llds ago and never "
	    "marked handed over (killed during the hand-over?): held as "
	    "handover_unknown, not sent again", m->qid, old->queue_id,
	    (long long)(now - old->claimed_at));
	return HANDOVER_UNKNOWN;
}

void
handover_claim_batch(struct conn *c, const char *key,
    const char *const *rcpts, size_t n, enum handover_go *go_r)
{
	struct msg *m = &c->msg;
	struct store_handover old[HANDOVER_BATCH];
	char why[WHY];
	time_t now = time(NULL);
	size_t i;
	bool tf;

	for (i = 0; i < n; i++)
		go_r[i] = key == NULL ? HANDOVER_GO : HANDOVER_FAIL;
	if (key == NULL || n == 0)
		return;
	if (conn_store(c, &tf, why, sizeof(why)) == NULL ||
	    store_begin(c->st, why, sizeof(why)) != STORE_OK)
		goto fail;
	for (i = 0; i < n; i++)
		if (store_handover_claim(c->st, key, rcpts[i],
		    STORE_HANDOVER_CLAIMED, m->qid, now, &old[i], why,
		    sizeof(why)) != STORE_OK) {
			store_rollback(c->st);
			goto fail;
		}
	if (store_commit(c->st, why, sizeof(why)) != STORE_OK) {
		store_rollback(c->st);
		goto fail;
	}
	for (i = 0; i < n; i++)
		go_r[i] = judge(c, &old[i], now);
	return;
fail:
	log_err("%s: split hand-over record: %s", m->qid, why);
}

void
handover_done_batch(struct conn *c, const char *key,
    const char *const *rcpts, size_t n)
{
	char why[WHY];
	time_t now = time(NULL);
	size_t i;

	if (key == NULL || n == 0)
		return;
	if (store_begin(c->st, why, sizeof(why)) != STORE_OK)
		goto fail;
	for (i = 0; i < n; i++)
		if (store_handover_set(c->st, key, rcpts[i],
		    STORE_HANDOVER_DONE, now, why, sizeof(why)) != STORE_OK) {
			store_rollback(c->st);
			goto fail;
		}
	if (store_commit(c->st, why, sizeof(why)) == STORE_OK)
		return;
	store_rollback(c->st);
fail:
	log_err("%s: %zu split copies handed over, but not recorded: %s (a "
	    "retry holds them as handover_unknown)", c->msg.qid, n, why);
}

int
handover_quarantine(struct conn *c, const char *key, const char *rcpt,
    char *why, size_t whylen)
{
	struct msg *m = &c->msg;
	struct store_handover old;
	time_t now = time(NULL);

	if (key == NULL)
		return 1;
	if (store_handover_claim(c->st, key, rcpt, STORE_HANDOVER_QUARANTINED,
	    m->qid, now, &old, why, whylen) != STORE_OK)
		return -1;
	switch (old.state) {
	case STORE_HANDOVER_NONE:
		return 1;
	case STORE_HANDOVER_CLAIMED:
		/* a failed or ambiguous hand-over, now held */
		return store_handover_set(c->st, key, rcpt,
		    STORE_HANDOVER_QUARANTINED, now, why, whylen) == STORE_OK ?
		    1 : -1;
	default:
		log_info("%s: quarantine row already %s by an earlier attempt "
		    "(queue id %s): not written again", m->qid, old.state ==
		    STORE_HANDOVER_DONE ? "handed over" : "written",
		    old.queue_id);
		return 0;
	}
}
