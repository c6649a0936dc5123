"""Common code of the end-to-end tests of the `referral` command.

The command under test is $REFERRAL_CLI (default: build/referral). The
reference plan and the worked example are the repository's own fixtures,
$REFERRAL_SOURCE_DIR/tests/fixtures. Standard library only.

The stores are SQLite files, or brands of the PostgreSQL database that
REFERRAL_TEST_PG names (tests/python/engine.py, shared with the binding's
tests): a test makes every store of its own with StoreCase.store_name().
"""
import json
import time
import pty
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(os.path.dirname(HERE), "python"))
import engine  # noqa: E402
from engine import (PG, brand_of, drop_store, foreign_store, sqlite_only,  # noqa: E402,F401
                    store_exists, store_named, store_sql)
SOURCE_DIR = os.environ.get("REFERRAL_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
CLI = os.environ.get("REFERRAL_CLI") or os.path.join(SOURCE_DIR, "build", "referral")
FIXTURES_DIR = os.path.join(SOURCE_DIR, "tests", "fixtures")


def store_name(directory, name):
    """The store NAME of a test's DIRECTORY: the file, or a brand e2e_PID_..."""
    return engine.store_name(directory, name, prefix="e2e")


def fixture(name):
    """The path of tests/fixtures/NAME; a missing fixture is an error, never
    a reason to skip (a test that quietly compares nothing passes nothing)."""
    path = os.path.join(FIXTURES_DIR, name)
    if not os.path.exists(path):
        raise FileNotFoundError("the fixture %s is missing (REFERRAL_SOURCE_DIR=%s)"
                                % (path, SOURCE_DIR))
    return path


BASIC_DIR = fixture("basic")
REFERENCE_PLAN = fixture("reference-plan.json")

# Exit codes of INTERFACES.md §2.
OK, USAGE, INPUT, STATE, IO, VERIFY = 0, 2, 3, 4, 5, 6


class Result:
    """What one run of the command did: exit code, stdout and stderr."""

    def __init__(self, args, proc):
        self.args = args
        self.code = proc.returncode
        self.raw_out = proc.stdout
        self.out = proc.stdout.decode("utf-8")
        self.err = proc.stderr.decode("utf-8")

    def __repr__(self):
        return "referral %s -> exit %d\nstdout: %r\nstderr: %r" % (
            " ".join(self.args), self.code, self.out[:2000], self.err[:2000])


def run(*args, stdin=None, cwd=None, timeout=120):
    """Runs `referral ARGS...`; stdin is bytes or str fed to standard input."""
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8")
    proc = subprocess.run([CLI] + [str(a) for a in args], input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          cwd=cwd, timeout=timeout,
                          stdin=None if stdin is not None else subprocess.DEVNULL)
    return Result([str(a) for a in args], proc)


def jsonl(events):
    """The JSON Lines text of a list of event dicts (one compact object a line)."""
    return "".join(json.dumps(e, separators=(",", ":"), ensure_ascii=False) + "\n"
                   for e in events)


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


# A small network on the reference plan, all in 2026-01 (+08:00):
# store s1; R1 (no recruiter) recruits D1; member m1 bound to D1.
def at(day, hour=12, month=1):
    return "2026-%02d-%02dT%02d:00:00+08:00" % (month, day, hour)


BASE_EVENTS = [
    {"type": "store", "id": "s1", "at": at(1, 8), "name": "Store One", "region": "east"},
    {"type": "distributor", "id": "R1", "at": at(2, 9), "kind": "mom", "store": "s1",
     "recruiter": None},
    {"type": "distributor", "id": "D1", "at": at(3, 9), "kind": "doctor", "store": "s1",
     "recruiter": "R1"},
    {"type": "member", "id": "m1", "at": at(4, 9), "distributor": "D1"},
]


def order(oid, day, amount, member="m1", month=1):
    return {"type": "order", "id": oid, "at": at(day, 12, month), "member": member,
            "amount": amount}


class StoreCase(unittest.TestCase):
    """A test with a fresh temporary folder; self.db is a fresh store of its
    own (not created: call self.init())."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="referral-e2e-")
        self.dir = self._tmp.name
        self.db = self.store_name("store.db")

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        """A file in the test's folder."""
        return os.path.join(self.dir, name)

    def store_name(self, name):
        """The store NAME of this test: the file of that name in its folder,
        or a brand of its own on PostgreSQL (the same name, the same store)."""
        return store_name(self.dir, name)

    def cli(self, *args, **kw):
        return run(*args, **kw)

    def expect(self, code, *args, **kw):
        """Runs the command and asserts its exit code; returns the Result."""
        r = run(*args, **kw)
        self.assertEqual(r.code, code, r)
        return r

    def init(self, plan=REFERENCE_PLAN):
        self.expect(OK, "init", self.db, "--plan", plan)

    def ingest_events(self, events, name="batch.jsonl", code=OK):
        return self.expect(code, "ingest", self.db, write(self.path(name), jsonl(events)))

    def export(self, table, *extra):
        return self.expect(OK, "export", self.db, table, *extra).out

    def assert_usage(self, r):
        """A usage error: exit 2, a message on stderr, nothing on stdout."""
        self.assertEqual(r.code, USAGE, r)
        self.assertNotEqual(r.err.strip(), "", r)
        self.assertEqual(r.out, "", r)


def on_terminal(args, stdin=None, cwd=None):
    """Runs `referral ARGS...` with standard error on a pseudo-terminal.
    Returns (exit code, standard output, the bytes drawn on the terminal,
    seconds taken). `stdin` is a file to read standard input from (closed
    here once the command has it)."""
    master, slave = pty.openpty()
    start = time.monotonic()
    try:
        proc = subprocess.Popen([CLI] + [str(a) for a in args],
                                stdin=stdin if stdin else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=slave, cwd=cwd)
    finally:
        os.close(slave)
        if stdin:
            stdin.close()
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:     # EIO: the command exited and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    out = proc.stdout.read()
    proc.stdout.close()
    code = proc.wait()
    return code, out, shown, time.monotonic() - start


# --- reading the month-end page --------------------------------------------------

import html.parser  # noqa: E402
import shutil  # noqa: E402
import struct  # noqa: E402
import zlib  # noqa: E402


class PageTables(html.parser.HTMLParser):
    """Every <table id=...> of a page as {id: [[cell text, ...], ...]}, the
    header row first; and the page's tags, to check what it refers to."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tables, self.tags = {}, []
        self._table = self._row = self._cell = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def chromium():
    """The Chromium command, or None. With REFERRAL_REQUIRE_CHROMIUM=1 (CI)
    a missing one is an error, never a reason to skip."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("REFERRAL_REQUIRE_CHROMIUM") == "1":
        raise FileNotFoundError("REFERRAL_REQUIRE_CHROMIUM=1 but no chromium on PATH")
    return None


def screenshot(page, png, width=1280, height=2000):
    """Renders the HTML file `page` with headless Chromium into `png`."""
    with tempfile.TemporaryDirectory(prefix="referral-chromium-") as profile:
        return subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--user-data-dir=" + profile, "--screenshot=" + png,
             "--window-size=%d,%d" % (width, height), "file://" + os.path.abspath(page)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)


def png_pixels(path):
    """(width, height, set of distinct pixels) of an 8-bit RGB or RGBA PNG,
    read with zlib and struct alone."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s is not a PNG" % path)
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    if depth != 8 or colour not in (2, 6):
        raise ValueError("%s: only 8-bit RGB or RGBA is read here" % path)
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    prev, seen, i = bytearray(stride), set(), 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if len(seen) < 64:
            seen.update(bytes(line[x:x + bpp]) for x in range(0, stride, bpp * 7))
        prev = line
    return width, height, seen
