/*
 * spf_helper.c - optin-spf-helper: evaluates inbound SPF for optin-milter
 * in separate, unprivileged, time-limited processes.
 *
 * Started by spf_checker_new() with its control socket on fd 3; becomes
 * "nobody" when started as root and forks one child per verdict.  All the
 * work is in spf_helper_server.c (spf_helper_main), in milter/spf, the
 * only folder that includes libspf2.
 */
#include "autoconf.h"

#include "spf.h"

int
main(int argc, char **argv)
{
	return spf_helper_main(argc, argv);
}
