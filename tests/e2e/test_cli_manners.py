"""End-to-end tests of the `referral` command's manners (GNU conventions):
its manual page, "--" and the messages about options, progress on a
terminal, byte order marks and gzip input.

Progress is watched through a pseudo-terminal on the command's standard
error, and the bytes it draws are replayed on a small model of a terminal
line ("\\r", "\\033[K", plain text) to see what a person would see.
"""
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from helpers import (BASE_EVENTS, CLI, INPUT, IO, OK, SOURCE_DIR, USAGE, StoreCase, at, jsonl,
                     on_terminal, order, run, store_exists, write)

PAGE = os.path.join(SOURCE_DIR, "docs", "referral.1")
BOM = b"\xef\xbb\xbf"
MEMBERS_HEADER = "member,lifetime,balance,tier,sharer,effective_tier\n"


def help_commands():
    """The commands `referral --help` lists: its lines "  NAME ARGS...",
    the command name first."""
    out = run("--help").out
    return [m.group(1) for m in re.finditer(r"^  ([a-z]+) ", out, re.M) if m.group(1) != "referral"]


def rendered_page():
    """The manual page as plain text, with whichever formatter is there."""
    if shutil.which("groff"):
        cmd = ["groff", "-man", "-Tutf8", "-P-cbou", PAGE]
    elif shutil.which("mandoc"):
        cmd = ["mandoc", "-T", "utf8", "-O", "width=100", PAGE]
    elif shutil.which("man"):
        cmd = ["man", "-l", PAGE]
    else:
        raise AssertionError("no man page formatter: install groff-base (scripts/deps.sh)")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                          env=dict(os.environ, MANWIDTH="100", MANPAGER="cat", PAGER="cat"))
    text = proc.stdout.decode("utf-8")
    # no formatting left: plain characters, no overstrikes
    return re.sub(r".\x08", "", text)


def screen_states(shown):
    """Replays terminal bytes on a model of the screen: "\\r" moves to the
    start of the line, "\\033[K" erases to its end, "\\n" starts a new line
    (the terminal writes "\\r\\n"), other bytes overwrite. Returns the
    finished lines and the states of the current line after each erase, as
    text."""
    lines, states, cur, pos, i = [], [], [], 0, 0
    while i < len(shown):
        if shown.startswith(b"\x1b[K", i):
            del cur[pos:]
            states.append(bytes(cur).decode("utf-8"))
            i += 3
            continue
        c = shown[i]
        i += 1
        if c == 0x0d:
            pos = 0
        elif c == 0x0a:
            lines.append(bytes(cur).decode("utf-8"))
            cur, pos = [], 0
        elif pos < len(cur):
            cur[pos] = c
            pos += 1
        else:
            cur.append(c)
            pos += 1
    if cur:
        lines.append(bytes(cur).decode("utf-8"))
    return lines, states


PROGRESS_LINE = re.compile(
    r"^(ingest|settle|close|verify): "
    r"(\d{1,3}% \([0-9,.]+( [a-zA-Z]+)? of [0-9,.]+ [a-zA-Z]+\)|[0-9,.]+ [a-zA-Z]+ read"
    r"|[0-9,]+ events)$")


def shares(n, prefix="sh"):
    """n share events by D1 spread over January."""
    return [{"type": "share", "id": "%s%d" % (prefix, i), "at": at(5 + i % 20),
             "distributor": "D1"} for i in range(n)]


class ManPage(unittest.TestCase):

    def test_page_formats_without_warnings(self):
        checks = []
        if shutil.which("groff"):
            checks.append(["groff", "-man", "-Tutf8", "-ww", "-z", PAGE])
        if shutil.which("mandoc"):
            checks.append(["mandoc", "-T", "lint", "-W", "warning", PAGE])
        if shutil.which("man"):
            checks.append(["man", "--warnings", "-l", PAGE])
        self.assertTrue(checks, "no man page formatter: install groff-base (scripts/deps.sh)")
        for cmd in checks:
            with self.subTest(cmd=cmd[0]):
                proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      timeout=60, env=dict(os.environ, MANWIDTH="80",
                                                           MANPAGER="cat", PAGER="cat"))
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(proc.stderr.decode("utf-8", "replace"), "")

    def test_page_has_the_usual_sections(self):
        text = rendered_page()
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "EXIT STATUS",
                        "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"):
            with self.subTest(section=section):
                self.assertRegex(text, r"(?m)^%s$" % section)

    def test_every_command_of_help_is_in_the_page(self):
        commands = help_commands()
        self.assertEqual(commands,
                         ["init", "plan", "ingest", "settle", "close", "export", "explain",
                          "report", "verify"])
        text = rendered_page()
        synopsis = text[text.index("SYNOPSIS"):text.index("DESCRIPTION")]
        listed = text[text.index("\nCOMMANDS"):text.index("\nOPTIONS")]
        for cmd in commands:
            with self.subTest(cmd=cmd):
                self.assertIn("referral %s " % cmd, synopsis)
                self.assertRegex(listed, r"(?m)^ +%s " % cmd)

    def test_every_option_export_and_exit_code_is_in_the_page(self):
        text = rendered_page()
        options = text[text.index("\nOPTIONS"):text.index("\nSTORES")]
        for cmd in help_commands():
            synopsis = run(cmd, "--help").out.splitlines()[0]
            for opt in re.findall(r"--[a-z]+", synopsis):
                with self.subTest(cmd=cmd, option=opt):
                    self.assertRegex(options, r"(?m)^ +%s " % opt)
        for opt in ("--help", "--version", "--"):
            self.assertRegex(options, r"(?m)^ +(-h, )?%s( |$)" % opt)
        export = run("export", "--help").out.splitlines()[0]
        tables = re.search(r"DB ([a-z|]+)", export).group(1).split("|")
        self.assertIn("payouts", tables)
        exports = text[text.index("\nEXPORTS"):text.index("\nPROGRESS")]
        for table in tables:
            with self.subTest(export=table):
                self.assertRegex(exports, r"(?m)^ +%s( |$)" % table)
        self.assertIn("period, distributor, store, payable, withheld, net", exports)
        status = text[text.index("\nEXIT STATUS"):text.index("\nENVIRONMENT")]
        for code in (0, 2, 3, 4, 5, 6):
            self.assertRegex(status, r"(?m)^ +%d +" % code)

    def test_page_documents_both_kinds_of_store(self):
        text = " ".join(rendered_page().split())
        for words in ("postgresql://", "postgres://", "brand=NAME", "[a-z][a-z0-9_]*",
                      "the store is main", "docs/formats.md", "docs/design.md"):
            self.assertIn(words, text)

    def test_install_puts_the_page_in_man1(self):
        build = os.path.dirname(os.path.abspath(CLI))
        if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
            self.skipTest("%s is not a CMake build directory" % build)
        with tempfile.TemporaryDirectory(prefix="referral-install-") as prefix:
            proc = subprocess.run(["cmake", "--install", build, "--prefix", prefix],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
            self.assertEqual(proc.returncode, 0, proc.stdout.decode("utf-8", "replace"))
            page = os.path.join(prefix, "share", "man", "man1", "referral.1")
            self.assertTrue(os.path.isfile(page), proc.stdout.decode("utf-8", "replace"))
            with open(page, "rb") as installed, open(PAGE, "rb") as source:
                self.assertEqual(installed.read(), source.read())


class Initialised(StoreCase):
    """A store initialised on the reference plan, holding nothing, or
    BASE_EVENTS when the class says so."""
    with_base = False

    def setUp(self):
        super().setUp()
        self.init()
        if self.with_base:
            self.ingest_events(BASE_EVENTS, "base.jsonl")


class Options(Initialised):
    with_base = True

    def assert_usage_names(self, r, message):
        self.assertEqual(r.code, USAGE, r)
        self.assertEqual(r.out, "", r)
        self.assertEqual(r.err.splitlines()[0], message, r)

    def test_double_dash_ends_options(self):
        write(self.path("-weird-name.jsonl"), jsonl([order("o1", 10, "10.00")]))
        r = self.expect(OK, "ingest", self.db, "--", "-weird-name.jsonl", cwd=self.dir)
        self.assertEqual(r.out, "ingested 1, duplicates 0\n")
        # without "--" it is an option, and an unknown one
        r = run("ingest", self.db, "-weird-name.jsonl", cwd=self.dir)
        self.assert_usage_names(r, 'referral ingest: unknown option "-weird-name.jsonl"')

    def test_after_double_dash_help_is_an_operand(self):
        r = self.expect(IO, "ingest", self.db, "--", "--help", cwd=self.dir)
        self.assertIn("--help", r.err)
        self.assertEqual(r.out, "")

    def test_dash_alone_is_standard_input(self):
        for args in (["ingest", self.db, "-"], ["ingest", self.db, "--", "-"],
                     ["ingest", "--", self.db, "-"]):
            with self.subTest(args=args[2:]):
                r = self.expect(OK, *args, stdin=jsonl([order("o1", 10, "10.00")]))
                self.assertIn(r.out, ("ingested 1, duplicates 0\n", "ingested 0, duplicates 1\n"))

    def test_unknown_option_is_named(self):
        cases = [
            (["export", self.db, "lines", "--perod", "2026-01"],
             'referral export: unknown option "--perod"'),
            (["export", self.db, "lines", "--perod=2026-01"],
             'referral export: unknown option "--perod"'),
            (["settle", self.db, "2026-01", "--dry-run"],
             'referral settle: unknown option "--dry-run"'),
            (["close", "-f", self.db, "2026-01"], 'referral close: unknown option "-f"'),
            (["verify", self.db, "--period", "2026-01"],
             'referral verify: unknown option "--period"'),
            (["init", self.store_name("new.db"), "--plans", "p.json"],
             'referral init: unknown option "--plans"'),
        ]
        for args, message in cases:
            with self.subTest(args=args[:1] + args[2:]):
                self.assert_usage_names(run(*args), message)
        self.assertFalse(store_exists(self.store_name("new.db")))

    def test_option_without_its_value_is_named(self):
        cases = [
            (["export", self.db, "lines", "--period"],
             'referral export: option "--period" needs a value'),
            (["export", self.db, "lines", "--format"],
             'referral export: option "--format" needs a value'),
            (["plan", self.db, "plan.json", "--from"],
             'referral plan: option "--from" needs a value'),
            (["init", self.store_name("new.db"), "--plan"],
             'referral init: option "--plan" needs a value'),
        ]
        for args, message in cases:
            with self.subTest(args=args[:1] + args[2:]):
                self.assert_usage_names(run(*args), message)
        self.assertFalse(store_exists(self.store_name("new.db")))

    def test_options_anywhere_and_with_equals(self):
        self.ingest_events([order("o1", 10, "1000.00")], "o1.jsonl")
        self.expect(OK, "settle", self.db, "2026-01")
        want = self.export("lines", "--period", "2026-01", "--format", "json")
        self.assertIn('"commission"', want)
        for args in (["export", self.db, "lines", "--period=2026-01", "--format=json"],
                     ["export", "--format", "json", self.db, "--period", "2026-01", "lines"],
                     ["export", self.db, "--format=json", "lines", "--period", "2026-01"]):
            with self.subTest(args=args[1:]):
                self.assertEqual(self.expect(OK, *args).out, want)

    def test_too_many_operands_are_named(self):
        r = run("settle", self.db, "2026-01", "2026-02")
        self.assert_usage_names(r, 'referral settle: unexpected argument "2026-02"')


class ByteOrderMark(Initialised):

    def test_bom_at_the_start_is_skipped(self):
        data = BOM + jsonl(BASE_EVENTS + [order("o1", 10, "1000.00")]).encode()
        path = self.path("bom.jsonl")
        with open(path, "wb") as f:
            f.write(data)
        r = self.expect(OK, "ingest", self.db, path)
        self.assertEqual(r.out, "ingested 5, duplicates 0\n")
        # the same through standard input and gzip: all duplicates
        r = self.expect(OK, "ingest", self.db, "-", stdin=data)
        self.assertEqual(r.out, "ingested 0, duplicates 5\n")
        r = self.expect(OK, "ingest", self.db, "-", stdin=gzip.compress(data))
        self.assertEqual(r.out, "ingested 0, duplicates 5\n")

    def test_bom_elsewhere_is_a_bad_line_shown_as_u_feff(self):
        lines = jsonl(BASE_EVENTS).encode().splitlines(keepends=True)
        cases = {
            "line2.jsonl": lines[0] + BOM + b"".join(lines[1:]),
            "middle.jsonl": lines[0] + lines[1].replace(b",", b"," + BOM, 1) + b"".join(lines[2:]),
            "twice.jsonl": BOM + BOM + b"".join(lines),
        }
        want_line = {"line2.jsonl": 2, "middle.jsonl": 2, "twice.jsonl": 1}
        for name, data in cases.items():
            with self.subTest(name=name):
                with open(self.path(name), "wb") as f:
                    f.write(data)
                r = run("ingest", self.db, name, cwd=self.dir)
                self.assertEqual(r.code, INPUT, r)
                first = r.err.splitlines()[0]
                self.assertTrue(first.startswith("%s:%d: " % (name, want_line[name])), r)
                self.assertIn("U+FEFF", first)
                self.assertNotIn("\ufeff", r.err)
        self.assertEqual(self.export("members"), MEMBERS_HEADER)


class Gzip(Initialised):

    def setUp(self):
        super().setUp()
        self.text = jsonl(BASE_EVENTS + [order("o%d" % i, 10, "10.00") for i in range(1, 301)])

    def gz_file(self, name, data):
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_gzip_file_ingests_as_its_text(self):
        path = self.gz_file("january.jsonl.gz", gzip.compress(self.text.encode()))
        r = self.expect(OK, "ingest", self.db, path)
        self.assertEqual(r.out, "ingested 304, duplicates 0\n")
        # m1: 300 orders of 10.00, 1 point a yuan
        self.assertEqual(self.export("members"),
                         MEMBERS_HEADER + "m1,3000.00,3000.00,silver,,silver\n")
        r = self.expect(OK, "ingest", self.db, write(self.path("plain.jsonl"), self.text))
        self.assertEqual(r.out, "ingested 0, duplicates 304\n")

    def test_gzip_is_known_by_its_bytes_not_its_name(self):
        path = self.gz_file("january.jsonl", gzip.compress(self.text.encode()))
        self.assertEqual(self.expect(OK, "ingest", self.db, path).out,
                         "ingested 304, duplicates 0\n")
        # and a plain file named .gz is read as plain text
        path = write(self.path("plain.gz"), self.text)
        self.assertEqual(self.expect(OK, "ingest", self.db, path).out,
                         "ingested 0, duplicates 304\n")

    def test_gzip_on_standard_input(self):
        data = gzip.compress(self.text.encode())
        r = self.expect(OK, "ingest", self.db, "-", stdin=data)
        self.assertEqual(r.out, "ingested 304, duplicates 0\n")
        path = self.gz_file("january.jsonl.gz", data)
        with open(path, "rb") as f:      # `referral ingest DB - < file.gz`: a regular file
            proc = subprocess.run([CLI, "ingest", self.db, "-"], stdin=f,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(proc.returncode, OK, proc.stderr)
        self.assertEqual(proc.stdout, b"ingested 0, duplicates 304\n")

    def test_zcat_into_standard_input(self):
        if not shutil.which("zcat"):
            self.skipTest("no zcat")
        path = self.gz_file("january.jsonl.gz", gzip.compress(self.text.encode()))
        zcat = subprocess.Popen(["zcat", path], stdout=subprocess.PIPE)
        proc = subprocess.run([CLI, "ingest", self.db, "-"], stdin=zcat.stdout,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        zcat.stdout.close()
        self.assertEqual(zcat.wait(), 0)
        self.assertEqual(proc.returncode, OK, proc.stderr)
        self.assertEqual(proc.stdout, b"ingested 304, duplicates 0\n")

    def test_members_one_after_the_other_read_as_one_text(self):
        half = len(self.text) // 2
        cut = self.text.rindex("\n", 0, half) + 1
        data = gzip.compress(self.text[:cut].encode()) + gzip.compress(self.text[cut:].encode())
        path = self.gz_file("two.gz", data)
        self.assertEqual(self.expect(OK, "ingest", self.db, path).out,
                         "ingested 304, duplicates 0\n")

    def test_bad_lines_in_gzip_name_file_and_line(self):
        text = self.text + jsonl([order("o-bad", 10, "+5")])
        path = self.gz_file("bad.jsonl.gz", gzip.compress(text.encode()))
        r = self.expect(INPUT, "ingest", self.db, "bad.jsonl.gz", cwd=self.dir)
        self.assertTrue(r.err.startswith("bad.jsonl.gz:305: "), r)
        self.assertIn("o-bad", r.err.splitlines()[0])
        self.assertTrue(os.path.exists(path))
        self.assertEqual(self.export("members"), MEMBERS_HEADER)

    def test_corrupt_gzip_is_an_input_failure_naming_the_file(self):
        good = gzip.compress(self.text.encode())
        flipped = bytearray(good)
        for i in range(len(good) // 3, len(good) // 3 + 8):
            flipped[i] ^= 0x55
        crc = bytearray(good)
        crc[-6] ^= 0xFF          # the CRC-32 of the text
        cases = {
            "truncated.gz": good[:len(good) // 2],
            "flipped.gz": bytes(flipped),
            "crc.gz": bytes(crc),
            "trailing.gz": good + b"and then some",
            "header.gz": good[:2] + b"\x09" + good[3:],     # an unknown method
            "magic-only.gz": good[:2],
        }
        for name, data in cases.items():
            with self.subTest(name=name):
                self.gz_file(name, data)
                r = run("ingest", self.db, name, cwd=self.dir)
                self.assertEqual(r.code, IO, r)
                self.assertIn("%s: not a valid gzip stream: " % name, r.err)
                self.assertEqual(r.out, "")
                # a message, not a list of bad lines
                self.assertNotRegex(r.err, r"(?m)^%s:\d+:" % re.escape(name))
        self.assertEqual(self.export("members"), MEMBERS_HEADER)
        r = self.expect(IO, "ingest", self.db, "-", stdin=good[:len(good) // 2])
        self.assertIn("-: not a valid gzip stream: ", r.err)
        self.assertEqual(self.export("members"), MEMBERS_HEADER)


class TerminalProgress(Initialised):
    """Progress on a terminal: what is drawn, and that nothing is left over."""
    with_base = True

    def assert_progress_drawn(self, shown, phase):
        self.assertIn(b"\r", shown)
        self.assertIn(b"\x1b[K", shown)
        lines, states = screen_states(shown)
        self.assertTrue(states, shown)
        for state in states:
            self.assertRegex(state, PROGRESS_LINE)
            self.assertTrue(state.startswith(phase + ": "), state)
        self.assertTrue(shown.endswith(b"\n"), shown[-200:])
        self.assertEqual(lines[-1], states[-1])
        return lines, states

    def test_ingest_shows_a_percentage_of_the_file(self):
        path = write(self.path("shares.jsonl"), jsonl(shares(9000)))
        code, out, shown, _ = on_terminal(["ingest", self.db, path])
        self.assertEqual(code, OK, shown)
        self.assertEqual(out, b"ingested 9000, duplicates 0\n")
        _, states = self.assert_progress_drawn(shown, "ingest")
        self.assertTrue(any(re.match(r"ingest: \d+% \(", s) for s in states), states)
        self.assertRegex(states[-1], r"^ingest: 100% \(([0-9.]+ [a-zA-Z]+) of \1\)$")

    def test_gzip_ingest_shows_a_percentage_of_the_compressed_file(self):
        path = self.path("shares.jsonl.gz")
        with open(path, "wb") as f:
            f.write(gzip.compress(jsonl(shares(9000)).encode()))
        code, out, shown, _ = on_terminal(["ingest", self.db, path])
        self.assertEqual(code, OK, shown)
        _, states = self.assert_progress_drawn(shown, "ingest")
        self.assertTrue(any(re.match(r"ingest: \d+% \(", s) for s in states), states)

    def test_ingest_from_a_pipe_shows_what_was_read(self):
        path = write(self.path("shares.jsonl"), jsonl(shares(9000)))
        cat = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
        code, out, shown, _ = on_terminal(["ingest", self.db, "-"], stdin=cat.stdout)
        self.assertEqual(cat.wait(), 0)
        self.assertEqual(code, OK, shown)
        self.assertEqual(out, b"ingested 9000, duplicates 0\n")
        _, states = self.assert_progress_drawn(shown, "ingest")
        self.assertTrue(any(s.endswith(" read") for s in states), states)

    def test_settle_close_and_verify_show_their_own_phase(self):
        # settlement reports every 65,536 events of the period
        self.ingest_events(shares(70000) + [order("o1", 10, "1000.00")], "shares.jsonl")
        for cmd, out in (("settle", b""), ("close", b""), ("verify", b"verify: ok\n")):
            with self.subTest(cmd=cmd):
                args = [cmd, self.db] + (["2026-01"] if cmd != "verify" else [])
                code, got, shown, _ = on_terminal(args)
                self.assertEqual(code, OK, shown)
                self.assertEqual(got, out)
                _, states = self.assert_progress_drawn(shown, cmd)
                self.assertTrue(any(re.match(r"%s: \d+%% \([0-9,]+ of 70,001 events\)$" % cmd, s)
                                    for s in states), states)

    def test_redraws_at_most_about_ten_a_second(self):
        # a million blank lines: a report every 4,096 lines, 244 in all, in
        # well under a second
        path = self.path("blank.jsonl")
        with open(path, "wb") as f:
            f.write(b"\n" * 1000000)
        code, out, shown, seconds = on_terminal(["ingest", self.db, path])
        self.assertEqual(code, OK, shown)
        self.assertEqual(out, b"ingested 0, duplicates 0\n")
        _, states = self.assert_progress_drawn(shown, "ingest")
        self.assertLessEqual(len(states), 10 * seconds + 3, states)
        self.assertEqual(states[-1].split(" (")[0], "ingest: 100%")

    def test_a_short_run_draws_nothing(self):
        for args in (["settle", self.db, "2026-01"], ["ingest", self.db, self.path("base.jsonl")]):
            with self.subTest(cmd=args[0]):
                code, _, shown, _ = on_terminal(args)
                self.assertEqual(code, OK, shown)
                self.assertEqual(shown, b"")

    def test_messages_after_progress_start_on_a_line_of_their_own(self):
        text = jsonl(shares(9000)) + jsonl([order("o-bad", 10, "+5")])
        path = write(self.path("bad.jsonl"), text)
        code, out, shown, _ = on_terminal(["ingest", self.db, "bad.jsonl"], cwd=self.dir)
        self.assertEqual(code, INPUT, shown)
        lines, _ = screen_states(shown)
        self.assertRegex(lines[0], PROGRESS_LINE)
        self.assertTrue(lines[1].startswith("bad.jsonl:9001: "), lines)
        self.assertTrue(os.path.exists(path))

    def test_quiet_when_standard_error_is_not_a_terminal(self):
        path = self.path("shares.jsonl.gz")
        with open(path, "wb") as f:
            f.write(gzip.compress(jsonl(shares(9000)).encode()))
        self.assertEqual(self.expect(OK, "ingest", self.db, path).err, "")
        self.assertEqual(self.expect(OK, "ingest", self.db, "-", stdin=b"\n" * 100000).err, "")


if __name__ == "__main__":
    unittest.main()
