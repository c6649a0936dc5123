#!/usr/bin/env bash
# Makes sure a local PostgreSQL server runs and holds the test database:
# starts Debian's cluster (pg_ctlcluster, the first one pg_lsclusters lists;
# 15/main by default) if it is down, then creates the role of the user
# running the tests (a superuser) and the database referral_test if missing,
# as the postgres user. Prints the URI of the database. Needs root (or sudo)
# for the cluster; does nothing when REFERRAL_TEST_PG is already set.
set -euo pipefail
if [ -n "${REFERRAL_TEST_PG:-}" ]; then
	echo "$REFERRAL_TEST_PG"
	exit 0
fi
if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
cluster=$(pg_lsclusters -h 2>/dev/null | awk 'NR == 1 { print $1 " " $2 }')
[ -n "$cluster" ] || cluster="15 main"
as_postgres() { "${sudo[@]}" runuser -u postgres -- "$@"; }
if ! pg_isready -q; then
	# shellcheck disable=SC2086
	"${sudo[@]}" pg_ctlcluster $cluster start >&2
	for _ in $(seq 1 50); do pg_isready -q && break; sleep 0.2; done
else
	# a server left running across an upgrade of its package runs the old
	# binary against the new libraries (PL/pgSQL fails to load): restart it
	running=$(as_postgres psql -Atqc "SHOW server_version" | awk '{ print $1 }')
	installed=$("/usr/lib/postgresql/${cluster%% *}/bin/postgres" --version 2>/dev/null | awk '{ print $3 }')
	if [ -n "$installed" ] && [ "$running" != "$installed" ]; then
		echo "pg-cluster.sh: the server runs $running, the package is $installed: restarting it" >&2
		# shellcheck disable=SC2086
		"${sudo[@]}" pg_ctlcluster $cluster restart >&2
		for _ in $(seq 1 50); do pg_isready -q && break; sleep 0.2; done
	fi
fi
me=$(id -un)
if [ "$(as_postgres psql -Atqc "SELECT 1 FROM pg_roles WHERE rolname = '$me'")" != 1 ]; then
	as_postgres psql -qc "CREATE ROLE \"$me\" LOGIN SUPERUSER" >&2
fi
if [ "$(as_postgres psql -Atqc "SELECT 1 FROM pg_database WHERE datname = 'referral_test'")" != 1 ]; then
	as_postgres createdb -O "$me" referral_test >&2
fi
echo "postgresql:///referral_test"
