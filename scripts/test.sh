#!/usr/bin/env bash
# Builds libreferral and runs every test: the Criterion suites, the CLI
# end-to-end tests, the Python binding tests and the examples' checks.
#   ./scripts/test.sh              normal build (build/), stores in SQLite files
#   ./scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   ./scripts/test.sh --postgres   the same whole suite with every store a brand of a
#                                  PostgreSQL database (build/): a local server is started
#                                  if needed (scripts/pg-cluster.sh); REFERRAL_TEST_PG
#                                  names another
#   ./scripts/test.sh --sanitize --postgres   both at once (build-asan/)
# Arguments after the options go to ctest (say -R REGEX to run some suites).
# REFERRAL_TEST_PG is the one switch: tests/support.c (test_db_path) and
# tests/python/engine.py (store_name, also for tests/e2e) make each store a
# brand of that database when it is set. What only means something on a
# SQLite file skips itself there, saying "SQLite only: ..." (ctest still
# counts such a test as passed): the fault-injection loops (faults_*: SQLite's
# allocator, VFS and locks; test_pg_faults is PostgreSQL's), SQLite's schema
# migrations and WAL (test_store), its file locks (test_findings' two busy
# messages), a file of other data, of text or empty (test_store,
# test_findings, e2e_test_hostile; another program's schema is tested on
# PostgreSQL instead) and a file on a read-only file system
# (e2e_test_readonly; e2e_test_postgres_roles checks a role's rights
# instead). No Python binding test is SQLite only. The suites that touch no
# store (test_decimal, test_time, test_plan, e2e_test_fixtures,
# e2e_test_versioning, the symbol checks) run as they are; test_postgres,
# test_pg_faults and the e2e_test_postgres* skip themselves on SQLite.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"

sanitize=0 postgres=0
while [ $# -gt 0 ]; do
	case $1 in
	--sanitize) sanitize=1 ;;
	--postgres) postgres=1 ;;
	*) break ;;
	esac
	shift
done

build="$root/build"
opts=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ $sanitize = 1 ]; then
	build="$root/build-asan"
	opts=(-DCMAKE_BUILD_TYPE=Debug -DREFERRAL_SANITIZE=ON)
	# ctypes loads the library into an uninstrumented python: preload the runtime
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
# the Python suites run on Debian's python3, which sees Debian's pandas
[ -x /usr/bin/python3 ] && opts+=(-DPython3_EXECUTABLE=/usr/bin/python3)
cmake -S "$root" -B "$build" "${opts[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
if [ $postgres = 1 ]; then
	REFERRAL_TEST_PG=$("$root/scripts/pg-cluster.sh")
	export REFERRAL_TEST_PG
	echo "PostgreSQL pass on $REFERRAL_TEST_PG" >&2
	# every brand the suites make is dropped by them: t_PID_N (Criterion),
	# e2e_PID_... (tests/e2e), py_PID_... (tests/python), roles_PID and its
	# roles (test_postgres_roles.py), t_ingest_PID (test_postgres.c). These
	# drop what a crashed run left behind: the brands and roles of processes
	# that are gone (another checkout may be testing on the same server)
	drop_test_brands() {
		local name kind pid
		psql -X -Atq -d "$REFERRAL_TEST_PG" -F ' ' -c "
			SELECT nspname, 'SCHEMA' FROM pg_namespace
			WHERE nspname ~ '^(t|e2e|py|roles)_[0-9]+(_[a-z0-9_]*)?\$'
			UNION ALL SELECT rolname, 'ROLE' FROM pg_roles
			WHERE rolname ~ '^(t_ingest_[0-9]+|roles_[0-9]+_(ingest|finance|auditor))\$'" |
			while read -r name kind; do
				[[ $name =~ _([0-9]+) ]] && pid=${BASH_REMATCH[1]}
				[ -d "/proc/$pid" ] && continue
				if [ "$kind" = SCHEMA ]; then
					psql -X -q -d "$REFERRAL_TEST_PG" -c "SET client_min_messages = warning;
						DROP SCHEMA \"$name\" CASCADE" || true
				else
					psql -X -q -d "$REFERRAL_TEST_PG" -c "DROP OWNED BY \"$name\";
						DROP ROLE \"$name\"" || true
				fi
			done || true
	}
	drop_test_brands
	trap drop_test_brands EXIT
fi
ctest --output-on-failure -j2 "$@"
