/*
 * ctl_export.c - optinctl verb "export-list" (DESIGN "optinctl"): a list,
 * or all opt-outs, as CSV on standard output: Vtiger's columns by default,
 * for the CRM's import, or the optin columns (--format csv), which import
 * (ctl_import.c) reads back unchanged.  Single-threaded.
 */
#include "autoconf.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "consent.h"
#include "csv.h"
#include "ctl.h"
#include "store.h"

enum { OPT_FORMAT = 1, OPT_OPTOUTS };

static const struct option export_opts[] = {
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "opt-outs", no_argument, NULL, OPT_OPTOUTS },
	{ NULL, 0, NULL, 0 }
};

struct export_ctx {
	const struct ctl *c;
	bool vtiger;
	unsigned long n;
};

/* member_one - one subscription of the list */
static int
member_one(const struct store_member *m, void *arg)
{
	struct export_ctx *x = arg;
	char t[32];

	if (x->c->json) {
		fputs(x->n > 0 ? ",{\"address\":" : "{\"address\":", stdout);
		ctl_json_str(stdout, m->addr);
		fputs(",\"list\":", stdout);
		ctl_json_str(stdout, m->list);
		printf(",\"status\":\"%s\",\"source\":",
		    sub_status_str(m->status));
		ctl_json_str(stdout, m->source);
		printf(",\"updated_at\":%lld,\"suppressed\":%s}",
		    (long long)m->updated_at, m->suppressed ? "true" :
		    "false");
	} else if (x->vtiger) {
		csv_put(stdout, m->addr);
		printf(",%s\r\n", m->status == SUB_OPTED_OUT || m->suppressed ?
		    "1" : "0");
	} else {
		csv_put(stdout, m->addr);
		fputc(',', stdout);
		csv_put(stdout, m->list);
		printf(",%s,", sub_status_str(m->status));
		csv_put(stdout, m->source);
		printf(",%s\r\n", ctl_iso_time(m->updated_at, t));
	}
	x->n++;
	return 0;
}

/* optout_one - one opted-out or suppressed address (Vtiger format) */
static int
optout_one(const char *addr, void *arg)
{
	struct export_ctx *x = arg;

	if (x->c->json) {
		fputs(x->n > 0 ? "," : "", stdout);
		ctl_json_str(stdout, addr);
	} else {
		csv_put(stdout, addr);
		fputs(",1\r\n", stdout);
	}
	x->n++;
	return 0;
}

int
ctl_export_list(struct ctl *c, int argc, char **argv)
{
	struct export_ctx x = { c, true, 0 };
	const char *list = NULL;
	enum store_status rs;
	bool opt_outs = false;
	char why[512];
	int ch;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":", export_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_FORMAT:
			if (strcmp(optarg, "vtiger") == 0)
				x.vtiger = true;
			else if (strcmp(optarg, "csv") == 0)
				x.vtiger = false;
			else {
				fprintf(stderr, "optinctl export-list: "
				    "--format is vtiger or csv\n");
				return EX_USAGE;
			}
			break;
		case OPT_OPTOUTS:
			opt_outs = true;
			break;
		default:
			return ctl_bad_option("export-list", ch, argv);
		}
	}
	if (argc - optind > 1 || (argc - optind == 0 && !opt_outs))
		return ctl_usage("export-list");
	if (argc - optind == 1)
		list = argv[optind];
	if (list != NULL && ctl_list_arg("export-list", "LIST", list) !=
	    EX_OK)
		return EX_USAGE;
	(void)ctl_store(c, STORE_READONLY);
	if (list != NULL) {
		rs = store_list_exists(c->st, list, NULL, why, sizeof(why));
		if (rs == STORE_NOTFOUND) {
			fprintf(stderr, "optinctl: no such list '%s'\n",
			    list);
			return EX_DATAERR;
		}
		if (rs != STORE_OK)
			return ctl_fail(rs, why);
	}
	if ((rs = store_begin_read(c->st, why, sizeof(why))) != STORE_OK)
		return ctl_fail(rs, why);
	if (c->json) {
		fputs("{\"list\":", stdout);
		ctl_json_str(stdout, list);
		printf(",\"opt_outs\":%s,\"%s\":[", opt_outs ? "true" :
		    "false", opt_outs && x.vtiger ? "addresses" :
		    "subscriptions");
	} else if (x.vtiger)
		fputs("Email,Email Opt Out\r\n", stdout);
	else
		fputs("address,list,status,source,updated_at\r\n", stdout);
	if (opt_outs && x.vtiger)
		rs = store_opt_out_addrs(c->st, list, optout_one, &x, why,
		    sizeof(why));
	else
		rs = store_members(c->st, list, opt_outs, member_one, &x, why,
		    sizeof(why));
	store_rollback(c->st);
	if (c->json)
		fputs("]}\n", stdout);
	return rs == STORE_OK ? EX_OK : ctl_fail(rs, why);
}
