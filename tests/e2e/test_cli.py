"""End-to-end tests of the `referral` command's contract (INTERFACES.md §2):
ingest and its error reports, every exit code, help, exports and plan versions.

Expected values are computed by hand from SPEC.md on the reference plan
(grade 1: rate 0.05, bounty 20.00; override 0.01; per_yuan 1; half_up).
"""
import json
import os
import re
import unittest

from helpers import (BASE_EVENTS, INPUT, IO, OK, REFERENCE_PLAN, STATE, VERIFY,
                     StoreCase, at, foreign_store, jsonl, on_terminal, order, run, store_exists,
                     store_named, store_sql, write)

COMMANDS = ["init", "plan", "ingest", "settle", "close", "export", "verify"]

STATEMENTS_HEADER = ("period,distributor,store,grade,opening_carry,commission,bounty,"
                     "override,accrued,released,held,total,payable,closing_carry\n")
LINES_HEADER = "period,distributor,type,event,order,member,source,base,rate,value\n"
GRADES_HEADER = "period,distributor,grade,members,sales,shares,store_rating,next_grade\n"
MEMBERS_HEADER = "member,lifetime,balance,tier,sharer,effective_tier\n"

# After BASE_EVENTS + o1 (1000.00): m1 has 1000 x per_yuan 1 = 1000.00 points,
# bronze (< 2000 for silver).
MEMBERS_AFTER_O1 = MEMBERS_HEADER + "m1,1000.00,1000.00,bronze,,bronze\n"

# Settling 2026-01 with o1 = 1000.00: D1 bounty 20.00, commission
# 1000.00 x 0.05 = 50.00; R1 override 0.01 x 50.00 = 0.50.
LINES_JAN_O1 = LINES_HEADER + (
    "2026-01,D1,bounty,o1,o1,m1,,,,20.00\n"
    "2026-01,D1,commission,o1,o1,m1,,1000.00,0.05,50.00\n"
    "2026-01,R1,override,o1,o1,m1,D1,50.00,0.01,0.50\n")

FILE_LINE = re.compile(r"^(.+?):(\d+): (.*)$")


def plan_with(**changes):
    """The reference plan as a dict, with top-level keys replaced or removed (None)."""
    with open(REFERENCE_PLAN, encoding="utf-8") as f:
        plan = json.load(f)
    for key, value in changes.items():
        if value is None:
            del plan[key]
        else:
            plan[key] = value
    return plan


def bad_line_reports(err):
    """The FILE:LINE: message lines of an ingest's standard error as
    (file, line number, message)."""
    found = []
    for line in err.splitlines():
        m = FILE_LINE.match(line)
        if m and not line.startswith("referral"):
            found.append((m.group(1), int(m.group(2)), m.group(3)))
    return found


class CliCase(StoreCase):
    """A store initialised on the reference plan, holding BASE_EVENTS and o1."""

    def setUp(self):
        super().setUp()
        self.init()
        r = self.ingest_events(BASE_EVENTS + [order("o1", 10, "1000.00")], "base.jsonl")
        self.assertEqual(r.out, "ingested 5, duplicates 0\n")

    def ingest_text(self, text, name, code):
        write(self.path(name), text)
        return self.expect(code, "ingest", self.db, name, cwd=self.dir)

    def assert_nothing_new(self):
        """The store still holds exactly BASE_EVENTS + o1."""
        self.assertEqual(self.export("members"), MEMBERS_AFTER_O1)
        self.expect(OK, "settle", self.db, "2026-01")
        self.assertEqual(self.export("lines", "--period", "2026-01"), LINES_JAN_O1)


class Ingest(CliCase):

    def test_same_file_twice_is_all_duplicates(self):
        r = self.expect(OK, "ingest", self.db, self.path("base.jsonl"))
        self.assertEqual(r.out, "ingested 0, duplicates 5\n")
        self.assertEqual(r.err, "")
        self.assert_nothing_new()

    def test_duplicates_compare_values_not_spelling(self):
        # 1000.0 and 1000.00 are the same number; 04:00Z is the same instant as
        # 12:00 +08:00 (SPEC §4 "identical").
        same = dict(order("o1", 10, "1000.0"), at="2026-01-10T04:00:00Z")
        r = self.ingest_events([same, order("o2", 11, "10.00")], "again.jsonl")
        self.assertEqual(r.out, "ingested 1, duplicates 1\n")

    def test_duplicate_inside_one_batch(self):
        r = self.ingest_events([order("o2", 11, "10.00"), order("o2", 11, "10.00")], "twice.jsonl")
        self.assertEqual(r.out, "ingested 1, duplicates 1\n")

    def test_bad_last_line_rejects_the_whole_file(self):
        text = jsonl([order("o2", 11, "10.00"), order("o3", 12, "20.00")]) + "\n" + \
            jsonl([order("o4", 13, "12.345")])
        # physical lines: 1 o2, 2 o3, 3 blank, 4 o4 (third decimal: SPEC §2)
        r = self.ingest_text(text, "bad.jsonl", INPUT)
        self.assertEqual(r.out, "")
        reports = bad_line_reports(r.err)
        self.assertEqual([(f, n) for f, n, _ in reports], [("bad.jsonl", 4)], r)
        message = reports[0][2]
        self.assertIn("o4", message)
        self.assertIn("amount", message)
        self.assertIn("12.345", message)
        # Nothing of that file was stored: o2 and o3 are new to the store.
        self.assertEqual(self.export("members"), MEMBERS_AFTER_O1)
        r = self.ingest_events([order("o2", 11, "10.00"), order("o3", 12, "20.00")], "good.jsonl")
        self.assertEqual(r.out, "ingested 2, duplicates 0\n")

    def test_line_naming_an_entity_of_a_rejected_line_is_bad_too(self):
        events = [{"type": "member", "id": "m2", "at": at(11), "distributor": "nobody"},
                  order("o2", 12, "10.00", member="m2")]
        r = self.ingest_text(jsonl(events), "chain.jsonl", INPUT)
        reports = bad_line_reports(r.err)
        self.assertEqual([(f, n) for f, n, _ in reports], [("chain.jsonl", 1), ("chain.jsonl", 2)])
        self.assertIn("nobody", reports[0][2])
        self.assertIn("m2", reports[1][2])
        self.assert_nothing_new()

    def test_conflicting_duplicate_alone_exits_4(self):
        r = self.ingest_text(jsonl([order("o1", 10, "999.00")]), "conflict.jsonl", STATE)
        reports = bad_line_reports(r.err)
        self.assertEqual([(f, n) for f, n, _ in reports], [("conflict.jsonl", 1)], r)
        self.assertIn("o1", reports[0][2])
        self.assert_nothing_new()

    def test_conflicting_duplicate_with_a_bad_line_exits_3(self):
        text = jsonl([order("o1", 10, "999.00"), order("o2", 11, "abc")])
        r = self.ingest_text(text, "mixed.jsonl", INPUT)
        self.assertEqual([n for _, n, _ in bad_line_reports(r.err)], [1, 2], r)
        self.assert_nothing_new()

    def test_standard_input(self):
        r = self.expect(OK, "ingest", self.db, "-", stdin=jsonl([order("o2", 11, "10.00")]))
        self.assertEqual(r.out, "ingested 1, duplicates 0\n")
        # m1: 1000.00 + 10.00 = 1010.00 points
        self.assertEqual(self.export("members"),
                         MEMBERS_HEADER + "m1,1010.00,1010.00,bronze,,bronze\n")

    def test_standard_input_errors_name_the_file_dash(self):
        text = jsonl([order("o2", 11, "10.00"), order("o3", 12, "+5")])
        r = self.expect(INPUT, "ingest", self.db, "-", stdin=text)
        reports = bad_line_reports(r.err)
        self.assertEqual([(f, n) for f, n, _ in reports], [("-", 2)], r)
        self.assertIn("o3", reports[0][2])
        self.assert_nothing_new()

    def test_150_bad_lines_report_100_then_a_count(self):
        bad = [order("o%d" % i, 11, "%d.001" % i) for i in range(1, 151)]
        r = self.ingest_text(jsonl(bad), "many.jsonl", INPUT)
        reports = bad_line_reports(r.err)
        self.assertEqual([n for _, n, _ in reports], list(range(1, 101)))
        for n, (_, _, message) in enumerate(reports, 1):
            self.assertIn('"o%d"' % n, message)
        # "50 more" (150 - 100), not the total 150
        rest = [l for l in r.err.splitlines()
                if not FILE_LINE.match(l) and re.search(r"(?<![0-9])50(?![0-9])", l)]
        self.assertTrue(rest, "no count of the 50 unreported lines:\n" + r.err)
        self.assert_nothing_new()

    def test_empty_batch_ingests_nothing(self):
        r = self.ingest_text("\n\n", "empty.jsonl", OK)
        self.assertEqual(r.out, "ingested 0, duplicates 0\n")
        self.assert_nothing_new()


class ExitCodes(CliCase):

    def test_usage_errors_exit_2(self):
        db, plan, new = self.db, REFERENCE_PLAN, self.store_name("new.db")
        cases = [
            ([], "usage"),
            (["bogus"], "bogus"),
            (["init"], "init"),
            (["init", new], "init"),
            (["plan", db], "plan"),
            (["plan", db, plan], "plan"),              # no --from
            (["ingest", db], "ingest"),
            (["ingest", db, "a.jsonl", "b.jsonl"], "ingest"),
            (["settle", db], "settle"),
            (["close", db], "close"),
            (["export", db], "export"),
            (["verify"], "verify"),
            (["export", db, "lines", "--format", "xml"], "xml"),
            (["export", db, "payslips"], "payslips"),
            (["export", db, "lines", "--period"], "--period"),
            # malformed periods (the library's REFERRAL_EUSAGE)
            (["settle", db, "2026-1"], "2026-1"),
            (["close", db, "2026-13"], "2026-13"),
            (["export", db, "lines", "--period", "202601"], "202601"),
            (["plan", db, plan, "--from", "26-01"], "26-01"),
        ]
        for args, culprit in cases:
            with self.subTest(args=args):
                r = run(*args)
                self.assert_usage(r)
                self.assertIn(culprit, r.err)
        self.assertFalse(store_exists(new))
        self.assert_nothing_new()

    def test_bad_plan_at_init_exits_3_and_names_the_key(self):
        cases = [
            (plan_with(overide_rate="0.01", override_rate=None), "overide_rate"),
            (plan_with(min_payout=None), "min_payout"),
            (plan_with(rounding="bankers"), "rounding"),
            (plan_with(override_rate=0.01), "override_rate"),  # a JSON number, not a string
        ]
        for i, (plan, key) in enumerate(cases):
            with self.subTest(key=key):
                db = self.store_name("bad%d.db" % i)
                path = write(self.path("plan%d.json" % i), json.dumps(plan))
                r = self.expect(INPUT, "init", db, "--plan", path)
                self.assertIn(key, r.err)
                # Not a store: a later init with a good plan succeeds.
                self.expect(OK, "init", db, "--plan", REFERENCE_PLAN)

    def test_failed_init_leaves_no_file(self):
        # Like an unreadable plan (no file is created), a rejected plan should not
        # leave a file at DB that is not a store (finance runbooks test for it).
        path = write(self.path("typo.json"), json.dumps(plan_with(min_payout=None)))
        db = self.store_name("never.db")
        self.expect(INPUT, "init", db, "--plan", path)
        self.assertFalse(store_exists(db))
        self.assertEqual([f for f in os.listdir(self.dir) if f.startswith("never.db")], [])

    def test_bad_plan_version_exits_3_and_changes_nothing(self):
        path = write(self.path("typo.json"), json.dumps(plan_with(min_payout=None)))
        r = self.expect(INPUT, "plan", self.db, path, "--from", "2026-01")
        self.assertIn("min_payout", r.err)
        self.assert_nothing_new()  # o1 still at rate 0.05

    def test_init_twice_exits_4(self):
        r = self.expect(STATE, "init", self.db, "--plan", REFERENCE_PLAN)
        self.assertIn(store_named(self.db), r.err)
        self.assert_nothing_new()

    def test_refusals_by_period_state_exit_4(self):
        self.expect(OK, "close", self.db, "2026-01")
        plan = write(self.path("plan.json"), json.dumps(plan_with()))
        cases = [
            (["settle", self.db, "2026-01"], "2026-01"),      # closed
            (["close", self.db, "2026-01"], "2026-01"),       # closed
            (["close", self.db, "2026-03"], "2026-03"),       # not the earliest open
            (["settle", self.db, "2026-04"], "2026-04"),      # not the earliest open
            (["plan", self.db, plan, "--from", "2026-01"], "2026-01"),  # closed
            (["plan", self.db, plan, "--from", "2025-12"], "2025-12"),  # before the start
        ]
        for args, culprit in cases:
            with self.subTest(args=args[:1] + args[2:]):
                r = run(*args)
                self.assertEqual(r.code, STATE, r)
                self.assertIn(culprit, r.err)
                self.assertEqual(r.out, "")
        self.assertEqual(self.export("lines"), LINES_JAN_O1)
        self.assertEqual(self.export("grades"), GRADES_HEADER + (
            "2026-01,D1,1,1,1000.00,0,0.00,1\n"
            "2026-01,R1,1,0,0.00,0,0.00,1\n"))

    def test_storage_failures_exit_5(self):
        missing, new = self.store_name("missing.db"), self.store_name("new.db")
        plan, named = REFERENCE_PLAN, store_named(missing)
        cases = [
            (["plan", missing, plan, "--from", "2026-02"], named),
            (["ingest", missing, self.path("base.jsonl")], named),
            (["settle", missing, "2026-01"], named),
            (["close", missing, "2026-01"], named),
            (["export", missing, "members"], named),
            (["verify", missing], named),
            (["init", new, "--plan", self.path("noplan.json")], "noplan.json"),
            (["plan", self.db, self.path("noplan.json"), "--from", "2026-02"], "noplan.json"),
            (["ingest", self.db, self.path("nofile.jsonl")], "nofile.jsonl"),
        ]
        for args, culprit in cases:
            with self.subTest(args=args):
                r = run(*args)
                self.assertEqual(r.code, IO, r)
                self.assertIn(culprit, r.err)
        self.assertFalse(store_exists(missing))
        self.assertFalse(store_exists(new))
        self.assert_nothing_new()

    def test_file_that_is_not_a_store_exits_5(self):
        # on PostgreSQL: a schema of the brand's name, of another program
        junk = self.store_name("junk.db")
        foreign_store(junk, "this is not a SQLite database\n" * 100)
        r = self.expect(IO, "verify", junk)
        self.assertIn(store_named(junk), r.err)

    def test_verify_after_tampering_exits_6(self):
        self.expect(OK, "close", self.db, "2026-01")
        r = self.expect(OK, "verify", self.db)
        # lines are re-derived, never stored: alter what they come from
        change = ("UPDATE statements SET commission='999.00'"
                  " WHERE dist = (SELECT min(dist) FROM statements)")
        store_sql(self.db, "DROP TRIGGER statements_frozen_u; " + change,
                  pg="ALTER TABLE statements DISABLE TRIGGER USER; " + change)
        r = self.expect(VERIFY, "verify", self.db)
        self.assertIn("2026-01", r.err)


class Quiet(CliCase):

    def test_no_progress_when_stderr_is_not_a_terminal(self):
        for args in (["settle", self.db, "2026-01"], ["close", self.db, "2026-01"],
                     ["ingest", self.db, self.path("base.jsonl")], ["verify", self.db],
                     ["export", self.db, "lines"]):
            with self.subTest(cmd=args[0]):
                self.assertEqual(self.expect(OK, *args).err, "")


class Progress(CliCase):

    def test_long_ingest_shows_progress_on_a_terminal(self):
        # 200,000 shares by D1: a long run ("progress on standard error when it
        # is a terminal"); stdout keeps just the summary.
        events = [{"type": "share", "id": "sh%d" % i, "at": at(5 + i % 20), "distributor": "D1"}
                  for i in range(200000)]
        path = write(self.path("big.jsonl"), jsonl(events))
        code, out, shown, _ = on_terminal(["ingest", self.db, path])
        self.assertEqual(code, OK, shown)
        self.assertEqual(out, b"ingested 200000, duplicates 0\n")
        self.assertIn(b"ingest", shown)


class Help(unittest.TestCase):

    def test_help_and_version(self):
        r = run("--help")
        self.assertEqual(r.code, OK, r)
        self.assertTrue(r.out.startswith("usage:"), r)
        for cmd in COMMANDS:
            self.assertIn(cmd, r.out)
        r = run("--version")
        self.assertEqual(r.code, OK, r)
        self.assertRegex(r.out, r"^referral \d+\.\d+\.\d+")

    def test_every_command_has_help(self):
        for cmd in COMMANDS:
            with self.subTest(cmd=cmd):
                r = run(cmd, "--help")
                self.assertEqual(r.code, OK, r)
                self.assertTrue(r.out.startswith("usage: referral " + cmd), r)
                self.assertEqual(r.err, "")


class Exports(StoreCase):
    """Three periods: 2026-01 and 2026-02 closed, 2026-03 settled as a draft."""

    def setUp(self):
        super().setUp()
        self.init()
        self.ingest_events(BASE_EVENTS + [order("o1", 10, "1000.00")], "jan.jsonl")
        self.expect(OK, "close", self.db, "2026-01")
        self.ingest_events([order("o2", 10, "200.00", month=2)], "feb.jsonl")
        self.expect(OK, "close", self.db, "2026-02")
        self.ingest_events([order("o3", 10, "300.00", month=3)], "mar.jsonl")
        self.expect(OK, "settle", self.db, "2026-03")

    def test_without_period_every_period_in_order(self):
        for table, periods in [("statements", ["2026-01", "2026-02", "2026-03"]),
                               ("lines", ["2026-01", "2026-02", "2026-03"]),
                               ("grades", ["2026-01", "2026-02"])]:
            with self.subTest(table=table):
                whole = self.export(table)
                header = whole.splitlines(True)[0]
                expected = header + "".join(
                    self.export(table, "--period", p).split("\n", 1)[1] for p in periods)
                self.assertEqual(whole, expected)
                self.assertEqual(sorted({l[:7] for l in whole.splitlines()[1:]}), periods)
                self.assertEqual(self.export(table, "--period", "2026-03" if table == "grades"
                                             else "2026-04"), header)
        # Hand check of the draft: o3 300.00 x 0.05 = 15.00, override 0.15; no bounty
        # (m1's net spend was already > 0).
        self.assertEqual(self.export("lines", "--period", "2026-03"), LINES_HEADER + (
            "2026-03,D1,commission,o3,o3,m1,,300.00,0.05,15.00\n"
            "2026-03,R1,override,o3,o3,m1,D1,15.00,0.01,0.15\n"))

    def test_json_parses_and_matches_per_period_json(self):
        for table in ["statements", "lines", "grades", "members"]:
            with self.subTest(table=table):
                whole = json.loads(self.export(table, "--format", "json"))
                self.assertIsInstance(whole, list)
                self.assertTrue(whole)
                if table != "members":
                    parts = []
                    for p in ["2026-01", "2026-02", "2026-03"]:
                        parts += json.loads(self.export(table, "--period", p, "--format", "json"))
                    self.assertEqual(whole, parts)
        self.assertEqual(json.loads(self.export("grades", "--period", "2026-03", "--format",
                                                "json")), [])
        # m1: 1000 + 200 + 300 = 1500.00 points, bronze; no sharer -> null
        self.assertEqual(json.loads(self.export("members", "--format", "json")), [
            {"member": "m1", "lifetime": "1500.00", "balance": "1500.00", "tier": "bronze",
             "sharer": None, "effective_tier": "bronze"}])


class PlanVersions(CliCase):

    def test_later_rate_applies_from_its_period(self):
        self.expect(OK, "close", self.db, "2026-01")
        grades = [dict(g) for g in plan_with()["grades"]]
        grades[0]["rate"] = "0.06"
        path = write(self.path("plan06.json"), json.dumps(plan_with(grades=grades)))
        r = self.expect(OK, "plan", self.db, path, "--from", "2026-02")
        self.assertEqual(r.err, "")
        self.ingest_events([order("o2", 10, "1000.00", month=2),
                            {"type": "refund", "id": "f1", "at": at(11, 12, 2), "order": "o1",
                             "amount": "100.00"}], "feb.jsonl")
        self.expect(OK, "close", self.db, "2026-02")
        # o2 in 2026-02 at the new rate: 1000.00 x 0.06 = 60.00; override 0.01 x 60 = 0.60.
        # f1 refunds o1 at o1's rate (SPEC §6.6): 100.00 x 0.05 = 5.00; override 0.05.
        self.assertEqual(self.export("lines", "--period", "2026-02"), LINES_HEADER + (
            "2026-02,D1,commission,o2,o2,m1,,1000.00,0.06,60.00\n"
            "2026-02,D1,commission_reversal,f1,o1,m1,,100.00,0.05,-5.00\n"
            "2026-02,R1,override,o2,o2,m1,D1,60.00,0.01,0.60\n"
            "2026-02,R1,override_reversal,f1,o1,m1,D1,5.00,0.01,-0.05\n"))
        # 2026-01 stays as closed: 1000.00 x 0.05 = 50.00.
        self.assertEqual(self.export("lines", "--period", "2026-01"), LINES_JAN_O1)
        self.expect(OK, "verify", self.db)


if __name__ == "__main__":
    unittest.main()
