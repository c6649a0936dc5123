"""Symbol hygiene: libreferral.a and libreferral.so define no global symbol
but the referral_* calls of include/referral/referral.h.

So a program linked with the static library may use every other name for
itself. The program below defines dec_parse, sb_printf and other internal
names of the library (declared in libreferral/*.h), links libreferral.a and
runs; the library keeps calling its own functions of those names.

Environment: REFERRAL_STATIC_LIB (libreferral.a), REFERRAL_LIB
(libreferral.so), REFERRAL_CLI (the `referral` command; its directory is the
build directory, whose CMakeCache.txt names the C compiler and whether the
build is sanitized), REFERRAL_SOURCE_DIR (the repository). Needs nm and a C
compiler. Standard library only.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from helpers import store_name

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("REFERRAL_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.path.dirname(os.environ.get("REFERRAL_CLI") or os.path.join(SOURCE_DIR, "build", "referral"))
STATIC_LIB = os.environ.get("REFERRAL_STATIC_LIB") or os.path.join(BUILD_DIR, "libreferral.a")
SHARED_LIB = os.environ.get("REFERRAL_LIB") or os.path.join(BUILD_DIR, "libreferral.so")
PLAN = os.path.join(SOURCE_DIR, "examples", "monthly_settlement", "plan.json")

# Internal names the program defines for itself: functions from
# libreferral/decimal.h, strbuf.h, plan.h, timeutil.h, fen.h, hugemem.h and
# variables from stream.h and core.h.
INTERNAL_FUNCTIONS = ["dec_parse", "sb_printf", "plan_parse", "ts_parse", "fen_parse", "huge_alloc"]
INTERNAL_VARIABLES = ["stream_use_thread", "ev_type_names"]

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <referral/referral.h>

/* The program's own definitions of names the library uses internally. The
 * library must not call these: each one aborts. */
%(functions)s
int stream_use_thread = 42;
const char *ev_type_names[] = {"the program's own"};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	if (strcmp(referral_version(), REFERRAL_VERSION) != 0) {
		fprintf(stderr, "library %%s, header %%s\n", referral_version(), REFERRAL_VERSION);
		return 1;
	}
	const char *plan = slurp(argv[2]);
	if (!plan) {
		perror(argv[2]);
		return 1;
	}
	/* Parses the plan (plan_parse, dec_parse, ts_parse inside the library). */
	referral_store *st = NULL;
	int rc = referral_store_create(&st, argv[1], plan);
	char period[8] = "";
	if (!rc)
		rc = referral_open_period(st, period, sizeof period);
	if (rc)
		fprintf(stderr, "%%s (%%s)\n", referral_errmsg(st), referral_status_name(rc));
	referral_store_free(st);
	if (rc)
		return 1;
	printf("%%s %%s %%d %%s\n", referral_version(), period, stream_use_thread, ev_type_names[0]);
	return 0;
}
""" % {"functions": "\n".join("void %s(void) { abort(); }" % f for f in INTERNAL_FUNCTIONS)}


def build_settings():
    """(C compiler, extra flags) of the build: the sanitizers' flags when the
    library was built with REFERRAL_SANITIZE (its objects then need their runtime)."""
    cache = {}
    try:
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt"), encoding="utf-8") as f:
            for line in f:
                m = re.match(r"^([A-Za-z_0-9]+):[A-Z]+=(.*)$", line.rstrip("\n"))
                if m:
                    cache[m.group(1)] = m.group(2)
    except OSError:
        pass
    cc = cache.get("CMAKE_C_COMPILER") or shutil.which("cc") or "cc"
    flags = []
    if cache.get("REFERRAL_SANITIZE", "").upper() in ("ON", "TRUE", "1", "YES"):
        flags = ["-fsanitize=address,undefined"]
    return cc, flags


def nm_names(path, *options):
    """The names of the symbols `path` defines (nm --defined-only OPTIONS)."""
    proc = subprocess.run(["nm", "--defined-only"] + list(options) + [path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError("nm %s failed: %s" % (path, proc.stderr))
    # "ADDRESS TYPE NAME" lines; an archive adds "member.o:" headers and blank lines
    return sorted({f[2] for f in (line.split() for line in proc.stdout.splitlines()) if len(f) == 3})


def defined_globals(path):
    return nm_names(path, "-g")


class ExportedSymbols(unittest.TestCase):
    def assertOnlyReferral(self, path):
        names = defined_globals(path)
        others = [n for n in names if not n.startswith("referral_")]
        if others:
            self.fail("%s defines %d global symbol(s) outside referral_*: %s"
                      % (path, len(others), " ".join(others)))
        # not vacuous: the public calls are there
        self.assertIn("referral_version", names)
        self.assertIn("referral_store_create", names)
        return names

    def test_static_library_defines_only_referral_globals(self):
        self.assertOnlyReferral(STATIC_LIB)

    def test_shared_library_defines_only_referral_globals(self):
        self.assertOnlyReferral(SHARED_LIB)

    def test_both_libraries_define_the_same_calls(self):
        static, shared = set(defined_globals(STATIC_LIB)), set(defined_globals(SHARED_LIB))
        for path, only in ((STATIC_LIB, static - shared), (SHARED_LIB, shared - static)):
            if only:
                self.fail("only %s defines: %s" % (path, " ".join(sorted(only))))

    def test_the_internal_names_used_below_still_exist(self):
        # were one renamed, the link test would prove nothing about it
        missing = sorted(set(INTERNAL_FUNCTIONS + INTERNAL_VARIABLES) - set(nm_names(STATIC_LIB)))
        if missing:
            self.fail("%s no longer defines %s: pick other internal names for "
                      "tests/e2e/test_symbols.py" % (STATIC_LIB, " ".join(missing)))


class ProgramDefiningInternalNames(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="referral-symbols-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_links_with_the_static_library_and_runs(self):
        cc, flags = build_settings()
        src, exe = os.path.join(self.dir, "own_names.c"), os.path.join(self.dir, "own_names")
        with open(src, "w", encoding="utf-8") as f:
            f.write(PROGRAM)
        cmd = ([cc, "-std=c11", "-D_POSIX_C_SOURCE=200809L"] + flags +
               ["-I", os.path.join(SOURCE_DIR, "include"), "-o", exe, src, STATIC_LIB,
                "-lgmp", "-lsqlite3", "-ljansson", "-lz", "-lpq", "-pthread"])
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=120)
        self.assertEqual(proc.returncode, 0, "%s\n%s" % (" ".join(cmd), proc.stdout))

        # the store is a file, or a brand in the PostgreSQL pass
        run = subprocess.run([exe, store_name(self.dir, "store.db"), PLAN],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        header = open(os.path.join(SOURCE_DIR, "include", "referral", "referral.h"),
                      encoding="utf-8").read()
        want = re.search(r'^#define REFERRAL_VERSION "(.*)"$', header, re.M).group(1)
        self.assertEqual(run.stdout, "%s 2026-01 42 the program's own\n" % want)


if __name__ == "__main__":
    unittest.main()
