"""Exact tables out of the Python binding: Store.rows_as_dicts, Store.to_pandas
and the CSV recipe of bindings/python/README.md.

Run by ctest with REFERRAL_LIB and PYTHONPATH set; by hand:

    cd tests/python && REFERRAL_LIB=.../libreferral.so \
        PYTHONPATH=/path/to/repo/bindings/python python3 -m unittest -v test_pandas

The tests of DataFrames need pandas (Debian: python3-pandas) in the Python
that runs them. Without it they fail, saying so, unless REFERRAL_NO_PANDAS=1
asks to skip them; the tests of rows_as_dicts and of the binding without
pandas run either way.

Every store here is built from the events and the plan below (the reference
plan's values, copied), and every expected figure is computed by hand from
the settlement rules, the arithmetic in comments.
"""

import copy
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from dataclasses import fields
from decimal import Decimal

import referral
from referral import Grade, Line, Member, Statement, Store, UsageError

from engine import store_name

try:
    import pandas
    PANDAS_ERROR = None
except ImportError as e:  # reported by the tests that need it
    pandas = None
    PANDAS_ERROR = e

D = Decimal

# The reference plan: grade 1 rate 0.05, bounty 20.00; override 0.01; share
# bonus 0.25; 1 point per yuan, 5 per share; tiers bronze 0, silver 2000, ...;
# half_up to the fen; min_payout 0.01; periods from 2026-01 in +08:00.
PLAN = {
    "utc_offset": "+08:00",
    "start_period": "2026-01",
    "commission_window_months": 36,
    "grades": [
        {"grade": 1, "rate": "0.05", "bounty": "20.00"},
        {"grade": 2, "rate": "0.08", "bounty": "20.00", "min_members": 3, "min_sales": "3000.00",
         "min_shares": 5, "min_store_rating": "3.0"},
        {"grade": 3, "rate": "0.10", "bounty": "30.00", "min_members": 10,
         "min_sales": "15000.00", "min_shares": 20, "min_store_rating": "3.5"},
        {"grade": 4, "rate": "0.12", "bounty": "50.00", "min_members": 30,
         "min_sales": "60000.00", "min_shares": 60, "min_store_rating": "4.0"},
    ],
    "grading": {"window_months": 3, "initial_grade": 1, "allow_demotion": True},
    "override_rate": "0.01",
    "share_bonus_rate": "0.25",
    "points": {"per_yuan": "1", "per_share": "5"},
    "member_tiers": [
        {"name": "bronze", "min_points": "0"},
        {"name": "silver", "min_points": "2000"},
        {"name": "gold", "min_points": "10000"},
        {"name": "platinum", "min_points": "30000"},
        {"name": "diamond", "min_points": "80000"},
    ],
    "rounding": "half_up",
    "min_payout": "0.01",
}


def plan_without_bounties():
    """The plan above with every bounty 0.00, so that a payable is the
    commission alone."""
    plan = copy.deepcopy(PLAN)
    for grade in plan["grades"]:
        grade["bounty"] = "0.00"
    return plan


def ev(type_, id_, at, **fields_):
    """One event dict; `at` is local time in the plan's +08:00."""
    d = {"type": type_, "id": id_, "at": at + "+08:00"}
    d.update(fields_)
    return d


# January 2026: D2 is D1's recruit; M1 is bound to D1, M2 to D2; M3 has no
# distributor, and M1 shares her benefits with her.
EVENTS = [
    ev("store", "S1", "2026-01-01T08:00:00", name="Store One", region="east"),
    ev("store_rating", "r1", "2026-01-01T09:00:00", store="S1", rating="4.5"),
    ev("distributor", "D1", "2026-01-02T09:00:00", kind="mom", store="S1", recruiter=None),
    ev("distributor", "D2", "2026-01-03T09:00:00", kind="doctor", store="S1", recruiter="D1"),
    ev("member", "M1", "2026-01-04T09:00:00", distributor="D1"),
    ev("member", "M2", "2026-01-04T10:00:00", distributor="D2"),
    ev("member", "M3", "2026-01-05T09:00:00", distributor=None),
    ev("share_benefits", "sb1", "2026-01-06T09:00:00", **{"from": "M1", "to": "M3"}),
    ev("order", "O1", "2026-01-10T12:00:00", member="M1", amount="1000.00"),
    ev("order", "O2", "2026-01-11T12:00:00", member="M2", amount="333.33"),
    ev("order", "O3", "2026-01-12T12:00:00", member="M3", amount="50.00"),
    ev("share", "sh1", "2026-01-13T12:00:00", distributor="D2"),
]

# January, by hand (grade 1 for everyone: rate 0.05, bounty 20.00):
#   D1: O1 1000.00 x 0.05 = 50.00; M1's spend goes from 0 to 1000.00: bounty 20.00;
#       override 0.01 x D2's commission on O2 (16.6665) = 0.166665;
#       accrued = total = 70.166665 -> half_up 70.17; carry 70.166665 - 70.17 = -0.003335
#   D2: O2 333.33 x 0.05 = 16.6665; bounty 20.00; accrued = total = 36.6665 -> 36.67,
#       carry -0.0035
#   O3 is M3's, who has no binding: unattributed, no lines.
STATEMENTS = [
    {"period": "2026-01", "distributor": "D1", "store": "S1", "grade": 1,
     "opening_carry": D("0.00"), "commission": D("50.00"), "bounty": D("20.00"),
     "override": D("0.166665"), "accrued": D("70.166665"),
     "released": D("70.166665"), "held": D("0.00"), "total": D("70.166665"),
     "payable": D("70.17"), "closing_carry": D("-0.003335")},
    {"period": "2026-01", "distributor": "D2", "store": "S1", "grade": 1,
     "opening_carry": D("0.00"), "commission": D("16.6665"), "bounty": D("20.00"),
     "override": D("0.00"), "accrued": D("36.6665"),
     "released": D("36.6665"), "held": D("0.00"), "total": D("36.6665"),
     "payable": D("36.67"), "closing_carry": D("-0.0035")},
]
# Lines sort on all their columns: D1 before D2; bounty, commission, override.
LINES = [
    {"period": "2026-01", "distributor": "D1", "type": "bounty", "event": "O1", "order": "O1",
     "member": "M1", "source": None, "base": None, "rate": None, "value": D("20.00")},
    {"period": "2026-01", "distributor": "D1", "type": "commission", "event": "O1",
     "order": "O1", "member": "M1", "source": None, "base": D("1000.00"), "rate": D("0.05"),
     "value": D("50.00")},
    {"period": "2026-01", "distributor": "D1", "type": "override", "event": "O2", "order": "O2",
     "member": "M2", "source": "D2", "base": D("16.6665"), "rate": D("0.01"),
     "value": D("0.166665")},
    {"period": "2026-01", "distributor": "D2", "type": "bounty", "event": "O2", "order": "O2",
     "member": "M2", "source": None, "base": None, "rate": None, "value": D("20.00")},
    {"period": "2026-01", "distributor": "D2", "type": "commission", "event": "O2",
     "order": "O2", "member": "M2", "source": None, "base": D("333.33"), "rate": D("0.05"),
     "value": D("16.6665")},
]
# Grades when January closed (window 3 months): one bounty each; sales are the
# commission bases; D2 made one share; S1 rated 4.5, shown as 4.50. Grade 2 needs
# 3 members: both stay at 1.
GRADES = [
    {"period": "2026-01", "distributor": "D1", "grade": 1, "members": 1, "sales": D("1000.00"),
     "shares": 0, "store_rating": D("4.50"), "next_grade": 1},
    {"period": "2026-01", "distributor": "D2", "grade": 1, "members": 1, "sales": D("333.33"),
     "shares": 1, "store_rating": D("4.50"), "next_grade": 1},
]
# Points, 1 per yuan: M1 1000.00 + 0.25 x M3's 50.00 = 1012.50; M2 333.33;
# M3 50.00, her sharer M1. Everyone below 2000: bronze.
MEMBERS = [
    {"member": "M1", "lifetime": D("1012.50"), "balance": D("1012.50"), "tier": "bronze",
     "sharer": None, "effective_tier": "bronze"},
    {"member": "M2", "lifetime": D("333.33"), "balance": D("333.33"), "tier": "bronze",
     "sharer": None, "effective_tier": "bronze"},
    {"member": "M3", "lifetime": D("50.00"), "balance": D("50.00"), "tier": "bronze",
     "sharer": "M1", "effective_tier": "bronze"},
]

EXPECTED = {"statements": STATEMENTS, "lines": LINES, "grades": GRADES, "members": MEMBERS}
ROW_CLASSES = {"statements": Statement, "lines": Line, "grades": Grade, "members": Member}


def payout_events():
    """Ten distributors, D01..D05 at store S1 and D06..D10 at S2, each with
    one member who orders once: 2.00 for an odd number, 4.00 for an even
    one. Without bounties, the payables are 2.00 x 0.05 = 0.10 and
    4.00 x 0.05 = 0.20, alternating."""
    events = [ev("store", "S1", "2026-01-01T08:00:00", name="One", region="east"),
              ev("store", "S2", "2026-01-01T08:00:00", name="Two", region="west")]
    for k in range(1, 11):
        d, m = "D%02d" % k, "M%02d" % k
        events += [
            ev("distributor", d, "2026-01-02T09:%02d:00" % k, kind="mom",
               store="S1" if k <= 5 else "S2", recruiter=None),
            ev("member", m, "2026-01-03T09:%02d:00" % k, distributor=d),
            ev("order", "O%02d" % k, "2026-01-10T12:%02d:00" % k, member=m,
               amount="2.00" if k % 2 else "4.00"),
        ]
    return events


# ---- the CSV recipe of bindings/python/README.md, as a function ------------

STATEMENT_EXACT = ["opening_carry", "commission", "bounty", "override", "accrued", "released",
                   "held", "total", "payable", "closing_carry"]
STATEMENT_COUNTS = ["grade"]


def read_statements_csv(path_or_buffer):
    frame = pandas.read_csv(path_or_buffer, dtype=str, keep_default_na=False)  # text, as written
    for column in frame.columns:
        if column in STATEMENT_EXACT:
            frame[column] = frame[column].map(lambda text: Decimal(text) if text else None)
        elif column in STATEMENT_COUNTS:
            frame[column] = frame[column].astype("int64")
        else:
            frame[column] = frame[column].map(lambda text: text or None)
    return frame


# ---- running the binding and requiring pandas ----------------------------

def require_pandas(case):
    """Fails `case` when pandas cannot be imported, saying what to install;
    skips it instead when REFERRAL_NO_PANDAS=1."""
    if pandas is not None:
        return
    if os.environ.get("REFERRAL_NO_PANDAS") == "1":
        case.skipTest("REFERRAL_NO_PANDAS=1: the tests of DataFrames are skipped")
    case.fail("pandas is not importable by %s (%s): install Debian's python3-pandas and run the "
              "tests with a Python that sees it (Debian's /usr/bin/python3; for ctest, configure "
              "with -DPython3_EXECUTABLE=/usr/bin/python3), or set REFERRAL_NO_PANDAS=1 to skip "
              "them" % (sys.executable, PANDAS_ERROR))


def run_python(code, *args):
    """Runs `python -c code args...` with the binding on PYTHONPATH and the
    test's environment (REFERRAL_LIB); returns the completed process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(referral.__file__)))
    return subprocess.run([sys.executable, "-c", code] + list(args), env=env,
                          capture_output=True, text=True, timeout=60)


class StoreTest(unittest.TestCase):
    """A store with EVENTS, January closed; and one with payout_events(),
    January closed too. Both only read by the tests."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="referral-pandas-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.store = Store.create(store_name(cls.dir, "scenario.db"), PLAN)
        cls.addClassCleanup(cls.store.close)
        assert cls.store.ingest(EVENTS) == (len(EVENTS), 0)
        cls.store.close_period("2026-01")
        cls.payouts = Store.create(store_name(cls.dir, "payouts.db"), plan_without_bounties())
        cls.addClassCleanup(cls.payouts.close)
        events = payout_events()
        assert cls.payouts.ingest(events) == (len(events), 0)
        cls.payouts.close_period("2026-01")


# ---- rows_as_dicts: no pandas needed ---------------------------------------

class RowsAsDicts(StoreTest):
    def test_every_table_by_hand(self):
        for table, expected in EXPECTED.items():
            with self.subTest(table=table):
                period = None if table == "members" else "2026-01"
                got = self.store.rows_as_dicts(table, period)
                names = [f.name for f in fields(ROW_CLASSES[table])]
                for row in got:
                    self.assertEqual(list(row), names)  # every column, in export order
                # the hand-computed columns (a statement may carry more than these)
                self.assertEqual([{k: row[k] for k in want} for row, want in zip(got, expected)],
                                 expected)
                self.assertEqual(len(got), len(expected))

    def test_values_keep_their_types_and_digits(self):
        d1 = self.store.rows_as_dicts("statements", "2026-01")[0]
        for column in ("opening_carry", "commission", "override", "payable", "closing_carry"):
            self.assertIs(type(d1[column]), Decimal, column)
        self.assertIs(type(d1["grade"]), int)
        self.assertIs(type(d1["distributor"]), str)
        # the library's canonical strings, digit for digit
        self.assertEqual([str(d1[c]) for c in ("opening_carry", "override", "payable",
                                               "closing_carry")],
                         ["0.00", "0.166665", "70.17", "-0.003335"])
        bounty = self.store.rows_as_dicts("lines", "2026-01")[0]
        self.assertEqual((bounty["type"], bounty["source"], bounty["base"], bounty["rate"]),
                         ("bounty", None, None, None))
        grade = self.store.rows_as_dicts("grades")[1]
        self.assertEqual([type(grade[c]) for c in ("grade", "members", "shares", "next_grade")],
                         [int] * 4)
        self.assertEqual(str(grade["store_rating"]), "4.50")

    def test_without_a_period_every_period_in_order(self):
        self.assertEqual(self.store.rows_as_dicts("statements"),
                         self.store.rows_as_dicts("statements", "2026-01"))
        self.assertEqual(self.store.rows_as_dicts("statements", "2026-02"), [])  # not settled

    def test_the_dicts_are_the_rows_and_the_csv(self):
        for table in EXPECTED:
            with self.subTest(table=table):
                dicts = self.store.rows_as_dicts(table)
                self.assertEqual(dicts, [vars(row) for row in self.store.rows(table)])
                text = self.store.export(table)
                self.assertEqual(
                    [{k: "" if v is None else str(v) for k, v in row.items()} for row in dicts],
                    list(csv.DictReader(io.StringIO(text, newline=""))))

    def test_the_cursor_is_released(self):
        self.store.rows_as_dicts("lines")
        self.assertEqual(self.store._cursors, set())

    def test_refusals(self):
        with self.assertRaises(UsageError):
            self.store.rows_as_dicts("members", "2026-01")
        with self.assertRaises(UsageError):
            self.store.rows_as_dicts("payables")
        with self.assertRaises(UsageError):
            self.store.rows_as_dicts("statements", "2026-1")
        closed = Store.open(self.store.path)
        closed.close()
        with self.assertRaises(UsageError):
            closed.rows_as_dicts("statements")

    def test_the_payouts_by_hand(self):
        payable = [row["payable"] for row in self.payouts.rows_as_dicts("statements", "2026-01")]
        self.assertEqual([str(p) for p in payable], ["0.10", "0.20"] * 5)
        self.assertEqual(sum(payable, Decimal(0)), Decimal("1.50"))


# ---- the binding without pandas --------------------------------------------

class WithoutPandas(unittest.TestCase):
    def test_importing_the_binding_imports_no_pandas(self):
        proc = run_python("import sys, referral\nprint('pandas' in sys.modules)")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.strip(), "False")

    def test_without_pandas_rows_as_dicts_works_and_to_pandas_says_what_to_install(self):
        code = (
            "import json, sys\n"
            "sys.modules['pandas'] = None  # as if pandas were not installed\n"
            "import referral\n"
            "with referral.Store.create(sys.argv[3], json.loads(sys.argv[1])) as s:\n"
            "    s.ingest(json.loads(sys.argv[2]))\n"
            "    s.settle('2026-01')\n"
            "    print(s.rows_as_dicts('statements')[0]['payable'])\n"
            "    try:\n"
            "        s.to_pandas('statements')\n"
            "    except ImportError as e:\n"
            "        print(e)\n")
        with tempfile.TemporaryDirectory() as d:
            proc = run_python(code, json.dumps(PLAN), json.dumps(EVENTS), store_name(d, "s.db"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        payable, message = proc.stdout.splitlines()
        self.assertEqual(payable, "70.17")
        self.assertIn("Store.to_pandas needs pandas", message)
        self.assertIn("python3-pandas", message)
        self.assertIn("rows_as_dicts", message)


# ---- to_pandas -------------------------------------------------------------

class ToPandas(StoreTest):
    def setUp(self):
        require_pandas(self)

    def test_a_frame_per_table_as_the_dicts(self):
        for table in EXPECTED:
            with self.subTest(table=table):
                frame = self.store.to_pandas(table)
                self.assertIsInstance(frame, pandas.DataFrame)
                self.assertEqual(list(frame.columns), [f.name for f in fields(ROW_CLASSES[table])])
                self.assertEqual(list(frame.index), list(range(len(EXPECTED[table]))))
                self.assertEqual(frame.to_dict("records"), self.store.rows_as_dicts(table))

    def test_exact_columns_hold_decimals_and_counts_are_int64(self):
        frame = self.store.to_pandas("statements", "2026-01")
        for column in STATEMENT_EXACT:
            self.assertEqual(frame[column].dtype, object, column)
            self.assertTrue(all(type(v) is Decimal for v in frame[column]), column)
        self.assertEqual(str(frame["grade"].dtype), "int64")
        self.assertEqual(frame["distributor"].tolist(), ["D1", "D2"])
        # D1 70.166665 + D2 36.6665 = 106.833165; payables 70.17 + 36.67 = 106.84
        self.assertEqual(frame["total"].sum(), Decimal("106.833165"))
        self.assertEqual(str(frame["payable"].sum()), "106.84")
        self.assertEqual(str(frame.loc[0, "closing_carry"]), "-0.003335")
        lines = self.store.to_pandas("lines", "2026-01")
        self.assertEqual(lines["base"].tolist(), [None, D("1000.00"), D("16.6665"), None,
                                                  D("333.33")])
        self.assertEqual(lines["source"].tolist(), [None, None, "D2", None, None])
        grades = self.store.to_pandas("grades")
        for column in ("grade", "members", "shares", "next_grade"):
            self.assertEqual(str(grades[column].dtype), "int64", column)
        self.assertEqual(grades["shares"].sum(), 1)

    def test_a_finance_sum_is_exact(self):
        frame = self.payouts.to_pandas("statements", "2026-01")
        self.assertEqual(frame["payable"].map(str).tolist(), ["0.10", "0.20"] * 5)
        total = frame["payable"].sum()
        self.assertIs(type(total), Decimal)
        self.assertEqual(total, Decimal("1.50"))
        self.assertEqual(str(total), "1.50")
        # what float would have paid: 0.10 and 0.20 have no exact binary form
        drift = 0.0
        for text in ["0.10", "0.20"] * 5:
            drift += float(text)
        self.assertNotEqual(drift, 1.5)  # 1.5000000000000002
        # by store: S1 0.10 + 0.20 + 0.10 + 0.20 + 0.10 = 0.70, S2 0.80
        by_store = frame.groupby("store")["payable"].sum()
        self.assertEqual(by_store.to_dict(), {"S1": Decimal("0.70"), "S2": Decimal("0.80")})
        self.assertTrue(all(type(v) is Decimal for v in by_store))

    def test_an_empty_table_has_its_columns_and_types(self):
        frame = self.store.to_pandas("statements", "2026-02")
        self.assertEqual(len(frame), 0)
        self.assertEqual(list(frame.columns), [f.name for f in fields(Statement)])
        self.assertEqual(str(frame["grade"].dtype), "int64")
        self.assertEqual(frame["payable"].dtype, object)

    def test_refusals(self):
        with self.assertRaises(UsageError):
            self.store.to_pandas("members", "2026-01")
        with self.assertRaises(UsageError):
            self.store.to_pandas("payables")


class CsvRecipe(StoreTest):
    def setUp(self):
        require_pandas(self)

    def test_the_readme_recipe_reads_an_export_exactly(self):
        text = self.payouts.export("statements", "2026-01")
        frame = read_statements_csv(io.StringIO(text))
        self.assertEqual(frame.to_dict("records"),
                         self.payouts.to_pandas("statements", "2026-01").to_dict("records"))
        self.assertEqual(frame["payable"].map(str).tolist(), ["0.10", "0.20"] * 5)
        self.assertEqual(str(frame["payable"].sum()), "1.50")
        self.assertEqual(str(frame["grade"].dtype), "int64")
        scenario = read_statements_csv(io.StringIO(self.store.export("statements")))
        self.assertEqual([str(v) for v in scenario["closing_carry"]], ["-0.003335", "-0.0035"])

    def test_ids_stay_text(self):
        # distributor ids that look like numbers keep their leading zeros
        self.assertEqual(read_statements_csv(io.StringIO(
            "period,distributor,store,grade,payable\n2026-01,007,S1,1,0.10\n"))["distributor"]
            .tolist(), ["007"])

    def test_read_csv_by_default_makes_floats(self):
        # why the recipe reads text: left alone, pandas parses money as float64,
        # which holds 0.10 as 0.1000000000000000055511151231257827...
        frame = pandas.read_csv(io.StringIO(self.payouts.export("statements", "2026-01")))
        self.assertEqual(str(frame["payable"].dtype), "float64")
        self.assertNotEqual(Decimal(frame["payable"][0]), Decimal("0.10"))


if __name__ == "__main__":
    unittest.main()
