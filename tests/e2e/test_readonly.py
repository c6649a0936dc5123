"""A store that cannot be written: in a read-only directory, or on a
filesystem mounted read-only. Reading it (export, verify) works as on a
writable store; every command that writes exits 5 naming what is
read-only, and the file is left as it was.

Run as root (as CI is), permissions do not stop a write, so the store is
put on a small tmpfs mounted for the test and remounted read-only; as
another user, in a directory of mode 555. The test is skipped, saying why,
only when neither can be had, and on PostgreSQL, where what may not be
written is a role's rights (tests/e2e/test_postgres_roles.py).
"""
import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

from helpers import (BASE_EVENTS, IO, OK, REFERENCE_PLAN, StoreCase, fixture, jsonl, order,
                     run, sqlite_only, write)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def mount(*args):
    return subprocess.run(["mount"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE).returncode == 0


@sqlite_only("a file on a read-only file system or in a read-only directory"
             " (a role's rights on PostgreSQL: test_postgres_roles.py)")
class ReadOnly(StoreCase):

    def make_store(self):
        """Makes self.db and sets self.want, the exports it gives."""
        self.expect(OK, "init", self.db, "--plan", REFERENCE_PLAN)
        self.expect(OK, "ingest", self.db,
                    write(self.path("base.jsonl"),
                          jsonl(BASE_EVENTS + [order("o1", 10, "1000.00")])))
        self.expect(OK, "close", self.db, "2026-01")
        self.expect(OK, "ingest", self.db,
                    write(self.path("feb.jsonl"), jsonl([order("o2", 10, "50.00", month=2)])))
        self.expect(OK, "settle", self.db, "2026-02")
        self.want = {t: self.export(t) for t in ("statements", "lines", "grades", "members")}

    def setUp(self):
        super().setUp()
        self.make_store()
        self.ro_dir = self.path("ro")
        os.mkdir(self.ro_dir)
        self.mounted = False
        if os.geteuid() == 0:
            # root writes through any mode: a filesystem mounted read-only
            if not mount("-t", "tmpfs", "-o", "size=8m,mode=755", "tmpfs", self.ro_dir):
                self.skipTest("running as root, and a tmpfs cannot be mounted here "
                              "(no CAP_SYS_ADMIN?): nothing would stop a write")
            self.mounted = True
            shutil.copy(self.db, self.ro_dir)
            if not mount("-o", "remount,ro", self.ro_dir):
                self.skipTest("the tmpfs cannot be remounted read-only")
            self.cause = 'the filesystem of the directory "%s" is mounted read-only' % self.ro_dir
        else:
            shutil.copy(self.db, self.ro_dir)
            os.chmod(self.ro_dir, 0o555)
            self.cause = 'the directory "%s" is read-only' % self.ro_dir
        self.ro_db = os.path.join(self.ro_dir, "store.db")
        self.before = digest(self.ro_db)

    def tearDown(self):
        if self.mounted:
            subprocess.run(["umount", self.ro_dir])
        elif os.path.isdir(self.ro_dir):
            os.chmod(self.ro_dir, 0o755)
        super().tearDown()

    def assert_untouched(self):
        self.assertEqual(digest(self.ro_db), self.before)
        self.assertEqual(sorted(os.listdir(self.ro_dir)), ["store.db"])

    def test_reading_works(self):
        for table, text in self.want.items():
            with self.subTest(table=table):
                r = self.expect(OK, "export", self.ro_db, table)
                self.assertEqual(r.out, text)
        r = self.expect(OK, "verify", self.ro_db)
        self.assertEqual(r.out, "verify: ok\n")
        r = self.expect(OK, "export", self.ro_db, "lines", "--format", "json")
        self.assertTrue(r.out.startswith("["), r)
        self.assert_untouched()

    def test_writing_names_what_is_read_only(self):
        more = write(self.path("more.jsonl"), jsonl([order("o3", 11, "5.00", month=2)]))
        cases = [
            ["ingest", self.ro_db, more],
            ["settle", self.ro_db, "2026-02"],
            ["close", self.ro_db, "2026-02"],
            ["plan", self.ro_db, REFERENCE_PLAN, "--from", "2026-03"],
        ]
        for args in cases:
            with self.subTest(args=args[0]):
                r = self.expect(IO, *args)
                self.assertEqual(r.err, 'referral: store "%s": cannot write: %s\n'
                                 % (self.ro_db, self.cause))
        self.assert_untouched()
        self.assertEqual(self.expect(OK, "export", self.ro_db, "statements").out,
                         self.want["statements"])

    def test_init_names_what_is_read_only(self):
        new = os.path.join(self.ro_dir, "new.db")
        r = self.expect(IO, "init", new, "--plan", REFERENCE_PLAN)
        self.assertEqual(r.err, 'referral: store "%s": cannot create: %s\n' % (new, self.cause))
        self.assert_untouched()

    def test_a_log_to_replay_is_named(self):
        """A store whose write-ahead log was left behind cannot be read
        without replaying it, which needs a write: the message says so."""
        if not self.mounted:
            self.skipTest("needs a filesystem that can be remounted (root)")
        subprocess.run(["mount", "-o", "remount,rw", self.ro_dir], check=True)
        with open(self.ro_db + "-wal", "wb") as f:
            f.write(b"\0" * 4096)
        subprocess.run(["mount", "-o", "remount,ro", self.ro_dir], check=True)
        r = self.expect(IO, "verify", self.ro_db)
        self.assertIn("write-ahead log %s-wal must be replayed" % self.ro_db, r.err)
        self.assertIn(self.cause, r.err)


class OlderSchema(ReadOnly):
    """A store of schema version 3 or 4 (made by 558d593 and 10c06b3) that
    cannot be written is read as it is: versions 4 and 5 only rebuilt
    indexes, which a store that cannot be written keeps as they were."""

    VERSION = 3

    def make_store(self):
        dump = fixture("stores/basic-v%d.sql" % self.VERSION)
        with open(dump, encoding="utf-8") as f:
            sql = f.read()
        for path in (self.db, self.path("migrated.db")):
            con = sqlite3.connect(path)
            con.executescript(sql)
            con.close()
        # what the same store gives once migrated, where it can be written
        self.want = {t: self.expect(OK, "export", self.path("migrated.db"), t).out
                     for t in ("statements", "lines", "grades", "members")}

    def test_the_store_keeps_its_version(self):
        self.expect(OK, "verify", self.ro_db)
        con = sqlite3.connect("file:%s?mode=ro&immutable=1" % self.ro_db, uri=True)
        self.assertEqual(con.execute("PRAGMA user_version").fetchone()[0], self.VERSION)
        con.close()
        self.assert_untouched()

    def test_writing_names_what_is_read_only(self):
        more = write(self.path("more.jsonl"), jsonl([order("o9", 10, "5.00", month=4)]))
        for args in (["ingest", self.ro_db, more], ["close", self.ro_db, "2026-04"]):
            with self.subTest(args=args[0]):
                r = self.expect(IO, *args)
                self.assertEqual(r.err, 'referral: store "%s": cannot write: %s\n'
                                 % (self.ro_db, self.cause))
        self.assert_untouched()


class OlderSchema4(OlderSchema):
    VERSION = 4


if __name__ == "__main__":
    unittest.main()
