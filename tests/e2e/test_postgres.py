"""The `referral` command on a PostgreSQL store: the worked example of
tests/fixtures/basic replayed with DB a brand's URI gives every expected file
byte for byte, as on a SQLite file (the same test class, another DB), and
every other output of it is the bytes the SQLite file gives; init of an
existing brand exits 4, a bad brand name exits 2 naming it.

Runs when REFERRAL_TEST_PG names a database (./scripts/test.sh --postgres
sets it), skipped otherwise. Each test makes a brand of its own and drops it.
"""
import os
import subprocess
import unittest

import test_basic_example as basic
from helpers import BASIC_DIR, OK, STATE, USAGE, StoreCase, run

PG = os.environ.get("REFERRAL_TEST_PG")
_count = [0]


def brand_uri(base, brand):
    return "%s%sbrand=%s" % (base, "&" if "?" in base else "?", brand)


def drop_brand(brand):
    subprocess.run(["psql", "-q", "-d", PG, "-c", 'DROP SCHEMA IF EXISTS "%s" CASCADE' % brand],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


class PgStore:
    """Mixed into a StoreCase: self.db is a fresh brand of REFERRAL_TEST_PG."""

    def setUp(self):
        if not PG:
            self.skipTest("REFERRAL_TEST_PG is not set (run ./scripts/test.sh --postgres)")
        super().setUp()
        _count[0] += 1
        self.brand = "e2e_%d_%d" % (os.getpid(), _count[0])
        self.db = brand_uri(PG, self.brand)
        self.addCleanup(drop_brand, self.brand)


class BasicExampleOnPostgres(PgStore, basic.BasicExample):
    """Every test of test_basic_example.py, on a brand."""


class SameAsSqlite(PgStore, StoreCase):
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


class Brands(PgStore, StoreCase):

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
