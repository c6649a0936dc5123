"""What a hostile test of the `referral` command found, each case as the
command shows it: numbers in unknown fields, files that are not stores, a
directory or a plan with a NUL byte given as input, an unknown schema
version. The library's side of each is tested in tests/test_findings.c.
"""
import os
import sqlite3
import unittest

from helpers import BASE_EVENTS, INPUT, IO, OK, REFERENCE_PLAN, StoreCase, write


class Hostile(StoreCase):

    def setUp(self):
        super().setUp()
        self.init()
        self.ingest_events(BASE_EVENTS)

    def test_huge_numbers_in_unknown_fields_are_ignored(self):
        lines = ('{"type":"order","id":"o1","at":"2026-01-10T12:00:00+08:00","member":"m1",'
                 '"amount":"1.00","extra":123456789012345678901234567890}\n'
                 '{"type":"order","id":"o2","at":"2026-01-10T12:00:00+08:00","member":"m1",'
                 '"amount":"1.00","extra":1e999999}\n')
        r = self.expect(OK, "ingest", self.db, write(self.path("x.jsonl"), lines))
        self.assertEqual(r.out, "ingested 2, duplicates 0\n")

    def test_a_foreign_database_is_not_switched_to_wal(self):
        other = self.path("other.db")
        con = sqlite3.connect(other)
        con.execute("CREATE TABLE t(x)")
        con.commit()
        con.close()
        with open(other, "rb") as f:
            before = f.read()
        for args in (["export", other, "members"], ["verify", other]):
            r = self.expect(IO, *args)
            self.assertEqual(r.err, 'referral: store "%s": not a libreferral store\n' % other)
        with open(other, "rb") as f:
            self.assertEqual(f.read(), before)
        con = sqlite3.connect(other)
        self.assertEqual(con.execute("PRAGMA journal_mode").fetchone()[0], "delete")
        con.close()

    def test_an_empty_file_stays_empty(self):
        empty = write(self.path("empty.db"), "")
        r = self.expect(IO, "verify", empty)
        self.assertEqual(r.err, 'referral: store "%s": not initialised (run init)\n' % empty)
        self.assertEqual(os.path.getsize(empty), 0)

    def test_an_unknown_schema_version_is_named(self):
        con = sqlite3.connect(self.db)
        con.execute("PRAGMA user_version = -1")
        con.close()
        r = self.expect(IO, "verify", self.db)
        self.assertEqual(r.err, 'referral: store "%s": schema version -1 is unknown (this '
                         'library knows 1 to 5)\n' % self.db)

    def test_a_directory_as_input_says_so(self):
        r = self.expect(IO, "ingest", self.db, self.dir)
        self.assertEqual(r.err, "referral: %s: cannot open: Is a directory\n" % self.dir)

    def test_a_plan_holding_a_nul_byte_is_refused(self):
        with open(REFERENCE_PLAN, "rb") as f:
            text = f.read()
        plan = self.path("nul.json")
        with open(plan, "wb") as f:
            f.write(text + b"\0garbage")
        r = self.expect(INPUT, "init", self.path("new.db"), "--plan", plan)
        self.assertEqual(r.err, 'referral: plan "%s": a NUL byte at offset %d: a plan is JSON '
                         'text\n' % (plan, len(text)))
        self.assertFalse(os.path.exists(self.path("new.db")))
        self.expect(INPUT, "plan", self.db, plan, "--from", "2026-02")

    def test_a_byte_order_mark_inside_a_line_is_named(self):
        lines = '{"type":"order","id":"o\ufeff1","at":"2026-01-10T12:00:00+08:00","member":"m1",' \
                '"amount":"1.00"}\n'
        r = self.expect(INPUT, "ingest", self.db, write(self.path("bom.jsonl"), lines))
        self.assertIn('order "oU+FEFF1": field "id"', r.err)
        self.assertNotIn("\ufeff", r.err)


if __name__ == "__main__":
    unittest.main()
