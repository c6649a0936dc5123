#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz/, clang, ASan + UBSan) and runs
# each for SECONDS (default 60) from its seed corpus. A crash or a broken
# oracle fails the run; the input is left in build-fuzz/artifacts/ to be
# added to fuzz/regressions/TARGET/ (fuzz/README.md).
#   fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(lines plan store)
cc=${CC:-}
if [ -z "$cc" ]; then
	for c in clang clang-14 clang-15 clang-16; do
		command -v "$c" >/dev/null && { cc=$c; break; }
	done
fi
[ -n "$cc" ] || { echo "fuzz: no clang found (apt-get install clang)" >&2; exit 1; }
build="$root/build-fuzz"
CC=$cc cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREFERRAL_FUZZ=ON \
	-DREFERRAL_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null
mkdir -p "$build/artifacts"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
	work="$build/corpus-$t"   # what this run finds; the tree's corpus is only read
	rm -rf "$work"
	mkdir -p "$work"
	start=$(date +%s)
	if ! "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
		"$work" "$root/fuzz/corpus/$t" >"$build/fuzz_$t.log" 2>&1; then
		tail -60 "$build/fuzz_$t.log" >&2
		echo "fuzz: fuzz_$t found a crash: $(ls "$build/artifacts" | grep "^$t-" | head -1)" >&2
		exit 1
	fi
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/fuzz_$t.log" | grep -o '[0-9]*$' || echo '?')
	cov=$(grep -o 'cov: [0-9]*' "$build/fuzz_$t.log" | tail -1 || true)
	echo "fuzz: fuzz_$t: $runs inputs in $(( $(date +%s) - start )) s, $cov, nothing found"
done
