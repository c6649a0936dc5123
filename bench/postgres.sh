# bench/postgres.sh — the PostgreSQL half of bench/run.sh, sourced by it
# when it is given --postgres SERVER (see bench/README.md).
#
# SERVER is a libpq URI without a database, e.g. postgresql:// (the local
# server over its socket) or postgresql://bench@db1. The pre-measured state
# (network and month 1 ingested, 2026-01 closed) is built once in the
# database referral_bench_base, brand `bench`; every run copies it with
# CREATE DATABASE ... TEMPLATE, as the SQLite runs copy their file.
#
# Each run measures, on a copy: `referral ingest` of the measured month,
# VACUUM (ANALYZE) of the log, close, and (first run) verify; then, on
# another copy, the same month cut in PG_WRITERS files (bench/split.py)
# and ingested by that many processes at once, closed, and its statements
# compared with the serial copy's.
# Uses run.sh's helpers (timed, record, log) and variables.

PG_BASE_DB=referral_bench_base
PG_WRITERS=${PG_WRITERS:-8}

# the server's URI, to which /DATABASE is added
pg_server() { case $PG_SERVER in *://) echo "$PG_SERVER" ;; *) echo "${PG_SERVER%/}" ;; esac; }
pg_db_uri() { echo "$(pg_server)/$1?brand=bench"; }
pg_admin() { psql -X -q -v ON_ERROR_STOP=1 "$(pg_server)/postgres" "$@"; }
pg_drop_db() { pg_admin -c "DROP DATABASE IF EXISTS $1" >/dev/null; }
pg_copy_db() { pg_drop_db "$2"; pg_admin -c "CREATE DATABASE $2 TEMPLATE $1" >/dev/null; }

pg_build_base() {
	local stamp="$STAMP"
	if [ -f "$WORK/pg-base.done" ] && [ "$(cat "$WORK/pg-base.done")" = "$stamp" ] &&
		pg_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_BASE_DB'" | grep -q 1; then
		return 0
	fi
	log "postgresql: building the pre-measured state in $PG_BASE_DB (once per work directory)"
	rm -f "$WORK/pg-base.done" "$WORK/pg-base-figures"
	pg_drop_db "$PG_BASE_DB"
	pg_admin -c "CREATE DATABASE $PG_BASE_DB" >/dev/null
	local uri; uri=$(pg_db_uri "$PG_BASE_DB")
	"$REFERRAL" init "$uri" --plan "$PLAN" >/dev/null
	timed pg_base_net "$REFERRAL" ingest "$uri" "$DATA/network.jsonl"
	echo "ingest network.jsonl ($NET_LINES lines): ${T_WALL}s wall, ${T_CPU}s cpu (client), peak ${T_RSS} MiB" >>"$WORK/pg-base-figures"
	log "  $(tail -n 1 "$WORK/pg-base-figures")"
	timed pg_base_m1 "$REFERRAL" ingest "$uri" "$DATA/month1.jsonl"
	echo "ingest month1.jsonl ($M1_LINES lines): ${T_WALL}s wall, ${T_CPU}s cpu (client), peak ${T_RSS} MiB" >>"$WORK/pg-base-figures"
	log "  $(tail -n 1 "$WORK/pg-base-figures")"
	timed pg_base_close "$REFERRAL" close "$uri" "$CLOSED"
	echo "close $CLOSED (network + month 1): ${T_WALL}s wall, ${T_CPU}s cpu (client), peak ${T_RSS} MiB" >>"$WORK/pg-base-figures"
	echo "$T_WALL" >"$WORK/pg-base-close-s"
	log "  $(tail -n 1 "$WORK/pg-base-figures")"
	# the pre-measured months are old by the time the measured one comes:
	# autovacuum has long processed them (else it works on the 5M rows of
	# the base, and of every copy, during the first run)
	psql -X -q -v ON_ERROR_STOP=1 "$(pg_server)/$PG_BASE_DB" -c "VACUUM (ANALYZE)"
	echo "$stamp" >"$WORK/pg-base.done"
}

# pg_concurrent URI: ingests the split month with PG_WRITERS processes at
# once; sets T_WALL to the wall time of the whole.
pg_concurrent() {
	local uri=$1 i t0 t1 rc=0 pids=()
	t0=$(date +%s%N)
	for i in $(seq 0 $((PG_WRITERS - 1))); do
		"$REFERRAL" ingest "$uri" "$DATA/month2-split$PG_WRITERS.$i.jsonl" \
			>"$TMP/pg_conc.$i.out" 2>"$TMP/pg_conc.$i.err" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { rc=$?; log "concurrent ingester $i failed:"; tail -n 5 "$TMP/pg_conc.$i.err" >&2; }
	done
	t1=$(date +%s%N)
	T_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	return $rc
}

pg_runs() {
	command -v psql >/dev/null || { echo "run.sh: --postgres needs psql (postgresql-client)" >&2; return 1; }
	pg_admin -c "SELECT 1" >/dev/null || { echo "run.sh: cannot reach the server $PG_SERVER" >&2; return 1; }
	if [ ! -f "$DATA/month2-split$PG_WRITERS.0.jsonl" ]; then
		python3 "$ROOT/bench/split.py" "$DATA/month2.jsonl" "$PG_WRITERS" "$DATA/month2-split$PG_WRITERS"
	fi
	pg_build_base
	PG_BASE_CLOSE_S=$(cat "$WORK/pg-base-close-s" 2>/dev/null || echo 0)
	local run uri curi serial
	PG_VERIFY="not run"; PG_SAME="not compared"
	for run in $(seq 1 "$RUNS"); do
		log "postgresql: run $run of $RUNS (size $SIZE)"
		pg_copy_db "$PG_BASE_DB" referral_bench_run
		uri=$(pg_db_uri referral_bench_run)
		timed pg_cli "$REFERRAL" ingest "$uri" "$DATA/month2.jsonl"
		record pg_cli_s "$T_WALL"; record pg_cli_cpu "$T_CPU"; record pg_cli_rss "$T_RSS"
		record pg_cli_lps "$(awk -v n="$M2_LINES" -v t="$T_WALL" 'BEGIN { printf "%.0f", n / t }')"
		log "  referral ingest month2.jsonl: ${T_WALL}s wall, ${T_CPU}s client cpu, ${T_RSS} MiB"
		timed pg_late "$REFERRAL" ingest "$uri" "$DATA/late.jsonl"
		# what autovacuum does to the month's rows on its own a minute
		# after the ingest (it sets their hint bits and the visibility map
		# the close's index-only scan reads), done now rather than during
		# the timed close, as run.sh syncs a SQLite file before its close
		timed pg_vacuum psql -X -q -v ON_ERROR_STOP=1 "$(pg_server)/referral_bench_run" \
			-c "VACUUM (ANALYZE) bench.events"
		record pg_vacuum_s "$T_WALL"
		timed pg_close "$REFERRAL" close "$uri" "$MEASURED"
		record pg_close_s "$T_WALL"; record pg_close_cpu "$T_CPU"; record pg_close_rss "$T_RSS"
		log "  close: ${T_WALL}s wall, ${T_CPU}s client cpu, peak RSS ${T_RSS} MiB"
		"$REFERRAL" export "$uri" statements --period "$MEASURED" >"$TMP/pg_serial.csv"
		if [ "$run" = 1 ] || [ $VERIFY_EACH = 1 ]; then
			if timed pg_verify "$REFERRAL" verify "$uri"; then
				record pg_verify_s "$T_WALL"
				[ "$PG_VERIFY" = "not run" ] && PG_VERIFY="pass"
				log "  verify: pass (${T_WALL}s)"
			else
				PG_VERIFY="FAIL: $(tail -n 1 "$TMP/pg_verify.err")"
				log "  verify: $PG_VERIFY"
			fi
		fi
		pg_drop_db referral_bench_run

		pg_copy_db "$PG_BASE_DB" referral_bench_conc
		curi=$(pg_db_uri referral_bench_conc)
		pg_concurrent "$curi"
		record pg_conc_s "$T_WALL"
		record pg_conc_lps "$(awk -v n="$M2_LINES" -v t="$T_WALL" 'BEGIN { printf "%.0f", n / t }')"
		record pg_conc_ratio "$(awk -v c="$T_WALL" -v s="$(tail -n 1 "$RES/pg_cli_s")" 'BEGIN { printf "%.2f", s / c }')"
		log "  $PG_WRITERS ingesters at once: ${T_WALL}s wall"
		"$REFERRAL" ingest "$curi" "$DATA/late.jsonl" >/dev/null
		psql -X -q "$(pg_server)/referral_bench_conc" -c "VACUUM (ANALYZE) bench.events"
		"$REFERRAL" close "$curi" "$MEASURED" >/dev/null
		"$REFERRAL" export "$curi" statements --period "$MEASURED" >"$TMP/pg_conc.csv"
		if cmp -s "$TMP/pg_serial.csv" "$TMP/pg_conc.csv"; then
			[ "$PG_SAME" = "not compared" ] && PG_SAME="equal"
		else
			PG_SAME="DIFFER (run $run)"
		fi
		pg_drop_db referral_bench_conc
	done
}

# the rows of the PostgreSQL table, beside the SQLite figures of the same run
pg_table() {
	echo
	echo "### PostgreSQL ($PG_SERVER, $(pg_admin -tAc 'SHOW server_version'))"
	echo
	printf '| %-46s | %12s | %-14s | %s |\n' figure median target "all runs"
	printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..48})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..16})" "----------"
	row "referral ingest month2.jsonl (lines/s)" pg_cli_lps ">= SQLite's"
	row "  referral ingest wall (s)" pg_cli_s ""
	row "  client cpu (s)" pg_cli_cpu ""
	row "  client peak RSS (MiB)" pg_cli_rss ""
	row "VACUUM (ANALYZE) of the log before the close (s)" pg_vacuum_s ""
	row "referral close $MEASURED wall (s)" pg_close_s "<= 3x SQLite's"
	row "  client cpu (s)" pg_close_cpu ""
	row "  client peak RSS (MiB)" pg_close_rss "flat in orders"
	row "referral verify wall (s)" pg_verify_s ""
	row "$PG_WRITERS ingesters at once, wall (s)" pg_conc_s ""
	row "$PG_WRITERS ingesters at once (lines/s)" pg_conc_lps ""
	row "  against one ingester" pg_conc_ratio ">= 1"
	echo
	local sq_close pg_close sq_lps pg_lps
	sq_close=$(median close_s); pg_close=$(median pg_close_s)
	sq_lps=$(median cli_lps); pg_lps=$(median pg_cli_lps)
	echo "close, PostgreSQL / SQLite: $(awk -v p="$pg_close" -v s="$sq_close" 'BEGIN { if (s > 0) printf "%.2f", p / s; else print "-" }') (target <= 3)"
	echo "ingest, PostgreSQL / SQLite lines/s: $(awk -v p="$pg_lps" -v s="$sq_lps" 'BEGIN { if (s > 0) printf "%.2f", p / s; else print "-" }') (target >= 1)"
	echo "verify after close: $PG_VERIFY; statements of the concurrent ingest against the serial one: $PG_SAME"
	echo "server settings: $(pg_admin -tAc "SELECT string_agg(name || ' = ' || current_setting(name), ', ' ORDER BY name)
		FROM pg_settings WHERE name IN ('shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'synchronous_commit', 'jit')")"
	if [ -f "$WORK/pg-base-figures" ]; then
		echo
		echo "pre-measured state on PostgreSQL (built once):"
		sed 's/^/  /' "$WORK/pg-base-figures"
	fi
}
