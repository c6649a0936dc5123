#!/usr/bin/env bash
# Runs the worked example through the CLI and the Criterion suites under
# valgrind; any error or leak fails. Expects a build in build/ (scripts/test.sh).
#   ./scripts/valgrind.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible
    --error-exitcode=99 --trace-children=yes)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The worked example (tests/fixtures/basic): a missing one fails the run.
example="$root/tests/fixtures/basic"
[ -f "$example/script.txt" ] || { echo "valgrind: no worked example at $example" >&2; exit 1; }
cli="$build/referral"
(
	cd "$example"
	while read -r cmd args; do
		[ -n "$cmd" ] || continue
		# shellcheck disable=SC2086
		case "$cmd" in
		init) "${vg[@]}" "$cli" init "$work/basic.db" --plan $args ;;
		verify) "${vg[@]}" "$cli" verify "$work/basic.db" >/dev/null ;;
		*) "${vg[@]}" "$cli" "$cmd" "$work/basic.db" $args >/dev/null ;;
		esac
	done <script.txt
	for t in statements lines grades members payouts stores distributors tree; do
		"${vg[@]}" "$cli" export "$work/basic.db" "$t" --format json >/dev/null
	done
	"${vg[@]}" "$cli" export "$work/basic.db" tree --format dot >/dev/null
	"${vg[@]}" "$cli" explain "$work/basic.db" D1 --period 2026-02 >/dev/null
	"${vg[@]}" "$cli" explain "$work/basic.db" D1 --period 2026-02 --format json >/dev/null
	"${vg[@]}" "$cli" report "$work/basic.db" --period 2026-03 --output "$work/report.html"
)
echo "valgrind: the worked example is clean"

# The suites that drive the store through whole scenarios. The rule tables
# (test_ingest, test_plan, test_decimal, test_time) and the generated logs of
# test_properties run under AddressSanitizer with leak checking instead
# (./scripts/test.sh --sanitize), which is many times faster than valgrind.
for t in "$build"/tests/test_store "$build"/tests/test_points "$build"/tests/test_settle \
	"$build"/tests/test_release "$build"/tests/test_month_end; do
	[ -x "$t" ] || continue
	"${vg[@]}" "$t" --jobs 1 >/dev/null 2>"$work/log" || { cat "$work/log"; exit 1; }
	echo "valgrind: $(basename "$t") is clean"
done
