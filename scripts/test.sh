#!/usr/bin/env bash
# Builds libreferral and runs every test: the Criterion suites, the CLI
# end-to-end tests, the Python binding tests and the examples' checks.
#   ./scripts/test.sh              normal build (build/)
#   ./scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
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
ctest --output-on-failure -j2
