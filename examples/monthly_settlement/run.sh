#!/usr/bin/env bash
# The month end as finance runs it, on a small generated brand, with the
# `referral` command: January and February 2026, one late refund.
#
#   ./examples/monthly_settlement/run.sh [OUTPUT_DIR [STORE]]
#
# OUTPUT_DIR (default: a new temporary directory, kept) receives
#   data/      the generated event batches (.jsonl)
#   brand.db   the settlement store (SQLite), unless STORE names another:
#              a file, or a brand on a PostgreSQL server
#              ('postgresql://finance@db1/referral?brand=acme'), made anew
#   export/    statements.csv, lines.csv, grades.csv, members.csv,
#              payouts.csv, stores.csv, distributors.csv, tree.csv, tree.dot
#              and draft-2026-01-statements.csv
#   report-2026-02.html   February's month end as a page to open or print
# It must not hold the store already. The `referral` command is taken from
# $REFERRAL_CLI, else `referral` on PATH, else ../../build/referral.
# Any failing step stops the run with a non-zero exit status.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-python3}

if [ -n "${REFERRAL_CLI:-}" ]; then
	cli=$REFERRAL_CLI
elif command -v referral >/dev/null 2>&1; then
	cli=$(command -v referral)
else
	cli=$here/../../build/referral
fi
if [ ! -x "$cli" ]; then
	echo "run.sh: no referral command at '$cli': build it first" \
	     "(cmake -S . -B build && cmake --build build) or set REFERRAL_CLI" >&2
	exit 2
fi

out=${1:-}
if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/monthly-settlement.XXXXXX")
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
db=${2:-$out/brand.db}
data=$out/data
export_dir=$out/export
if [ -e "$db" ]; then # a brand that exists already, init refuses
	echo "run.sh: $db already exists: give an empty output directory or a new store" >&2
	exit 2
fi
mkdir -p "$data" "$export_dir"

step() { printf '\n>>> %s\n' "$*"; }
referral() { "$cli" "$@"; }

echo "Monthly settlement example: January and February 2026"
echo "referral: $cli ($("$cli" --version))"
echo "output:   $out"

step "Generate the brand's event batches (fixed seed: the same files every run)"
"$python" "$here/generate.py" --out "$data"

step "Create the store with the plan: the reference grades, a 7-day refund window, China's 劳务报酬 withholding"
referral init "$db" --plan "$here/plan.json"

step "Ingest January"
referral ingest "$db" "$data/2026-01.jsonl"

step "Settle January as a draft and review it"
referral settle "$db" 2026-01
referral export "$db" statements --period 2026-01 >"$export_dir/draft-2026-01-statements.csv"
"$python" "$here/report.py" review "$export_dir/draft-2026-01-statements.csv" --events "$data"

step "Close January (freeze its statements, grade, open February)"
referral close "$db" 2026-01

step "Re-sending January's batch is harmless: every event is a duplicate"
referral ingest "$db" "$data/2026-01.jsonl"

step "Ingest February, then a refund dated 29 January that arrived late"
referral ingest "$db" "$data/2026-02.jsonl"
referral ingest "$db" "$data/2026-01-late-refund.jsonl"
echo "(January is closed, so the late refund is booked into February)"

step "Close February"
referral close "$db" 2026-02

step "Export statements, lines, grades, members, the payouts and the network to CSV"
for table in statements lines grades members payouts stores distributors tree; do
	referral export "$db" "$table" >"$export_dir/$table.csv"
	printf '  %-16s %5d rows\n' "$table.csv" $(($(wc -l <"$export_dir/$table.csv") - 1))
done

referral export "$db" tree --format dot >"$export_dir/tree.dot"

step "Verify: re-derive every closed month from the event log"
referral verify "$db"

step "How one statement came about: the anchor mom in February"
referral explain "$db" anchor-mom-A --period 2026-02

step "February's month end as a page (open it in a browser, print it, send it)"
referral report "$db" --period 2026-02 --output "$out/report-2026-02.html"

step "The statements"
"$python" "$here/report.py" final "$export_dir" --events "$data"

echo
echo "Done. The batches and the CSV files are in $out (the store too, unless given)"
echo "The month-end page: $out/report-2026-02.html"
