"""What a hostile test of the `referral` command found, each case as the
command shows it: numbers in unknown fields, files that are not stores, a
directory or a plan with a NUL byte given as input, an unknown schema
version. The library's side of each is tested in tests/test_findings.c.
On PostgreSQL a store that is not one is a schema of the brand's name that
another program made.
"""
import os
import unittest

from helpers import (BASE_EVENTS, INPUT, IO, OK, PG, REFERENCE_PLAN, StoreCase, brand_of,
                     foreign_store, sqlite_only, store_exists, store_sql, write)


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

    @staticmethod
    def contents(name):
        """What another program keeps at NAME: the file's bytes, or the
        tables of the brand's schema and the rows of its table t."""
        if PG:
            return store_sql(name, "", pg="SELECT string_agg(table_name, ',' ORDER BY table_name)"
                             " FROM information_schema.tables"
                             " WHERE table_schema = current_schema(); SELECT * FROM t")
        with open(name, "rb") as f:
            return f.read()

    def test_a_foreign_database_is_not_written(self):
        other = self.store_name("other.db")
        foreign_store(other)
        if PG:
            want = 'referral: brand "%s": the schema "%s" is not a libreferral store\n' % (
                (brand_of(other),) * 2)
        else:
            want = 'referral: store "%s": not a libreferral store\n' % other
        before = self.contents(other)
        for args in (["export", other, "members"], ["verify", other]):
            r = self.expect(IO, *args)
            self.assertEqual(r.err, want)
        self.assertEqual(self.contents(other), before)
        if not PG:  # not switched to WAL
            self.assertEqual(store_sql(other, "PRAGMA journal_mode"), [("delete",)])

    @sqlite_only("an empty file (an empty schema is a foreign one: the test above)")
    def test_an_empty_file_stays_empty(self):
        empty = write(self.path("empty.db"), "")
        r = self.expect(IO, "verify", empty)
        self.assertEqual(r.err, 'referral: store "%s": not initialised (run init)\n' % empty)
        self.assertEqual(os.path.getsize(empty), 0)

    def test_an_unknown_schema_version_is_named(self):
        store_sql(self.db, "PRAGMA user_version = -1", pg="UPDATE meta SET version = -1")
        r = self.expect(IO, "verify", self.db)
        # schema versions: SQLite files 1 to 5, PostgreSQL brands 1 to 2 (docs/design.md)
        if PG:
            want = 'brand "%s": schema version -1 is unknown (this library knows 1 to 2)' % (
                brand_of(self.db))
        else:
            want = 'store "%s": schema version -1 is unknown (this library knows 1 to 5)' % self.db
        self.assertEqual(r.err, "referral: %s\n" % want)

    def test_a_directory_as_input_says_so(self):
        r = self.expect(IO, "ingest", self.db, self.dir)
        self.assertEqual(r.err, "referral: %s: cannot open: Is a directory\n" % self.dir)

    def test_a_plan_holding_a_nul_byte_is_refused(self):
        with open(REFERENCE_PLAN, "rb") as f:
            text = f.read()
        plan = self.path("nul.json")
        with open(plan, "wb") as f:
            f.write(text + b"\0garbage")
        new = self.store_name("new.db")
        r = self.expect(INPUT, "init", new, "--plan", plan)
        self.assertEqual(r.err, 'referral: plan "%s": a NUL byte at offset %d: a plan is JSON '
                         'text\n' % (plan, len(text)))
        self.assertFalse(store_exists(new))
        self.expect(INPUT, "plan", self.db, plan, "--from", "2026-02")

    def test_a_byte_order_mark_inside_a_line_is_named(self):
        lines = '{"type":"order","id":"o\ufeff1","at":"2026-01-10T12:00:00+08:00","member":"m1",' \
                '"amount":"1.00"}\n'
        r = self.expect(INPUT, "ingest", self.db, write(self.path("bom.jsonl"), lines))
        self.assertIn('order "oU+FEFF1": field "id"', r.err)
        self.assertNotIn("\ufeff", r.err)


if __name__ == "__main__":
    unittest.main()
