#!/usr/bin/env bash
# bench/run.sh — build the benchmarks, generate the dataset, measure, and
# print a table of medians. See bench/README.md for what each figure means.
#
#   bench/run.sh [--size 1000000|500000|250000] [--runs N] [--work DIR]
#                [--seed S] [--verify-each] [--no-build] [--smoke]
#                [--postgres SERVER]
#
# --size        orders in the measured month (default 1000000); the network
#               and the closed month are the same for every size
# --runs        repetitions of each measurement (default 3); medians shown
# --work        where data, stores and results go (default
#               /tmp/referral-bench, or $REFERRAL_BENCH_WORK)
# --verify-each run `referral verify` after every close, not only the first
# --no-build    use the binaries already in the build directory
# --smoke       a tiny network (1,000 distributors, 20,000 members, 10,000
#               orders a month) to check the script end to end in seconds
# --postgres    also measure the PostgreSQL engine on SERVER, a libpq URI
#               without a database (postgresql:// for the local server),
#               in the same run: bench/postgres.sh
#
# The pre-measured state (network and month 1 ingested, 2026-01 closed) is
# built once per work directory and copied for every run.
set -euo pipefail

SIZE=1000000
RUNS=3
SEED=20260201
WORK=${REFERRAL_BENCH_WORK:-/tmp/referral-bench}
VERIFY_EACH=0
BUILD_IT=1
SMOKE=0
PG_SERVER=
while [ $# -gt 0 ]; do
	case $1 in
	--size) SIZE=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--work) WORK=$2; shift 2 ;;
	--seed) SEED=$2; shift 2 ;;
	--verify-each) VERIFY_EACH=1; shift ;;
	--no-build) BUILD_IT=0; shift ;;
	--smoke) SMOKE=1; shift ;;
	--postgres) PG_SERVER=$2; shift 2 ;;
	-h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case $SIZE in ''|*[!0-9]*) echo "run.sh: --size: expected a number" >&2; exit 2 ;; esac
case $RUNS in ''|*[!0-9]*|0) echo "run.sh: --runs: expected a positive number" >&2; exit 2 ;; esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${REFERRAL_BENCH_BUILD:-$ROOT/build-bench}
REFERRAL=$BUILD/referral
GEN=$BUILD/bench/bench_gen
INGEST=$BUILD/bench/bench_ingest
FLOOR=$BUILD/bench/bench_floor
WFLOOR=$BUILD/bench/bench_write_floor
PLAN=$ROOT/bench/plan.json
CLOSED=2026-01
MEASURED=2026-02

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ ! -x /usr/bin/time ]; then
	if [ "$(id -u)" = 0 ]; then
		log "installing GNU time (for peak memory)"
		apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
	else
		echo "run.sh: /usr/bin/time is missing: apt-get install time" >&2; exit 1
	fi
fi

if [ $BUILD_IT = 1 ]; then
	log "building in $BUILD"
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DREFERRAL_BENCH=ON \
		-DREFERRAL_TESTS=OFF >/dev/null
	make -C "$BUILD" -j2 referral_cli bench_gen bench_ingest bench_floor bench_write_floor >/dev/null
	# what the binaries were built from, for the results
	echo "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" \
		diff --quiet HEAD -- libreferral include cli 2>/dev/null || echo '+local changes')" \
		>"$BUILD/bench-source.txt"
fi
SOURCE=$(cat "$BUILD/bench-source.txt" 2>/dev/null || echo unknown)

GEN_ARGS=()
if [ $SMOKE = 1 ]; then
	WORK=$WORK/smoke
	[ "$SIZE" = 1000000 ] && SIZE=10000
	GEN_ARGS=(--stores 20 --distributors 1000 --members 20000 --month1-orders 10000)
fi
mkdir -p "$WORK"
DATA=$WORK/data-$SIZE
RES=$WORK/results-$SIZE
TMP=$WORK/tmp
mkdir -p "$TMP"

# ---- timing helpers ---------------------------------------------------------

# timed NAME CMD...: runs CMD under GNU time; sets T_WALL (s, from the
# monotonic clock via date), T_CPU (user+sys s), T_RSS (peak RSS MiB).
# Output goes to $TMP/NAME.out and .err; fails with the command's status.
timed() {
	local name=$1; shift
	local t0 t1 rc=0
	t0=$(date +%s%N)
	/usr/bin/time -f '%U %S %M' -o "$TMP/$name.time" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
	t1=$(date +%s%N)
	if [ $rc != 0 ]; then
		log "$name failed with status $rc:"; tail -n 20 "$TMP/$name.err" >&2
		return $rc
	fi
	T_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	read -r u s m < <(tail -n 1 "$TMP/$name.time")
	T_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
	T_RSS=$(awk -v m="$m" 'BEGIN { printf "%.0f", m / 1024 }')
}

# timed_anon NAME CMD...: as timed, and also sets T_ANON, the largest
# anonymous resident memory (MiB) seen while CMD runs, sampled every 50 ms.
# GNU time's peak RSS also counts the pages of the store file that SQLite
# maps for reading (shared page cache, not the process's own memory); the
# anonymous peak is what the process allocates.
timed_anon() {
	local name=$1; shift
	local peak=0 rc=0 tpid a
	( timed "$name" "$@"; echo "$T_WALL $T_CPU $T_RSS" >"$TMP/$name.res" ) &
	tpid=$!
	while kill -0 "$tpid" 2>/dev/null; do
		for c in $(pgrep -f -- "$*" 2>/dev/null); do
			a=$(awk '/^RssAnon/ { print $2 }' "/proc/$c/status" 2>/dev/null || true)
			if [ -n "$a" ] && [ "$a" -gt "$peak" ]; then peak=$a; fi
		done
		sleep 0.05
	done
	wait "$tpid" || rc=$?
	[ $rc = 0 ] || return $rc
	read -r T_WALL T_CPU T_RSS <"$TMP/$name.res"
	T_ANON=$(awk -v m="$peak" 'BEGIN { printf "%.0f", m / 1024 }')
}

# record METRIC VALUE: appends one run's value.
record() { echo "$2" >>"$RES/$1"; }

# median METRIC: the median of the recorded values ("-" if none).
median() {
	[ -s "$RES/$1" ] || { echo "-"; return; }
	sort -g "$RES/$1" | awk '{ v[NR] = $1 } END {
		if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
		if (m >= 1000) printf "%.0f", m; else printf "%.3g", m }'
}
values() { [ -s "$RES/$1" ] && paste -sd' ' "$RES/$1" || echo "-"; }

copy_store() { # copy_store FROM TO
	rm -f "$2" "$2-wal" "$2-shm"
	cp "$1" "$2"
	if [ -f "$1-wal" ]; then cp "$1-wal" "$2-wal"; fi
	# written back now, not by the kernel during the next measurement
	sync
}
drop_store() { rm -f "$1" "$1-wal" "$1-shm"; }

# ---- the dataset ---------------------------------------------------------------

if [ ! -f "$DATA/.done" ] || [ "$(cat "$DATA/.done")" != "seed=$SEED orders=$SIZE" ]; then
	log "generating the dataset (measured month: $SIZE orders) into $DATA"
	rm -rf "$DATA"
	timed gen "$GEN" --out "$DATA" --orders "$SIZE" --seed "$SEED" ${GEN_ARGS[@]+"${GEN_ARGS[@]}"}
	cat "$TMP/gen.err" >&2
	log "generated in ${T_WALL}s"
	echo "seed=$SEED orders=$SIZE" >"$DATA/.done"
fi
# the measured month again, its lines out of time order (interleave.py)
if [ ! -f "$DATA/month2-interleaved.jsonl" ]; then
	log "interleaving the measured month into month2-interleaved.jsonl"
	python3 "$ROOT/bench/interleave.py" "$DATA/month2.jsonl" "$DATA/month2-interleaved.jsonl"
fi
NET_LINES=$(wc -l <"$DATA/network.jsonl")
M1_LINES=$(wc -l <"$DATA/month1.jsonl")
M2_LINES=$(wc -l <"$DATA/month2.jsonl")
LATE_LINES=$(wc -l <"$DATA/late.jsonl")

# ---- the pre-measured state: network + month 1, 2026-01 closed ------------------

BASE=$WORK/base.db
# Rebuilt when the data or the library changes (the storage layout may have).
STAMP="seed=$SEED data=$(cat "$DATA/network.jsonl" "$DATA/month1.jsonl" | md5sum | cut -c1-12)"
STAMP="$STAMP lib=$(cat "$BUILD"/libreferral.so "$REFERRAL" | md5sum | cut -c1-12)"
if [ ! -f "$BASE.done" ] || [ "$(cat "$BASE.done")" != "$STAMP" ]; then
	log "building the pre-measured state in $BASE (once per work directory)"
	drop_store "$BASE"; rm -f "$BASE.done" "$WORK/base-figures"
	"$REFERRAL" init "$BASE" --plan "$PLAN" >/dev/null
	timed base_net "$REFERRAL" ingest "$BASE" "$DATA/network.jsonl"
	echo "ingest network.jsonl ($NET_LINES lines): ${T_WALL}s wall, ${T_CPU}s cpu, $(awk -v n="$NET_LINES" -v t="$T_WALL" 'BEGIN{printf "%.0f", n/t}') lines/s, peak ${T_RSS} MiB" >>"$WORK/base-figures"
	log "$(tail -n 1 "$WORK/base-figures")"
	timed base_m1 "$REFERRAL" ingest "$BASE" "$DATA/month1.jsonl"
	echo "ingest month1.jsonl ($M1_LINES lines): ${T_WALL}s wall, ${T_CPU}s cpu, $(awk -v n="$M1_LINES" -v t="$T_WALL" 'BEGIN{printf "%.0f", n/t}') lines/s, peak ${T_RSS} MiB" >>"$WORK/base-figures"
	log "$(tail -n 1 "$WORK/base-figures")"
	timed base_close "$REFERRAL" close "$BASE" "$CLOSED"
	echo "close $CLOSED (network + month 1): ${T_WALL}s wall, ${T_CPU}s cpu, peak ${T_RSS} MiB" >>"$WORK/base-figures"
	echo "$T_WALL" >"$WORK/base-close-s"
	log "$(tail -n 1 "$WORK/base-figures")"
	echo "$STAMP" >"$BASE.done"
fi

# ---- the runs --------------------------------------------------------------------

BASE_CLOSE_S=$(cat "$WORK/base-close-s" 2>/dev/null || echo 0)

rm -rf "$RES"; mkdir -p "$RES"
VERIFY="not run"
for run in $(seq 1 "$RUNS"); do
	log "run $run of $RUNS (size $SIZE)"

	# ingest through the C API (parsing outside the timed region)
	copy_store "$BASE" "$TMP/api.db"
	timed api "$INGEST" "$TMP/api.db" "$DATA/month2.jsonl"
	line=$(cat "$TMP/api.out")
	eps=$(sed -n 's/.*events_per_s=\([0-9]*\).*/\1/p' <<<"$line")
	record api_eps "$eps"
	record api_s "$(sed -n 's/.*total_s=\([0-9.]*\).*/\1/p' <<<"$line")"
	record api_cpu "$(sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p' <<<"$line")"
	drop_store "$TMP/api.db"
	log "  C API ingest: $line"

	# ingest of JSONL through the command, then the late refunds
	copy_store "$BASE" "$TMP/run.db"
	timed cli "$REFERRAL" ingest "$TMP/run.db" "$DATA/month2.jsonl"
	cli_s=$T_WALL
	record cli_s "$T_WALL"; record cli_cpu "$T_CPU"
	record cli_lps "$(awk -v n="$M2_LINES" -v t="$T_WALL" 'BEGIN { printf "%.0f", n / t }')"
	log "  referral ingest month2.jsonl: ${T_WALL}s ($(cat "$TMP/cli.out"))"
	timed late "$REFERRAL" ingest "$TMP/run.db" "$DATA/late.jsonl"
	sync

	# settle alone, on a copy
	copy_store "$TMP/run.db" "$TMP/settle.db"
	timed settle "$REFERRAL" settle "$TMP/settle.db" "$MEASURED"
	record settle_s "$T_WALL"; record settle_cpu "$T_CPU"; record settle_rss "$T_RSS"
	drop_store "$TMP/settle.db"
	log "  settle: ${T_WALL}s wall, ${T_CPU}s cpu, ${T_RSS} MiB"

	# the close's memory, sampled, on a copy: the sampler takes CPU, so the
	# timed close below runs without it
	copy_store "$TMP/run.db" "$TMP/mem.db"
	timed_anon closemem "$REFERRAL" close "$TMP/mem.db" "$MEASURED"
	record close_anon "$T_ANON"
	drop_store "$TMP/mem.db"; sync

	# close, timed, with its peak RSS
	timed close "$REFERRAL" close "$TMP/run.db" "$MEASURED"
	record close_s "$T_WALL"; record close_cpu "$T_CPU"; record close_rss "$T_RSS"
	close_s=$T_WALL
	log "  close: ${T_WALL}s wall, ${T_CPU}s cpu, peak RSS ${T_RSS} MiB, anonymous ${T_ANON} MiB"

	# the read floor on the same file
	timed floor "$FLOOR" "$TMP/run.db" "$MEASURED" 3
	floor_s=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$TMP/floor.out")
	record floor_s "$floor_s"
	record floor_rows "$(sed -n 's/.*rows=\([0-9]*\).*/\1/p' "$TMP/floor.out")"
	record ratio "$(awk -v c="$close_s" -v f="$floor_s" 'BEGIN { printf "%.1f", c / f }')"
	log "  floor: $(cat "$TMP/floor.out")"
	timed floor11 "$FLOOR" "$TMP/run.db" "$MEASURED" 3 9,10,11
	record floor11_s "$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$TMP/floor11.out")"
	record floor11_rows "$(sed -n 's/.*rows=\([0-9]*\).*/\1/p' "$TMP/floor11.out")"

	# correctness: verify re-derives both closed periods; against the two
	# closes it re-derives (the pre-measured one of 2026-01, this one)
	if [ "$run" = 1 ] || [ $VERIFY_EACH = 1 ]; then
		if timed verify "$REFERRAL" verify "$TMP/run.db"; then
			record verify_s "$T_WALL"
			record verify_ratio "$(awk -v v="$T_WALL" -v a="$BASE_CLOSE_S" -v b="$close_s" \
				'BEGIN { printf "%.2f", v / (a + b) }')"
			[ "$VERIFY" = "not run" ] && VERIFY="pass"
			log "  verify: pass (${T_WALL}s)"
		else
			VERIFY="FAIL: $(tail -n 1 "$TMP/verify.err")"
			log "  verify: $VERIFY"
		fi
	fi
	drop_store "$TMP/run.db"

	# the write floor of the same month in the same run: the month stored one
	# row per event with only its (type, id) key (write_floor.c)
	copy_store "$BASE" "$TMP/wf.db"
	timed wfloor "$WFLOOR" "$TMP/wf.db" rows-unique
	wf_s=$(sed -n 's/.*write_s=\([0-9.]*\).*/\1/p' "$TMP/wfloor.out")
	record wfloor_s "$wf_s"
	record ingest_ratio "$(awk -v c="$cli_s" -v f="$wf_s" 'BEGIN { printf "%.2f", c / f }')"
	drop_store "$TMP/wf.db"
	log "  write floor (rows-unique): ${wf_s}s; referral ingest / floor: $(tail -n 1 "$RES/ingest_ratio")"

	# the month out of time order: ingested, closed, and its read floor
	copy_store "$BASE" "$TMP/ooo.db"
	timed ooo_ingest "$REFERRAL" ingest "$TMP/ooo.db" "$DATA/month2-interleaved.jsonl"
	record ooo_ingest_s "$T_WALL"
	timed ooo_late "$REFERRAL" ingest "$TMP/ooo.db" "$DATA/late.jsonl"
	sync
	timed ooo_close "$REFERRAL" close "$TMP/ooo.db" "$MEASURED"
	record ooo_close_s "$T_WALL"; record ooo_close_cpu "$T_CPU"
	ooo_s=$T_WALL
	timed ooo_floor "$FLOOR" "$TMP/ooo.db" "$MEASURED" 3
	ooo_floor=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$TMP/ooo_floor.out")
	record ooo_floor_s "$ooo_floor"
	record ooo_ratio "$(awk -v c="$ooo_s" -v f="$ooo_floor" 'BEGIN { printf "%.1f", c / f }')"
	log "  out of time order: ingest $(tail -n 1 "$RES/ooo_ingest_s")s, close ${ooo_s}s, floor ${ooo_floor}s"
	drop_store "$TMP/ooo.db"
done

if [ -n "$PG_SERVER" ]; then
	# shellcheck source=bench/postgres.sh
	. "$ROOT/bench/postgres.sh"
	pg_runs
fi

# ---- the table -----------------------------------------------------------------------

{
	echo "## size $SIZE: medians of $RUNS run(s), $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "measured month: $M2_LINES lines in month2.jsonl ($SIZE orders), $LATE_LINES late refunds"
	echo "built from: $SOURCE; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	printf '| %-46s | %12s | %-14s | %s |\n' figure median target "all runs"
	printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..48})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..16})" "----------"
	row() { printf '| %-46s | %12s | %-14s | %s |\n' "$1" "$(median "$2")" "$3" "$(values "$2")"; }
	row "ingest via C API (events/s)" api_eps ">= 500000"
	row "  C API ingest wall (s)" api_s ""
	row "  C API ingest cpu (s)" api_cpu ""
	row "referral ingest month2.jsonl (lines/s)" cli_lps ""
	row "  referral ingest wall (s)" cli_s ""
	row "  referral ingest cpu (s)" cli_cpu ""
	row "write floor, rows-unique (s)" wfloor_s ""
	row "referral ingest / write floor" ingest_ratio "<= 2"
	row "referral settle $MEASURED wall (s)" settle_s ""
	row "  settle cpu (s)" settle_cpu ""
	row "referral close $MEASURED wall (s)" close_s "<= 1.5"
	row "  close cpu (s)" close_cpu ""
	row "read floor (s)" floor_s ""
	row "  rows scanned by the floor" floor_rows ""
	row "read floor with shares too (s)" floor11_s ""
	row "  rows scanned" floor11_rows ""
	row "close / floor" ratio "<= 10"
	row "peak RSS of close (MiB)" close_rss "<= 1536"
	row "  of which anonymous, sampled (MiB)" close_anon ""
	row "peak RSS of settle (MiB)" settle_rss ""
	row "referral verify wall (s)" verify_s ""
	row "verify / the two closes it re-derives" verify_ratio "<= 3"
	row "out of time order: referral ingest (s)" ooo_ingest_s ""
	row "out of time order: close wall (s)" ooo_close_s ""
	row "  close cpu (s)" ooo_close_cpu ""
	row "out of time order: read floor (s)" ooo_floor_s ""
	row "out of time order: close / floor" ooo_ratio "<= 10"
	echo
	echo "verify after close: $VERIFY"
	echo
	if [ -f "$WORK/base-figures" ]; then
		echo "pre-measured state (built once):"
		sed 's/^/  /' "$WORK/base-figures"
	fi
	if [ -n "$PG_SERVER" ]; then pg_table; fi
} | tee "$WORK/results-$SIZE.md"
[ "${VERIFY%%:*}" != FAIL ] && [ "${PG_VERIFY:-pass}" = pass ]
