"""The roles of docs/postgres-roles.sql, end to end on a PostgreSQL server.

Runs when REFERRAL_TEST_PG names a database (./scripts/test.sh --postgres
sets it) and is skipped otherwise. A brand of its own is made and its three
roles set up with the documented script; each command is then run as each
role (the connection sets the role: options=-crole=...). What a role may not
do fails with exit 5 and a message naming the right and the table, and
leaves every table of the brand as it was.
"""
import os
import subprocess
import unittest

import tempfile

from helpers import INPUT, IO, OK, SOURCE_DIR, VERIFY, at, fixture, jsonl, order, run, write

PG = os.environ.get("REFERRAL_TEST_PG")
ROLES_SQL = os.path.join(SOURCE_DIR, "docs", "postgres-roles.sql")
BASIC = fixture("basic")
TABLES = ("events", "plans", "closes", "drafts", "statements", "grades", "snapshots",
          "holds", "networks", "member_events", "member_events_mark")
# more events than a redeem's check lets the log run past member_events
# (MEMBER_EVENTS_TAIL in libreferral/engines/postgres_log.c)
TAIL = 4096


def psql(sql, *extra):
    proc = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", PG,
                           *extra, "-c", sql], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode:
        raise AssertionError("psql failed: %s\n%s" % (sql, proc.stderr))
    return proc.stdout.strip()


@unittest.skipUnless(PG, "REFERRAL_TEST_PG is not set (./scripts/test.sh --postgres)")
class RolesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.brand = "roles_%d" % os.getpid()
        cls.roles = [cls.brand + s for s in ("_ingest", "_finance", "_auditor")]
        cls.drop()
        sep = "&" if "?" in PG else "?"
        cls.uri = "%s%sbrand=%s" % (PG, sep, cls.brand)
        r = run("init", cls.uri, "--plan", os.path.join(BASIC, "plan.json"))
        assert r.code == OK, r
        proc = subprocess.run(["psql", "-X", "-q", "-v", "brand=" + cls.brand, "-d", PG,
                               "-f", ROLES_SQL], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "ERROR" not in proc.stderr, proc.stderr

    @classmethod
    def tearDownClass(cls):
        cls.drop()

    @classmethod
    def drop(cls):
        psql("DROP SCHEMA IF EXISTS %s CASCADE" % cls.brand)
        for role in cls.roles:
            if psql("SELECT count(*) FROM pg_roles WHERE rolname = '%s'" % role) == "1":
                psql("DROP OWNED BY %s; DROP ROLE %s" % (role, role))

    def as_role(self, suffix):
        return "%s&options=-crole%%3D%s%s" % (self.uri, self.brand, suffix)

    def state(self):
        """Every table of the brand, row by row, as text."""
        return {t: psql("SELECT coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')"
                        " FROM %s.%s x" % (self.brand, t)) for t in TABLES}

    def refused(self, role, right, table, *args):
        before = self.state()
        r = run(*args[:1], self.as_role(role), *args[1:])
        self.assertEqual(r.code, IO, r)
        self.assertIn("the role %s%s lacks the right to %s on %s" % (self.brand, role, right,
                                                                    table), r.err)
        self.assertEqual(self.state(), before, "a refused command changed the store")

    def ok(self, role, *args):
        r = run(*args[:1], self.as_role(role), *args[1:])
        self.assertEqual(r.code, OK, r)
        return r

    def test_roles(self):
        batch1 = os.path.join(BASIC, "batch1.jsonl")
        batch2 = os.path.join(BASIC, "batch2.jsonl")
        plan = os.path.join(BASIC, "plan.json")
        # ingest appends, and nothing else
        self.refused("_auditor", "INSERT", "events", "ingest", batch1)
        self.refused("_finance", "INSERT", "events", "ingest", batch1)
        self.ok("_ingest", "ingest", batch1)
        self.refused("_ingest", "DELETE", "statements", "settle", "2026-01")
        self.refused("_ingest", "DELETE", "statements", "close", "2026-01")
        self.refused("_ingest", "INSERT", "plans", "plan", plan, "--from", "2026-03")
        self.refused("_auditor", "DELETE", "statements", "settle", "2026-01")
        # finance settles, closes, adds plans; never the log
        self.ok("_finance", "settle", "2026-01")
        self.ok("_finance", "close", "2026-01")
        self.ok("_finance", "plan", plan, "--from", "2026-03")
        self.ok("_ingest", "ingest", batch2)
        # a redeem's check past the tail brings member_events up to date:
        # m1 has 2391.37 - 1000.00 + 4,100 orders of 1.00 = 5491.37 points
        with tempfile.TemporaryDirectory(prefix="referral-roles-") as tmp:
            def batch(name, events):
                return write(os.path.join(tmp, name), jsonl(events))
            self.ok("_ingest", "ingest", batch("orders.jsonl", [
                order("p%d" % i, 10, "1.00", month=2) for i in range(TAIL + 4)]))
            redeem = {"type": "redeem", "id": "r1", "at": at(20, 12, 2), "member": "m1"}
            r = run("ingest", self.as_role("_ingest"),
                    batch("over.jsonl", [dict(redeem, points="5491.38")]))
            self.assertEqual(r.code, INPUT, r)
            self.assertIn("the balance 5491.37 of member", r.err)
            self.ok("_ingest", "ingest", batch("redeem.jsonl", [dict(redeem, points="5491.37")]))
        self.assertEqual(psql("SELECT count(*) FROM %s.member_events" % self.brand),
                         str(TAIL + 4 + 1))
        self.refused("_finance", "INSERT", "events", "ingest",
                     os.path.join(BASIC, "batch3.jsonl"))
        # the auditor reads all there is
        for args in (("export", "statements"), ("export", "lines", "--period", "2026-01"),
                     ("export", "payouts", "--period", "2026-01"), ("verify",),
                     ("explain", "D1", "--period", "2026-01")):
            before = self.state()
            self.ok("_auditor", *args)
            self.assertEqual(self.state(), before, args)
        # what the owner changes behind the triggers' back, verify finds
        psql("ALTER TABLE %s.events DISABLE TRIGGER USER;"
             " UPDATE %s.events SET num = '9999.00' WHERE type = 9 AND num IS NOT NULL"
             " AND seq = (SELECT min(seq) FROM %s.events WHERE type = 9);"
             " ALTER TABLE %s.events ENABLE TRIGGER USER" % ((self.brand,) * 4))
        r = run("verify", self.as_role("_auditor"))
        self.assertEqual(r.code, VERIFY, r)


if __name__ == "__main__":
    unittest.main()
