#!/bin/sh
# build.sh - configure and build optin-milter in the source tree, quietly.
# Runs autoreconf when configure is missing or older than configure.ac or
# Makefile.am, ./configure when the tree is not configured (with
# --enable-werror when CI=true), then make -j2.  Prints only a short status;
# on failure, the tail of the failing step's log.
# Usage: contrib/build.sh [extra ./configure options]

set -eu
cd "$(dirname "$0")/.."
logdir=$(mktemp -d /tmp/optin-build.XXXXXX)
trap 'rm -rf "$logdir"' EXIT

# step NAME COMMAND... - run quietly; on failure show the log tail and stop
step()
{
	name=$1
	shift
	if ! "$@" >"$logdir/$name.log" 2>&1; then
		echo "build: $name failed: $*" >&2
		tail -n 40 "$logdir/$name.log" >&2
		exit 1
	fi
}

# newer A B - true if file A is newer than file B
newer()
{
	[ -n "$(find "$1" -newer "$2" 2>/dev/null)" ]
}

if [ ! -x configure ] || newer configure.ac configure ||
    newer Makefile.am configure; then
	mkdir -p m4 build-aux
	step autoreconf autoreconf -fi
	echo "build: autoreconf done"
fi

werror=""
[ "${CI:-}" = true ] && werror="--enable-werror"
if [ ! -f Makefile ] || [ ! -f config.status ] || newer configure config.status ||
    [ $# -gt 0 ]; then
	# shellcheck disable=SC2086
	step configure ./configure -q $werror "$@"
	echo "build: configured${werror:+ ($werror)}"
fi

step make make -j2
echo "build: make done"
