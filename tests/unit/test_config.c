/*
 * test_config.c - the configuration parser: values, defaults, and errors
 * that name file, line and key (DESIGN "Configuration").
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "config.h"

/* parse - parse text, capturing the error output into err[] */
static struct config *
parse(const char *text, char *err, size_t errlen, int *nerr)
{
	FILE *fp = fmemopen(err, errlen, "w");
	struct config *cfg;

	memset(err, 0, errlen);
	cfg = config_parse("test.conf", text, fp, nerr);
	fclose(fp);
	return cfg;
}

static void
t_defaults(void **state)
{
	char err[1024];
	int nerr;
	struct config *cfg = parse("", err, sizeof(err), &nerr);

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(nerr, 0);
	assert_string_equal(cfg->socket,
	    "local:/run/optin-milter/optin-milter.sock");
	assert_string_equal(cfg->consent_db, "/var/lib/optin-milter/consent.db");
	assert_string_equal(cfg->quarantine_dir,
	    "/var/spool/optin-milter/quarantine");
	assert_string_equal(cfg->campaign_header, "X-Campaign-ID");
	assert_string_equal(cfg->list_header, "X-Campaign-List");
	assert_true(cfg->syslog);
	assert_true(cfg->strip_internal_headers);
	assert_int_equal(cfg->multi_recipient, MULTI_SPLIT);
	assert_string_equal(cfg->sendmail_command, "/usr/sbin/sendmail -i");
	assert_int_equal(cfg->signing_algorithm, SIGALG_RSA);
	assert_false(cfg->sign_all);
	assert_int_equal(cfg->token_lifetime, 400L * 86400);
	assert_int_equal(cfg->on_db_error, ONDBERR_TEMPFAIL);
	assert_int_equal(cfg->quarantine_retention, 30L * 86400);
	assert_int_equal(cfg->log_addresses, LOGADDR_YES);
	assert_string_equal(cfg->unsubscribe_listen, "127.0.0.1:8025");
	assert_int_equal(cfg->spf_check, SPF_WARN);
	assert_int_equal(cfg->mode, MODE_ENFORCE);
	assert_null(cfg->default_list);
	config_free(&cfg);
	assert_null(cfg);
	config_free(&cfg);	/* accepts NULL */
}

static void
t_values(void **state)
{
	char err[1024];
	int nerr;
	struct config *cfg = parse(
	    "# a comment\n"
	    "socket inet:8891@127.0.0.1   # keys are case-insensitive\n"
	    "\n"
	    "CampaignSenders news@example.com, @campaigns.example.com crm@x.example\r\n"
	    "Mode monitor\n"
	    "MultiRecipientCampaign defer\n"
	    "TokenLifetime 2w\n"
	    "QuarantineRetention 36h\n"
	    "SignAll yes\n"
	    "DBBusyTimeout 250\n",
	    err, sizeof(err), &nerr);

	(void)state;
	assert_non_null(cfg);
	assert_string_equal(cfg->socket, "inet:8891@127.0.0.1");
	assert_int_equal(cfg->campaign_senders.n, 3);
	assert_string_equal(cfg->campaign_senders.v[1], "@campaigns.example.com");
	assert_string_equal(cfg->campaign_senders.v[2], "crm@x.example");
	assert_null(cfg->campaign_senders.v[3]);
	assert_true(cfg_list_has(&cfg->campaign_senders, "NEWS@example.com"));
	assert_int_equal(cfg->mode, MODE_MONITOR);
	assert_int_equal(cfg->multi_recipient, MULTI_DEFER);
	assert_int_equal(cfg->token_lifetime, 14L * 86400);
	assert_int_equal(cfg->quarantine_retention, 36L * 3600);
	assert_true(cfg->sign_all);
	assert_int_equal(cfg->db_busy_timeout, 250);
	config_free(&cfg);
}

static const struct {
	const char *label, *text, *want;	/* want: substring of errors */
} bad[] = {
	{ "unknown key", "Mode enforce\nFrobnicate yes\n",
	  "test.conf:2: Frobnicate: unknown key" },
	{ "bad enum", "Mode sometimes\n",
	  "test.conf:1: Mode: bad value 'sometimes' (expected enforce or monitor)" },
	{ "bad bool", "SignAll perhaps\n",
	  "test.conf:1: SignAll: bad value 'perhaps' (expected yes or no)" },
	{ "bad duration", "TokenLifetime 3x\n",
	  "test.conf:1: TokenLifetime: bad value '3x'" },
	{ "duration out of range", "TokenLifetime 0d\n",
	  "test.conf:1: TokenLifetime: bad value '0d' (expected a duration such "
	  "as 30d, 12h, 5m or 90s, from 1d to 3650d)" },
	{ "duration range in seconds", "HTTPRequestTimeout 2h\n",
	  "HTTPRequestTimeout: bad value '2h' (expected a duration such as 30d, "
	  "12h, 5m or 90s, from 1s to 1h)" },
	{ "duration range in minutes and days", "PolicyBounceWindow 30s\n",
	  "from 1m to 7d)" },
	{ "number out of range", "DBBusyTimeout 999999999\n",
	  "test.conf:1: DBBusyTimeout: bad value '999999999' (expected a number "
	  "from 0 to 600000)" },
	{ "key twice", "Mode monitor\nMode enforce\n",
	  "test.conf:2: Mode: key given twice" },
	{ "no value", "Socket\n", "test.conf:1: Socket: no value" },
	{ "no value, checked key", "SyslogFacility\n",
	  "test.conf:1: SyslogFacility: no value" },
	{ "url not https", "TokenKeyFile /k\nUnsubscribeURL ftp://x/%t\n",
	  "UnsubscribeURL: must start with https://" },
	{ "url without token", "TokenKeyFile /k\nUnsubscribeURL https://x/u\n",
	  "UnsubscribeURL: must contain %t" },
	{ "url without key file", "UnsubscribeURL https://x/u/%t\n",
	  "TokenKeyFile: needed by UnsubscribeURL" },
	{ "keyfile without selector", "KeyFile /k\nDomain example.com\n",
	  "KeyFile: KeyFile, Domain and Selector go together" },
	{ "key table alone", "KeyTable /kt\n",
	  "KeyTable: KeyTable and SigningTable go together" },
	{ "control character", "Mode\001 x\n", "test.conf:1: control character" },
	{ "url error names its line", "TokenKeyFile /k\n\nUnsubscribeURL https://x/u\n",
	  "test.conf:3: UnsubscribeURL: must contain %t" },
	{ "bad socket", "Socket wat:foo\n", "test.conf:1: Socket: bad value 'wat:foo'" },
	{ "socket port out of range", "Socket inet:99999@127.0.0.1\n",
	  "test.conf:1: Socket: bad value" },
	{ "bad default list", "DefaultList bad/list!\n",
	  "test.conf:1: DefaultList: bad value 'bad/list!'" },
	{ "bad selector", "Selector bad;x\n", "test.conf:1: Selector: bad value" },
	{ "bad domain", "Domain ex..ample.com\n", "test.conf:1: Domain: bad value" },
	{ "bad header name", "ListHeader X-List:\n", "test.conf:1: ListHeader: bad value" },
	{ "bad template escape", "TokenKeyFile /k\nUnsubscribeURL https://x/u/%t%s\n",
	  "test.conf:2: UnsubscribeURL: bad value" },
	{ "bad outbound ip", "OutboundIP 192.0.2.1, 1.2.3.999\n",
	  "test.conf:1: OutboundIP: bad value '1.2.3.999'" },
	{ "bad campaign sender", "CampaignSenders news@example.com, a@@b\n",
	  "test.conf:1: CampaignSenders: bad value 'a@@b'" },
	{ "list of separators only", "CampaignSenders ,,,\n",
	  "test.conf:1: CampaignSenders: bad value ',,,' (expected one or more entries" },
	{ "empty list after a comment", "OutboundIP , # none\n",
	  "test.conf:1: OutboundIP: bad value ','" },
	{ "bad facility", "SyslogFacility bogus\n",
	  "test.conf:1: SyslogFacility: bad value 'bogus'" },
};

static void
t_errors(void **state)
{
	char err[2048];
	size_t i;
	int nerr;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config *cfg = parse(bad[i].text, err, sizeof(err), &nerr);

		if (cfg != NULL || nerr == 0)
			CASE_FAIL(bad[i].label, "accepted, want an error");
		else if (strstr(err, bad[i].want) == NULL)
			CASE_FAIL(bad[i].label, "got '%s', want '%s'", err,
			    bad[i].want);
		config_free(&cfg);
	}
}

static void
t_all_errors_reported(void **state)
{
	char err[2048];
	int nerr;
	struct config *cfg = parse("Mode x\nSignAll y\nFoo 1\n", err,
	    sizeof(err), &nerr);

	(void)state;
	assert_null(cfg);
	assert_int_equal(nerr, 3);
	assert_non_null(strstr(err, "test.conf:1:"));
	assert_non_null(strstr(err, "test.conf:2:"));
	assert_non_null(strstr(err, "test.conf:3:"));
}

static void
t_missing_file(void **state)
{
	char err[1024];
	int nerr;
	FILE *fp = fmemopen(err, sizeof(err), "w");
	struct config *cfg = config_load("/nonexistent/optin.conf", fp, &nerr);

	(void)state;
	fclose(fp);
	assert_null(cfg);
	assert_int_equal(nerr, 1);
	assert_non_null(strstr(err, "/nonexistent/optin.conf: cannot open"));
}

static void
t_not_a_file(void **state)
{
	char err[1024];
	int nerr;
	FILE *fp = fmemopen(err, sizeof(err), "w");
	struct config *cfg = config_load("/tmp", fp, &nerr);

	(void)state;
	fclose(fp);
	assert_null(cfg);
	assert_non_null(strstr(err, "/tmp: not a regular file"));
}

/* a NUL byte is named with its line (it was "NUL byte in file") */
static void
t_nul_byte(void **state)
{
	static const char text[] = "Syslog no\nMode enf\0orce\n";
	char path[] = "/tmp/test_config.XXXXXX", err[1024];
	int fd, nerr;
	FILE *fp;
	struct config *cfg;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1),
	    (ssize_t)(sizeof(text) - 1));
	(void)close(fd);
	fp = fmemopen(err, sizeof(err), "w");
	cfg = config_load(path, fp, &nerr);
	fclose(fp);
	(void)unlink(path);
	assert_null(cfg);
	assert_int_equal(nerr, 1);
	assert_non_null(strstr(err, ":2: NUL byte in line"));
}

static void
t_key_table(void **state)
{
	size_t i;

	(void)state;
	assert_true(config_key_count() > 30);
	for (i = 0; i < config_key_count(); i++)
		assert_non_null(config_key_name(i));
	assert_null(config_key_name(config_key_count()));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_defaults),
		cmocka_unit_test(t_values),
		cmocka_unit_test(t_errors),
		cmocka_unit_test(t_all_errors_reported),
		cmocka_unit_test(t_missing_file),
		cmocka_unit_test(t_not_a_file),
		cmocka_unit_test(t_nul_byte),
		cmocka_unit_test(t_key_table),
	};

	return HARNESS_RUN("config", tests);
}
