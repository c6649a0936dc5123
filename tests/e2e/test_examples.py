"""End-to-end tests of examples/monthly_settlement/run.sh, the month end as
finance runs it. (examples/c/check.sh, linking from C, is run by CI itself.)

The month-end example runs once (setUpClass) into a temporary directory,
from a working directory outside the repository. Its data set is generated,
so the hand-checked part is the fixed anchor corner (store s-anchor, see
examples/monthly_settlement/README.md): its statements, lines, grades and
members are computed by hand below. Over the whole export the tests check
the rules that hold for every row (SPEC §7: carry, rounding, conservation)
and that every total report.py prints equals the sum of the exported CSV.

Environment: REFERRAL_CLI (the `referral` command), REFERRAL_SOURCE_DIR (the
repository), REFERRAL_TEST_PG (a database: the store is a brand of it, given
to run.sh after the output directory). Standard library only; every amount
is a decimal.Decimal.
"""
import csv
import os
import shutil
import stat
import subprocess
import tempfile
import unittest
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from helpers import PG, PageTables, brand_of, chromium, png_pixels, run, screenshot, store_name

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("REFERRAL_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
EXAMPLE_DIR = os.path.join(SOURCE_DIR, "examples", "monthly_settlement")
RUN_SH = os.path.join(EXAMPLE_DIR, "run.sh")
CLI = os.environ.get("REFERRAL_CLI") or os.path.join(SOURCE_DIR, "build", "referral")

ZERO = Decimal(0)
CENT = Decimal("0.01")


# --- helpers ----------------------------------------------------------------------

def run_example(out_dir, cli=CLI, cwd=None, timeout=120):
    """run.sh into OUT_DIR; on PostgreSQL its store is a brand of its own
    (out_dir/brand.db's)."""
    env = dict(os.environ, REFERRAL_CLI=cli)
    store = [store_name(out_dir, "brand.db")] if PG else []
    return subprocess.run([RUN_SH, out_dir] + store, env=env, cwd=cwd, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def csv_lines(path, prefix_filter):
    """The raw lines of a CSV export whose text contains prefix_filter."""
    with open(path, encoding="utf-8") as f:
        return [ln.rstrip("\n") for ln in f if prefix_filter in ln]


def number(token):
    """A printed amount ("12,345.6725", "-0.25") as an exact Decimal."""
    return Decimal(token.replace(",", ""))


def sections(text):
    """The printed report split at its underlined headings: {heading: [lines]}."""
    lines = text.split("\n")
    out, current = {}, None
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and lines[i + 1] and set(lines[i + 1]) == {"="} \
                and len(lines[i + 1]) == len(line):
            current = line
            out[current] = []
        elif current is not None and not (line and set(line) == {"="}):
            out[current].append(line)
    return out


def row_starting(lines, *words):
    """The whitespace-split tokens of the one line whose first tokens are words."""
    found = [ln.split() for ln in lines if ln.split()[:len(words)] == list(words)]
    if len(found) != 1:
        raise AssertionError("expected one line starting with %r, found %d" % (words, len(found)))
    return found[0]


def total_by(rows, key, *fields):
    sums = defaultdict(lambda: [ZERO] * len(fields))
    for r in rows:
        sums[r[key]] = [a + Decimal(r[f]) for a, f in zip(sums[r[key]], fields)]
    return sums


def have_cli():
    return os.access(CLI, os.X_OK)


# --- the month end ---------------------------------------------------------------------

@unittest.skipUnless(have_cli(), "no referral command at %s (set REFERRAL_CLI)" % CLI)
class MonthlySettlement(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test-examples-")
        cls.out = os.path.join(cls.tmp, "out")
        cls.proc = run_example(cls.out, cwd=cls.tmp)   # not from the repository
        cls.export = os.path.join(cls.out, "export")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.assertEqual(self.proc.returncode, 0,
                         "run.sh failed:\n%s\n%s" % (self.proc.stdout[-3000:], self.proc.stderr))
        self.report = sections(self.proc.stdout)

    def csv(self, table):
        return read_csv(os.path.join(self.export, table + ".csv"))

    # The anchor, by hand (reference plan: grade 1 rate 0.05 bounty 20.00,
    # override 0.01, half_up, min_payout 0.01; see the README for the events).
    #
    # January
    #   B commission 1000.00 x 0.05 = 50.00, 300.00 x 0.05 = 15.00 -> 65.00
    #   B bounty 20.00 (m1 net spend 0 -> 1000.00)
    #   B total 85.00 -> payable 85.00, carry 0.00
    #   A override 0.01 x 50.00 = 0.50, 0.01 x 15.00 = 0.15 -> 0.65 -> payable 0.65
    # February (both stay at grade 1: 1 member < 3, sales < 3000.00, 0 shares < 5)
    #   B reversals -(200.00 x 0.05) = -10.00, -(300.00 x 0.05) = -15.00 -> -25.00
    #     (the 300.00 refund is the late one: dated 29 Jan, booked in Feb);
    #     m1 net spend 1300 - 500 = 800 > 0: the bounty stands
    #   B total -25.00 -> payable 0.00 (negative), carry -25.00
    #   A commission 123.45 x 0.05 = 6.1725, bounty 20.00 (m2 0 -> 123.45)
    #   A override reversals -(0.01 x 10.00) = -0.10, -(0.01 x 15.00) = -0.15 -> -0.25
    #   A total 6.1725 + 20.00 - 0.25 = 25.9225 -> payable 25.92, carry 0.0025
    ANCHOR_STATEMENTS = [
        "2026-01,anchor-doc-B,s-anchor,1,0.00,65.00,20.00,0.00,85.00,85.00,0.00,85.00,85.00,0.00",
        "2026-01,anchor-mom-A,s-anchor,1,0.00,0.00,0.00,0.65,0.65,0.65,0.00,0.65,0.65,0.00",
        "2026-02,anchor-doc-B,s-anchor,1,0.00,-25.00,0.00,0.00,-25.00,-25.00,0.00,-25.00,0.00,-25.00",
        "2026-02,anchor-mom-A,s-anchor,1,0.00,6.1725,20.00,-0.25,25.9225,25.9225,0.00,25.9225,25.92,0.0025",
    ]
    ANCHOR_LINES = [
        "2026-01,anchor-doc-B,bounty,anchor-o1,anchor-o1,anchor-m1,,,,20.00",
        "2026-01,anchor-doc-B,commission,anchor-o1,anchor-o1,anchor-m1,,1000.00,0.05,50.00",
        "2026-01,anchor-doc-B,commission,anchor-o2,anchor-o2,anchor-m1,,300.00,0.05,15.00",
        "2026-01,anchor-mom-A,override,anchor-o1,anchor-o1,anchor-m1,anchor-doc-B,50.00,0.01,0.50",
        "2026-01,anchor-mom-A,override,anchor-o2,anchor-o2,anchor-m1,anchor-doc-B,15.00,0.01,0.15",
        "2026-02,anchor-doc-B,commission_reversal,anchor-r1,anchor-o1,anchor-m1,,200.00,0.05,-10.00",
        "2026-02,anchor-doc-B,commission_reversal,anchor-r2-late,anchor-o2,anchor-m1,,300.00,0.05,-15.00",
        "2026-02,anchor-mom-A,bounty,anchor-o3,anchor-o3,anchor-m2,,,,20.00",
        "2026-02,anchor-mom-A,commission,anchor-o3,anchor-o3,anchor-m2,,123.45,0.05,6.1725",
        "2026-02,anchor-mom-A,override_reversal,anchor-r1,anchor-o1,anchor-m1,anchor-doc-B,10.00,0.01,-0.10",
        "2026-02,anchor-mom-A,override_reversal,anchor-r2-late,anchor-o2,anchor-m1,anchor-doc-B,"
        "15.00,0.01,-0.15",
    ]
    # Grades, window of 3 periods; s-anchor rated 4.0 on 1 Jan -> "4.00".
    #   Jan: B 1 bounty, sales 1000 + 300 = 1300.00; A nothing.
    #   Feb: B 1 bounty (Jan), sales 1300 - 200 - 300 = 800.00; A 1 bounty, 123.45.
    ANCHOR_GRADES = [
        "2026-01,anchor-doc-B,1,1,1300.00,0,4.00,1",
        "2026-01,anchor-mom-A,1,0,0.00,0,4.00,1",
        "2026-02,anchor-doc-B,1,1,800.00,0,4.00,1",
        "2026-02,anchor-mom-A,1,1,123.45,0,4.00,1",
    ]
    # Points (per_yuan 1, share bonus 0.25): m1 1000 + 300 - 200 - 300 = 800,
    # plus 0.25 x 123.45 = 30.8625 from m2's order -> 830.8625 (< 2000: bronze).
    ANCHOR_MEMBERS = [
        "anchor-m1,830.8625,830.8625,bronze,,bronze",
        "anchor-m2,123.45,123.45,bronze,anchor-m1,bronze",
    ]

    def test_anchor_statements_are_the_hand_computed_ones(self):
        self.assertEqual(csv_lines(os.path.join(self.export, "statements.csv"), ",anchor-"),
                         self.ANCHOR_STATEMENTS)

    def test_anchor_lines_book_the_late_refund_into_february(self):
        self.assertEqual(csv_lines(os.path.join(self.export, "lines.csv"), ",anchor-"),
                         self.ANCHOR_LINES)

    def test_anchor_grades_and_members(self):
        self.assertEqual(csv_lines(os.path.join(self.export, "grades.csv"), ",anchor-"),
                         self.ANCHOR_GRADES)
        self.assertEqual(csv_lines(os.path.join(self.export, "members.csv"), "anchor-m"),
                         self.ANCHOR_MEMBERS)

    def test_anchor_rows_as_printed(self):
        # columns: distributor store grade carry-b/f commission bounty override
        # held released payable carry-c/f; the anchor's events are early in
        # each month, out of the 7-day window: nothing held, all released
        jan, feb = self.report["Statements 2026-01"], self.report["Statements 2026-02"]
        self.assertEqual([number(t) for t in row_starting(jan, "anchor-doc-B")[3:]],
                         [ZERO, Decimal("65.00"), Decimal("20.00"), ZERO, ZERO, Decimal("85.00"),
                          Decimal("85.00"), ZERO])
        self.assertEqual([number(t) for t in row_starting(feb, "anchor-doc-B")[3:]],
                         [ZERO, Decimal("-25.00"), ZERO, ZERO, ZERO, Decimal("-25.00"), ZERO,
                          Decimal("-25.00")])
        self.assertEqual(row_starting(feb, "anchor-mom-A")[3:],
                         ["0.00", "6.1725", "20.00", "-0.25", "0.00", "25.9225", "25.92", "0.0025"])

    def test_anchor_store_summary_as_printed(self):
        # Jan: net sales 1000 + 300 = 1300.00; earned 85.00 + 0.65 = 85.65; payable 85.65.
        # Feb: net sales 123.45 - 200 - 300 = -376.55; earned -25.00 + 25.9225 = 0.9225;
        #      payable 0.00 + 25.92 = 25.92. Two distributors each month.
        jan = row_starting(self.report["Per-store summary 2026-01"], "east", "s-anchor")
        feb = row_starting(self.report["Per-store summary 2026-02"], "east", "s-anchor")
        self.assertEqual([number(t) for t in jan[-4:]],
                         [2, Decimal("1300.00"), Decimal("85.65"), Decimal("85.65")])
        self.assertEqual([number(t) for t in feb[-4:]],
                         [2, Decimal("-376.55"), Decimal("0.9225"), Decimal("25.92")])

    def test_late_refund_listed_as_a_late_adjustment(self):
        late = [ln.split() for ln in self.report[
            "Late adjustments (events dated in a month that had already closed)"]
            if "anchor-r2-late" in ln]
        self.assertEqual(late, [
            ["2026-02", "2026-01", "anchor-r2-late", "anchor-o2", "anchor-doc-B",
             "commission_reversal", "-15.00"],
            ["2026-02", "2026-01", "anchor-r2-late", "anchor-o2", "anchor-mom-A",
             "override_reversal", "-0.15"]])

    def test_every_statement_row_follows_the_carry_and_rounding_rules(self):
        previous, held_before = {}, {}
        for r in self.csv("statements"):   # sorted by period, then distributor
            d = r["distributor"]
            opening, commission, bounty, override, accrued, released, held, total, payable, \
                closing = (Decimal(r[k]) for k in (
                    "opening_carry", "commission", "bounty", "override", "accrued", "released",
                    "held", "total", "payable", "closing_carry"))
            where = "%s %s" % (r["period"], d)
            self.assertEqual(opening, previous.get(d, ZERO), where)
            self.assertEqual(accrued, commission + bounty + override, where)
            # what was held before and what accrued is released or still held
            self.assertEqual(held, held_before.get(d, ZERO) + accrued - released, where)
            self.assertEqual(total, opening + released, where)
            rounded = total.quantize(CENT, rounding=ROUND_HALF_UP)
            self.assertEqual(payable, rounded if rounded >= CENT else ZERO, where)
            self.assertRegex(r["payable"], r"^[0-9]+\.[0-9]{2}$", where)
            self.assertEqual(closing, total - payable, where)
            previous[d] = closing
            held_before[d] = held

    def test_statements_sum_their_lines(self):
        kinds = {"commission": "commission", "commission_reversal": "commission",
                 "bounty": "bounty", "bounty_reversal": "bounty",
                 "override": "override", "override_reversal": "override"}
        sums = defaultdict(lambda: ZERO)
        for ln in self.csv("lines"):
            sums[(ln["period"], ln["distributor"], kinds[ln["type"]])] += Decimal(ln["value"])
        for r in self.csv("statements"):
            for k in ("commission", "bounty", "override"):
                self.assertEqual(Decimal(r[k]), sums[(r["period"], r["distributor"], k)],
                                 "%s %s %s" % (r["period"], r["distributor"], k))

    def test_conservation_per_distributor(self):
        # payables + the last closing carry + what is still held = all lines.
        paid, last_carry = defaultdict(lambda: ZERO), {}
        for r in self.csv("statements"):
            paid[r["distributor"]] += Decimal(r["payable"])
            last_carry[r["distributor"]] = Decimal(r["closing_carry"]) + Decimal(r["held"])
        lines = total_by(self.csv("lines"), "distributor", "value")
        self.assertEqual(len(paid), 38)
        for d in paid:
            self.assertEqual(paid[d] + last_carry[d], lines[d][0] if d in lines else ZERO, d)
        # the anchor by hand: B 85.00 + 0.00 - 25.00 = 60.00 = 65 + 20 - 25;
        # A 0.65 + 25.92 + 0.0025 = 26.5725 = 0.65 + 6.1725 + 20 - 0.25
        self.assertEqual(paid["anchor-doc-B"] + last_carry["anchor-doc-B"], Decimal("60.00"))
        self.assertEqual(paid["anchor-mom-A"] + last_carry["anchor-mom-A"], Decimal("26.5725"))

    def test_printed_period_totals_are_the_csv_sums(self):
        fields = ("opening_carry", "commission", "bounty", "override", "held", "released",
                  "payable", "closing_carry")
        sums = total_by(self.csv("statements"), "period", *fields)
        self.assertEqual(sorted(sums), ["2026-01", "2026-02"])
        for period, expected in sums.items():
            printed = row_starting(self.report["Statements %s" % period], "TOTAL")[1:]
            self.assertEqual([number(t) for t in printed], expected, period)

    def test_printed_store_totals_are_the_csv_sums(self):
        statements = self.csv("statements")
        sums = total_by(statements, "period", "accrued", "payable")
        sales = defaultdict(lambda: ZERO)
        for ln in self.csv("lines"):
            sign = {"commission": 1, "commission_reversal": -1}.get(ln["type"], 0)
            if sign:
                sales[ln["period"]] += sign * Decimal(ln["base"])
        for period in ("2026-01", "2026-02"):
            count = sum(1 for r in statements if r["period"] == period)
            printed = row_starting(self.report["Per-store summary %s" % period], "TOTAL")[1:]
            self.assertEqual([number(t) for t in printed],
                             [count, sales[period]] + sums[period], period)

    def test_printed_grand_totals_are_the_csv_sums(self):
        statements = self.csv("statements")
        s = total_by(statements, "distributor", "commission", "bounty", "override", "payable")
        commission, bounty, override, payable = (sum((v[i] for v in s.values()), ZERO)
                                                 for i in range(4))
        last, held = {}, {}
        for r in statements:
            last[r["distributor"]] = Decimal(r["closing_carry"])
            held[r["distributor"]] = Decimal(r["held"])
        payouts = self.csv("payouts")
        lines = sum((Decimal(ln["value"]) for ln in self.csv("lines")), ZERO)
        grand = self.report["Grand totals 2026-01 to 2026-02"]
        printed = {words: number(row_starting(grand, *words.split())[-1])
                   for words in ("commission", "bounty", "override", "earned", "payable",
                                 "of which tax withheld", "of which paid to distributors",
                                 "held at 2026-02, released later", "carried forward at 2026-02")}
        self.assertEqual(printed, {
            "commission": commission, "bounty": bounty, "override": override,
            "earned": commission + bounty + override, "payable": payable,
            "of which tax withheld": sum((Decimal(p["withheld"]) for p in payouts), ZERO),
            "of which paid to distributors": sum((Decimal(p["net"]) for p in payouts), ZERO),
            "held at 2026-02, released later": sum(held.values(), ZERO),
            "carried forward at 2026-02": sum(last.values(), ZERO)})
        self.assertEqual(printed["earned"], lines)
        self.assertEqual(printed["payable"] + printed["carried forward at 2026-02"]
                         + printed["held at 2026-02, released later"], lines)
        self.assertEqual(printed["of which tax withheld"] + printed["of which paid to distributors"],
                         printed["payable"])
        self.assertIn("Check: for each of the 38 distributors", "\n".join(grand))

    def test_draft_review_totals_are_the_draft_csv_sums(self):
        draft = read_csv(os.path.join(self.export, "draft-2026-01-statements.csv"))
        review = self.report["Draft review 2026-01 (settled, not closed: nothing is final yet)"]
        for label, field in (("commission", "commission"), ("bounty", "bounty"),
                             ("override", "override"), ("payable (to pay out)", "payable"),
                             ("carried to next month", "closing_carry")):
            self.assertEqual(number(row_starting(review, *label.split())[-1]),
                             sum((Decimal(r[field]) for r in draft), ZERO), label)
        # Nothing January-dated arrived after the draft but the late refund,
        # which is booked in February: the draft is what was closed.
        closed = [r for r in self.csv("statements") if r["period"] == "2026-01"]
        self.assertEqual(draft, closed)

    def test_steps_report_ingestion_and_verify(self):
        with open(os.path.join(self.out, "data", "2026-01.jsonl"), encoding="utf-8") as f:
            january = sum(1 for line in f if line.strip())
        out = self.proc.stdout
        self.assertIn("ingested %d, duplicates 0" % january, out)
        self.assertIn("ingested 0, duplicates %d" % january, out)   # the re-sent batch
        self.assertIn("ingested 1, duplicates 0", out)              # the late refund
        self.assertIn("verify: ok", out)
        self.assertEqual(self.proc.stderr, "")

    # The anchor's network at the end of February: s-anchor rated 4.0 on
    # 1 Jan; A a mom, B a doctor she recruited; m1 bound to B, m2 to A.
    def test_anchor_in_the_network_exports(self):
        self.assertIn(["s-anchor", "Ningbo Haishu (anchor)", "east", "4.00"],
                      [list(r.values()) for r in self.csv("stores")])
        rows = {r["distributor"]: r for r in self.csv("distributors")}
        self.assertEqual((rows["anchor-mom-A"]["recruiter"], rows["anchor-mom-A"]["members"],
                          rows["anchor-mom-A"]["grade"]), ("", "1", "1"))
        self.assertEqual((rows["anchor-doc-B"]["kind"], rows["anchor-doc-B"]["recruiter"],
                          rows["anchor-doc-B"]["members"]), ("doctor", "anchor-mom-A", "1"))
        tree = [r["distributor"] for r in self.csv("tree")]
        self.assertEqual(tree.index("anchor-doc-B"), tree.index("anchor-mom-A") + 1)

    def test_explain_of_the_anchor_as_printed(self):
        # February, A (README): 123.45 x 0.05 = 6.1725, bounty 20.00, override
        # reversals -0.10 and -0.15; 25.9225 -> 25.92, carry 0.0025
        out = self.proc.stdout
        for words in ("Statement of anchor-mom-A for 2026-02 (closed)",
                      "commission: 123.45 x 0.05 = 6.1725",
                      "refund anchor-r1 on 2026-02-10 16:00: -(10.00 x 0.01) = -0.10",
                      "refund anchor-r2-late on 2026-01-29 18:00: -(15.00 x 0.01) = -0.15",
                      "Earned this month: commission 6.1725 + bounty 20.00 + override -0.25"
                      " = 25.9225",
                      "Carried to next month: total 25.9225 - payable 25.92 = 0.0025"):
            self.assertIn(words, out)

    def page(self):
        path = os.path.join(self.out, "report-2026-02.html")
        self.assertIn("report: %s" % path, self.proc.stdout)
        with open(path, encoding="utf-8") as f:
            return path, f.read()

    def test_report_tables_are_the_exports(self):
        path, text = self.page()
        tables = PageTables(text).tables
        names = {s["store"]: s["name"] for s in self.csv("stores")}
        payouts = [p for p in self.csv("payouts") if p["period"] == "2026-02"]
        self.assertEqual(tables["payouts"][1:-1],
                         [[p["distributor"], p["store"], names[p["store"]], p["payable"],
                           p["withheld"], p["net"]] for p in payouts])
        statements = [r for r in self.csv("statements") if r["period"] == "2026-02"]
        per_store = total_by(statements, "store", "accrued", "payable", "held")
        withheld = total_by(payouts, "store", "withheld")
        rows = {r[1]: r for r in tables["stores"][1:] if r[1]}
        self.assertEqual(sorted(rows), sorted(per_store))
        for store, (earned, payable, held) in per_store.items():
            self.assertEqual([Decimal(v) for v in rows[store][5:9]],
                             [earned, payable, held, withheld[store][0]], store)
        # the anchor by hand: February's net sales -376.55, earned 0.9225, payable 25.92
        self.assertEqual(rows["s-anchor"][3:7], ["2", "-376.55", "0.9225", "25.92"])
        late = [r for r in tables["late"][1:] if r[2] == "anchor-r2-late"]
        self.assertEqual(late, [
            ["2026-02", "2026-01", "anchor-r2-late", "anchor-o2", "anchor-doc-B",
             "commission_reversal", "-15.00"],
            ["2026-02", "2026-01", "anchor-r2-late", "anchor-o2", "anchor-mom-A",
             "override_reversal", "-0.15"]])
        payable = {r["period"]: ZERO for r in self.csv("statements")}
        for r in self.csv("statements"):
            payable[r["period"]] += Decimal(r["payable"])
        self.assertEqual([(r[0], Decimal(r[2])) for r in tables["trend"][1:]],
                         sorted(payable.items()))
        self.assertIn('class="ok">Conservation holds for each of the 38 distributors', text)

    def test_report_renders_in_chromium(self):
        if not chromium():
            self.skipTest("no chromium (CI sets REFERRAL_REQUIRE_CHROMIUM=1 and has it)")
        path, _ = self.page()
        png = os.path.join(self.tmp, "report.png")
        proc = screenshot(path, png)
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        width, height, colours = png_pixels(png)
        self.assertEqual((width, height), (1280, 2000))
        self.assertGreater(len(colours), 8, "the page rendered blank")

    def test_generator_is_deterministic(self):
        with tempfile.TemporaryDirectory() as again:
            subprocess.run(["python3", os.path.join(EXAMPLE_DIR, "generate.py"), "--out", again],
                           check=True, stdout=subprocess.DEVNULL)
            names = sorted(os.listdir(again))
            self.assertEqual(names, ["2026-01-late-refund.jsonl", "2026-01.jsonl", "2026-02.jsonl"])
            for name in names:
                with open(os.path.join(again, name), "rb") as a, \
                        open(os.path.join(self.out, "data", name), "rb") as b:
                    self.assertEqual(a.read(), b.read(), name)


@unittest.skipUnless(have_cli(), "no referral command at %s (set REFERRAL_CLI)" % CLI)
class MonthlySettlementFailures(unittest.TestCase):
    """run.sh stops at the first failing step with a non-zero status."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="test-examples-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_missing_cli(self):
        missing = os.path.join(self.tmp, "no-such-referral")
        proc = run_example(os.path.join(self.tmp, "out"), cli=missing)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(missing, proc.stderr)

    def test_output_directory_already_holding_a_store(self):
        out = os.path.join(self.tmp, "out")
        os.makedirs(out)
        store = store_name(out, "brand.db")
        if PG:  # a brand that exists: init refuses it, changing nothing
            self.assertEqual(run("init", store, "--plan", os.path.join(EXAMPLE_DIR, "plan.json"))
                             .code, 0)
        else:
            with open(store, "w"):
                pass
        proc = run_example(out)
        self.assertNotEqual(proc.returncode, 0)
        if PG:
            self.assertIn('brand "%s" already exists' % brand_of(store), proc.stderr)
            self.assertEqual(run("export", store, "members").out,
                             "member,lifetime,balance,tier,sharer,effective_tier\n")
        else:
            self.assertIn("brand.db already exists", proc.stderr)
            self.assertEqual(os.path.getsize(store), 0)

    def test_a_failing_verify_stops_the_run(self):
        fake = os.path.join(self.tmp, "referral")
        with open(fake, "w") as f:
            f.write('#!/bin/sh\nif [ "$1" = verify ]; then echo "verify: discrepancy" >&2; exit 6; fi\n'
                    'exec "%s" "$@"\n' % CLI)
        os.chmod(fake, os.stat(fake).st_mode | stat.S_IXUSR)
        proc = run_example(os.path.join(self.tmp, "out"), cli=fake)
        self.assertEqual(proc.returncode, 6)
        self.assertIn("verify: discrepancy", proc.stderr)
        self.assertNotIn("Statements 2026-01", proc.stdout)


if __name__ == "__main__":
    unittest.main()
