#!/usr/bin/env bash
# Checks that libreferral installs as a library others can build against:
# installs a build into a temporary prefix, checks the layout (headers,
# libreferral.so with its SONAME, libreferral.a, both defining no global symbol
# but referral_*, the pkg-config file, the CMake package, the CLI), builds
# settle_example.c against it with the Makefile (pkg-config) and with
# CMakeLists.txt (find_package), shared and static, runs each and compares its
# output with expected.txt. Exits non-zero if anything fails; every failure is
# listed.
#
#   examples/c/check.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build/ of this repository; it is configured and built
# first if needed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
work=$(mktemp -d "${TMPDIR:-/tmp}/referral-check-c.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

failures=0
ok() { echo "ok    $*"; }
fail() { echo "FAIL  $*"; failures=$((failures + 1)); }
# check DESCRIPTION COMMAND...: runs COMMAND, quietly; its output is shown on failure.
check() {
	local what=$1 log=$work/log
	shift
	if "$@" >"$log" 2>&1; then ok "$what"; else fail "$what"; sed 's/^/      /' "$log" | tail -n 30; fi
}
same_file() { [ -e "$1" ] && [ -e "$2" ] && [ "$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")" = \
	"$(cd "$(dirname "$2")" && pwd -P)/$(basename "$2")" ]; }

# --- install ---------------------------------------------------------------------
if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if ! { cmake --build "$build" --target referral referral_static referral_cli -j"$(nproc)" &&
	cmake --install "$build" --prefix "$prefix"; } >"$work/install.log" 2>&1; then
	cat "$work/install.log"
	echo "examples/c/check.sh: building or installing $build failed"
	exit 1
fi
echo "installed $build into $prefix"

# --- layout --------------------------------------------------------------------------
so=$(find "$prefix" -name libreferral.so -print -quit)
libdir=$(dirname "${so:-$prefix/lib/libreferral.so}")
rel=${libdir#"$prefix"/}
# The SONAME by docs/versioning.md: libreferral.so.MAJOR.MINOR while the major
# version is 0, libreferral.so.MAJOR from 1.0 on.
header=$prefix/include/referral/referral.h
header_macro() { sed -n "s/^#define REFERRAL_VERSION_$1 \([0-9]*\)\$/\1/p" "$header" 2>/dev/null || true; }
major=$(header_macro MAJOR)
minor=$(header_macro MINOR)
if [ "$major" = 0 ]; then want_soname=libreferral.so.$major.$minor; else want_soname=libreferral.so.$major; fi
soname_is() { [ "$1" = "$want_soname" ] && [ -e "$libdir/$want_soname" ]; }
# (grep without -q: with pipefail, an early exit would fail the pipeline by SIGPIPE)
# only_referral_symbols FILE [NM_OPTION...]: FILE defines no other global symbol.
only_referral_symbols() {
	local file=$1 others
	shift
	others=$(nm "$@" -g --defined-only "$file" | awk 'NF == 3 {print $3}' | grep -v '^referral_' || true)
	[ -z "$others" ] || { echo "also defined: $(echo "$others" | tr '\n' ' ')"; return 1; }
}
archive_has() { nm "$1" 2>/dev/null | grep " T $2\$" >/dev/null; }
pc_version_is() { [ "$(pkg-config --modversion referral)" = "$1" ]; }
check "header include/referral/referral.h" test -f "$prefix/include/referral/referral.h"
check "shared library $rel/libreferral.so" test -n "$so"
soname=$(readelf -d "$libdir/libreferral.so" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
check "SONAME $want_soname (is '$soname'), installed as a file or link" \
	soname_is "$soname"
check "exports only referral_* symbols" \
	only_referral_symbols "$libdir/libreferral.so" -D
check "static library $rel/libreferral.a" archive_has "$libdir/libreferral.a" referral_store_create
check "libreferral.a defines only referral_* globals" \
	only_referral_symbols "$libdir/libreferral.a"
check "pkg-config file $rel/pkgconfig/referral.pc" test -f "$libdir/pkgconfig/referral.pc"
export PKG_CONFIG_PATH=$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
pc_include=$(pkg-config --variable=includedir referral 2>/dev/null || true)
pc_libdir=$(pkg-config --variable=libdir referral 2>/dev/null || true)
check "referral.pc includedir is the installed one (is '$pc_include')" same_file "$pc_include" "$prefix/include"
check "referral.pc libdir is the installed one (is '$pc_libdir')" same_file "$pc_libdir" "$libdir"
header_version=$(sed -n 's/^#define REFERRAL_VERSION "\(.*\)"$/\1/p' "$prefix/include/referral/referral.h" 2>/dev/null || true)
check "referral.pc version is the header's ($header_version)" \
	pc_version_is "$header_version"
check "CMake package $rel/cmake/referral" \
	test -f "$libdir/cmake/referral/referralConfig.cmake" -a -f "$libdir/cmake/referral/referralConfigVersion.cmake"
check "installed CLI runs without LD_LIBRARY_PATH" env -u LD_LIBRARY_PATH "$prefix/bin/referral" --version

# --- build and run the example ---------------------------------------------------------
# run NAME BINARY: runs it against the installed library, compares with expected.txt.
run() {
	local name=$1 bin=$2
	if [ ! -x "$bin" ]; then fail "$name: not built"; return; fi
	if LD_LIBRARY_PATH=$libdir "$bin" >"$work/$name.out" 2>"$work/$name.err" &&
		diff -u "$here/expected.txt" "$work/$name.out" >"$work/$name.diff"; then
		ok "$name: runs, output as expected.txt"
	else
		fail "$name: output differs from expected.txt"
		cat "$work/$name.err" "$work/$name.diff" | sed 's/^/      /'
	fi
}
no_shared_referral() { ! readelf -d "$1" | grep 'NEEDED.*libreferral'; }

mkdir -p "$work/make"
check "make (pkg-config): build" make -f "$here/Makefile" -C "$work/make" all
run make-shared "$work/make/settle_example"
run make-static "$work/make/settle_example_static"
if [ -x "$work/make/settle_example_static" ]; then
	check "make-static does not need libreferral.so" no_shared_referral "$work/make/settle_example_static"
fi

check "cmake (find_package): configure" cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix"
check "cmake (find_package): build" cmake --build "$work/cmake"
run cmake-shared "$work/cmake/settle_example"
run cmake-static "$work/cmake/settle_example_static"
if [ -x "$work/cmake/settle_example_static" ]; then
	check "cmake-static does not need libreferral.so" no_shared_referral "$work/cmake/settle_example_static"
fi

if [ "$failures" -ne 0 ]; then
	echo "examples/c/check.sh: $failures check(s) failed"
	exit 1
fi
echo "examples/c/check.sh: all checks passed"
