"""Replays the hand-computed worked example (tests/fixtures/basic) through the
`referral` command and compares every file of expected/ byte for byte.

The expected values are computed by hand in that folder's NOTES.md (D1's
commission 2391.37 x 0.05 = 119.5685, R1's override 0.01 x 119.5685 =
1.195685, and so on); this test only replays the script and compares.
"""
import csv
import io
import json
import os
import unittest

from helpers import BASIC_DIR, OK, StoreCase, run

EXPECTED_DIR = os.path.join(BASIC_DIR, "expected")

# Columns the JSON form gives as numbers (counts and grades, SPEC §10).
NUMBER_COLUMNS = {"grade", "members", "shares", "next_grade"}


def read_expected(name):
    with open(os.path.join(EXPECTED_DIR, name), "rb") as f:
        return f.read()


def script_steps():
    """The script as (command, argument) pairs, blank lines skipped."""
    with open(os.path.join(BASIC_DIR, "script.txt"), encoding="utf-8") as f:
        return [tuple(line.split()) for line in f if line.strip()]


def expected_exit_codes():
    """steps.txt as (exit code, "command argument") pairs."""
    text = read_expected("steps.txt").decode("utf-8")
    return [(int(line.split(None, 1)[0]), line.split(None, 1)[1].strip())
            for line in text.splitlines() if line.strip()]


def csv_to_json_rows(text):
    """What the JSON form of a CSV export must hold: the same keys and values,
    exact values as strings, counts and grades as numbers, empty as null."""
    rows = []
    for row in csv.DictReader(io.StringIO(text, newline="")):
        obj = {}
        for key, value in row.items():
            if value == "":
                obj[key] = None
            elif key in NUMBER_COLUMNS:
                obj[key] = int(value)
            else:
                obj[key] = value
        rows.append(obj)
    return rows


class BasicExample(StoreCase):

    def step_args(self, cmd, arg):
        """The command line of one script step (paths relative to BASIC_DIR)."""
        if cmd == "init":
            return ["init", self.db, "--plan", arg]
        if cmd in ("ingest", "settle", "close"):
            return [cmd, self.db, arg]
        if cmd == "verify":
            return ["verify", self.db]
        self.fail("unknown step in script.txt: %s" % cmd)

    def export_period(self, table, period, fmt="csv"):
        r = run("export", self.db, table, "--period", period, "--format", fmt, cwd=BASIC_DIR)
        self.assertEqual(r.code, OK, r)
        return r

    def assert_file(self, name, actual, compared):
        self.assertEqual(actual.decode("utf-8"), read_expected(name).decode("utf-8"),
                         "expected/%s differs" % name)
        self.assertEqual(actual, read_expected(name), "expected/%s differs" % name)
        compared.add(name)

    def test_replay_matches_every_expected_file(self):
        steps = script_steps()
        codes = expected_exit_codes()
        self.assertEqual([" ".join(s) for s in steps], [c[1] for c in codes],
                         "steps.txt does not follow script.txt")
        compared = {"steps.txt"}
        for (cmd, *rest), (code, text) in zip(steps, codes):
            arg = rest[0] if rest else None
            with self.subTest(step=text):
                r = run(*self.step_args(cmd, arg), cwd=BASIC_DIR)
                self.assertEqual(r.code, code, r)
                if cmd == "ingest" and os.path.exists(
                        os.path.join(EXPECTED_DIR, "ingest_%s.out" % arg)):
                    self.assert_file("ingest_%s.out" % arg, r.raw_out, compared)
                if cmd in ("settle", "close"):
                    tables = ["statements", "lines"] + (["grades"] if cmd == "close" else [])
                    for table in tables:
                        name = "%s_%s.%s.csv" % (cmd, arg, table)
                        self.assert_file(name, self.export_period(table, arg).raw_out, compared)
                if cmd == "settle":
                    # A draft has no grades (SPEC §10: grades for closed periods).
                    r = self.export_period("grades", arg)
                    self.assertEqual(r.out, read_expected("close_%s.grades.csv" % arg)
                                     .decode("utf-8").splitlines(True)[0])
        r = run("export", self.db, "members", cwd=BASIC_DIR)
        self.assertEqual(r.code, OK, r)
        self.assert_file("members.csv", r.raw_out, compared)
        self.assertEqual(compared, set(os.listdir(EXPECTED_DIR)),
                         "some expected/ files were not compared")

        # The JSON form of the same exports holds the same values.
        for name in sorted(compared):
            if not name.endswith(".csv") or name.startswith("settle_"):
                continue
            table = "members" if name == "members.csv" else name.split(".")[1]
            with self.subTest(json=name):
                text = read_expected(name).decode("utf-8")
                if table == "members":
                    r = run("export", self.db, "members", "--format", "json")
                else:
                    period = name.split("_")[1].split(".")[0]
                    r = self.export_period(table, period, "json")
                self.assertEqual(r.code, OK, r)
                self.assertEqual(json.loads(r.out), csv_to_json_rows(text))

    def test_json_of_first_close_by_hand(self):
        """One JSON export checked field by field against NOTES.md's arithmetic."""
        for cmd, arg in script_steps()[:4]:  # init, ingest batch1, settle, close 2026-01
            r = run(*self.step_args(cmd, arg), cwd=BASIC_DIR)
            self.assertEqual(r.code, OK, r)
        lines = json.loads(self.export_period("lines", "2026-01", "json").out)
        self.assertEqual(lines, [
            # bounty of grade 1: 20.00; no base or rate -> null
            {"period": "2026-01", "distributor": "D1", "type": "bounty", "event": "o1",
             "order": "o1", "member": "m1", "source": None, "base": None, "rate": None,
             "value": "20.00"},
            # 2391.37 x 0.05 = 119.5685
            {"period": "2026-01", "distributor": "D1", "type": "commission", "event": "o1",
             "order": "o1", "member": "m1", "source": None, "base": "2391.37", "rate": "0.05",
             "value": "119.5685"},
            # 0.01 x 119.5685 = 1.195685, source is the recruit D1
            {"period": "2026-01", "distributor": "R1", "type": "override", "event": "o1",
             "order": "o1", "member": "m1", "source": "D1", "base": "119.5685", "rate": "0.01",
             "value": "1.195685"},
        ])
        grades = json.loads(self.export_period("grades", "2026-01", "json").out)
        self.assertEqual(grades, [
            # D1: one bounty, sales 2391.37, no shares, no rating -> stays grade 1
            {"period": "2026-01", "distributor": "D1", "grade": 1, "members": 1,
             "sales": "2391.37", "shares": 0, "store_rating": "0.00", "next_grade": 1},
            {"period": "2026-01", "distributor": "R1", "grade": 1, "members": 0,
             "sales": "0.00", "shares": 0, "store_rating": "0.00", "next_grade": 1},
        ])
        statements = json.loads(self.export_period("statements", "2026-01", "json").out)
        # D1: 119.5685 + 20.00 = 139.5685 -> 139.57 half_up, carry -0.0015
        self.assertEqual(statements[0]["grade"], 1)
        self.assertEqual(statements[0]["payable"], "139.57")
        self.assertEqual(statements[0]["closing_carry"], "-0.0015")
        # R1: 1.195685 -> 1.20, carry -0.004315
        self.assertEqual(statements[1]["payable"], "1.20")
        self.assertEqual(statements[1]["closing_carry"], "-0.004315")


if __name__ == "__main__":
    unittest.main()
