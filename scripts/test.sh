#!/usr/bin/env bash
# Builds libreferral and runs every test: the Criterion suites, the CLI
# end-to-end tests, the Python binding tests and the examples' checks.
#   ./scripts/test.sh              normal build (build/)
#   ./scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   ./scripts/test.sh --postgres   the store and settlement suites, and test_postgres, on a PostgreSQL
#                                  store (build/): a local server is started if needed
#                                  (scripts/pg-cluster.sh); REFERRAL_TEST_PG names another
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"

build="$root/build"
opts=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
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
if [ "${1:-}" = "--postgres" ]; then
	REFERRAL_TEST_PG=$("$root/scripts/pg-cluster.sh")
	export REFERRAL_TEST_PG
	echo "PostgreSQL pass on $REFERRAL_TEST_PG" >&2
	# every brand the suites make is dropped by them; these are what a
	# crashed run left behind
	drop_test_brands() {
		psql -q -d "$REFERRAL_TEST_PG" -c "DO \$\$DECLARE s name; BEGIN FOR s IN
			SELECT nspname FROM pg_namespace WHERE nspname ~ '^(t|e2e)_[0-9]+_[0-9]+\$'
			LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END\$\$" || true
	}
	drop_test_brands
	trap drop_test_brands EXIT
	ctest --output-on-failure -j2 -R \
		'^(prepare_tmpdir|test_store|test_settle|test_release|test_properties|test_month_end|test_points|test_ingest|test_postgres|test_pg_faults|e2e_test_postgres|e2e_test_postgres_roles|e2e_test_crash|e2e_test_batch_lookups|python_test_payouts|python_test_month_end|python_test_pandas)$'
	exit
fi
ctest --output-on-failure -j2
