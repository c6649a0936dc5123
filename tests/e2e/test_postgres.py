"""The `referral` command on a PostgreSQL store: every output of the worked
example of tests/fixtures/basic on a brand is the bytes a SQLite file gives;
init of an existing brand exits 4, a bad brand name exits 2 naming it. (The
worked example itself, and every other end-to-end test, runs on a brand in
the PostgreSQL pass: tests/python/engine.py.)

Runs when REFERRAL_TEST_PG names a database (./scripts/test.sh --postgres
sets it), skipped otherwise.
"""
import unittest

import test_basic_example as basic
from helpers import BASIC_DIR, OK, PG, STATE, USAGE, StoreCase, brand_of, run


def brand_uri(base, brand):
    return "%s%sbrand=%s" % (base, "&" if "?" in base else "?", brand)


class PgStore(StoreCase):
    """A StoreCase whose self.db is a brand of REFERRAL_TEST_PG, self.brand."""

    def setUp(self):
        if not PG:
            self.skipTest("REFERRAL_TEST_PG is not set (run ./scripts/test.sh --postgres)")
        super().setUp()
        self.brand = brand_of(self.db)


class SameAsSqlite(PgStore):
    """The worked example on a brand and in a SQLite file: every export, in
    every format, explain and the month-end page are the same bytes."""

    def replay(self, db):
        for cmd, *rest in basic.script_steps():
            args = {"init": ["init", db, "--plan"] + rest, "verify": ["verify", db]}.get(
                cmd, [cmd, db] + rest)
            r = run(*args, cwd=BASIC_DIR)
            self.assertEqual(r.code, OK, r)

    def test_every_output_is_the_same(self):
        sqlite_db = self.path("basic.db")
        self.replay(self.db)
        self.replay(sqlite_db)
        outputs = [["export", table, "--format", fmt]
                   for table in ("statements", "lines", "grades", "members", "payouts", "stores",
                                 "distributors", "tree")
                   for fmt in ("csv", "json")]
        outputs += [["export", "tree", "--format", "dot"],
                    ["export", "lines", "--period", "2026-02"],
                    ["explain", "D1", "--period", "2026-02"],
                    ["explain", "D1", "--period", "2026-03", "--format", "json"]]
        for words in outputs:
            with self.subTest(output=" ".join(words)):
                pg = run(words[0], self.db, *words[1:], cwd=BASIC_DIR)
                sq = run(words[0], sqlite_db, *words[1:], cwd=BASIC_DIR)
                self.assertEqual(pg.code, OK, pg)
                self.assertEqual(pg.raw_out, sq.raw_out)
        for db, name in ((self.db, "pg.html"), (sqlite_db, "sqlite.html")):
            r = run("report", db, "--period", "2026-03", "--output", self.path(name))
            self.assertEqual(r.code, OK, r)
        with open(self.path("pg.html"), "rb") as a, open(self.path("sqlite.html"), "rb") as b:
            self.assertEqual(a.read(), b.read(), "the month-end pages differ")


class Brands(PgStore):

    def test_init_of_an_existing_brand_exits_4(self):
        r = run("init", self.db, "--plan", "plan.json", cwd=BASIC_DIR)
        self.assertEqual(r.code, OK, r)
        r = run("init", self.db, "--plan", "plan.json", cwd=BASIC_DIR)
        self.assertEqual(r.code, STATE, r)
        self.assertIn('brand "%s" already exists' % self.brand, r.err)

    def test_a_bad_brand_name_exits_2_naming_it(self):
        r = run("init", brand_uri(PG, "Bad-Name"), "--plan", "plan.json", cwd=BASIC_DIR)
        self.assertEqual(r.code, USAGE, r)
        self.assertIn('brand "Bad-Name"', r.err)


if __name__ == "__main__":
    unittest.main()
