"""`referral report`: the month-end page, read back with a parser.

Its tables must say what the exports say (the exports themselves are
checked by hand elsewhere), plus hand figures of the worked example
(tests/fixtures/basic/NOTES.md): in March, D1 is paid 50.00 and R1 0.50.
The page must hold no script and refer to nothing outside itself, and
names must come back from it as they went in.
"""
import csv
import io
import json
import os
import re
import unittest
from collections import defaultdict
from decimal import Decimal

from helpers import OK, REFERENCE_PLAN, STATE, USAGE, PageTables, StoreCase, run, write
from test_roster import replay_basic

ZERO = Decimal(0)


def body(table):
    """A table's rows without its header."""
    return table[1:]


class BasicReport(StoreCase):
    def setUp(self):
        super().setUp()
        replay_basic(self)

    def page(self, period):
        return self.expect(OK, "report", self.db, "--period", period).out

    def csv(self, table, *extra):
        return list(csv.DictReader(io.StringIO(self.export(table, *extra))))

    def test_payouts_are_the_export(self):
        tables = PageTables(self.page("2026-03")).tables
        names = {s["store"]: s["name"] for s in self.csv("stores")}
        expected = [[p["distributor"], p["store"], names[p["store"]], p["payable"], p["withheld"],
                     p["net"]] for p in self.csv("payouts", "--period", "2026-03")]
        rows = body(tables["payouts"])
        self.assertEqual(rows[:-1], expected)
        # by hand: D1 50.00, R1 0.50
        self.assertEqual(rows[:-1], [["D1", "s1", "Store One", "50.00", "0.00", "50.00"],
                                     ["R1", "s1", "Store One", "0.50", "0.00", "0.50"]])
        self.assertEqual(rows[-1], ["total", "", "", "50.50", "0.00", "50.50"])

    def test_totals_are_the_sums_of_the_statements(self):
        tables = PageTables(self.page("2026-02")).tables
        totals = dict(body(tables["totals"]))
        rows = self.csv("statements", "--period", "2026-02")
        for label, column in (("commission", "commission"), ("bounty", "bounty"),
                              ("override", "override"),
                              ("earned (commission + bounty + override)", "accrued"),
                              ("released", "released"), ("held for later months", "held"),
                              ("carried from last month", "opening_carry"),
                              ("total (carried + released)", "total"), ("payable", "payable"),
                              ("carried to next month", "closing_carry")):
            self.assertEqual(Decimal(totals[label]), sum((Decimal(r[column]) for r in rows), ZERO),
                             label)
        # February by hand: D1 -50.00, R1 -0.50; nothing paid; carries -50.0015, -0.504315
        self.assertEqual((totals["earned (commission + bounty + override)"], totals["payable"],
                          totals["carried to next month"]), ("-50.50", "0.00", "-50.505815"))
        self.assertEqual(totals["tax withheld"], "0.00")

    def test_per_store_and_the_conservation_check(self):
        text = self.page("2026-03")
        rows = body(PageTables(text).tables["stores"])
        # s1: both distributors; sales 2000.00 (o2); earned 100.00 + 1.00; paid 50.50
        self.assertEqual(rows, [
            ["east", "s1", "Store One", "2", "2000.00", "101.00", "50.50", "0.00", "0.00"],
            ["east", "", "subtotal", "2", "2000.00", "101.00", "50.50", "0.00", "0.00"],
            ["all regions", "", "", "2", "2000.00", "101.00", "50.50", "0.00", "0.00"]])
        # paid 139.57 + 1.20 + 50.00 + 0.50 = 191.27; carried -0.0015 - 0.004315;
        # earned 139.5685 + 1.195685 - 50.50 + 101.00 = 191.264185
        self.assertIn("Conservation holds for each of the 2 distributors: paid so far 191.27 +"
                      " carried -0.005815 + held 0.00 = earned so far 191.264185, exactly.", text)

    def test_rankings_grades_and_the_months(self):
        tables = PageTables(self.page("2026-03")).tables
        # March: D1 earned 100.00 and sold 2000.00; R1 earned 1.00 and sold nothing
        self.assertEqual(body(tables["rank-distributors-earned"]),
                         [["1", "D1", "Store One", "100.00"], ["2", "R1", "Store One", "1.00"]])
        self.assertEqual(body(tables["rank-distributors-sales"]),
                         [["1", "D1", "Store One", "2000.00"]])
        self.assertEqual(body(tables["rank-distributors-members"]), [])  # no new bounty
        self.assertEqual(body(tables["rank-stores-earned"]), [["1", "s1", "Store One", "101.00"]])
        self.assertEqual(body(tables["grade-moves"]), [["1", "1", "stays", "2"]])
        # payables 140.77, 0.00, 50.50; sales 2391.37, -1000.00, 2000.00
        self.assertEqual(body(tables["trend"]), [["2026-01", "2391.37", "140.77"],
                                                 ["2026-02", "-1000.00", "0.00"],
                                                 ["2026-03", "2000.00", "50.50"]])
        self.assertEqual(body(tables["late"]), [])

    def test_self_contained(self):
        text = self.page("2026-03")
        self.assertTrue(text.startswith("<!DOCTYPE html>\n"))
        self.assertNotRegex(text, r"(?i)<script|<link|<img|<iframe|@import|url\(")
        tags = PageTables(text).tags
        self.assertEqual([t for t, a in tags if "src" in a or "href" in a], [])
        self.assertEqual(len([t for t, _ in tags if t == "svg"]), 2)
        self.assertIn("@media print", text)

    def test_output_file(self):
        out = self.path("march.html")
        r = self.expect(OK, "report", self.db, "--period", "2026-03", "--output", out)
        self.assertEqual(r.out, "report: %s\n" % out)
        with open(out, encoding="utf-8") as f:
            self.assertEqual(f.read(), self.page("2026-03"))

    def test_refusals(self):
        r = self.expect(STATE, "report", self.db, "--period", "2026-04")
        self.assertIn("period 2026-04 has no statements", r.err)
        self.assert_usage(run("report", self.db))
        self.assert_usage(run("report", self.db, "--period", "March"))
        bad = self.path("no/such/dir/x.html")
        self.assertEqual(run("report", self.db, "--period", "2026-03", "--output", bad).code, 5)


class Names(StoreCase):
    """Names that HTML must escape, a late refund and a second region."""

    def test_names_are_escaped_and_come_back(self):
        self.init()
        name = '<b>Mom & "Baby"</b> 母婴店\'s'
        events = [
            {"type": "store", "id": "s1", "at": "2026-01-01T08:00:00+08:00", "name": name,
             "region": "华东 <east>"},
            {"type": "store", "id": "s2", "at": "2026-01-01T08:00:00+08:00", "name": "二店",
             "region": "south"},
            {"type": "distributor", "id": "D1", "at": "2026-01-02T09:00:00+08:00", "kind": "mom",
             "store": "s1", "recruiter": None},
            {"type": "distributor", "id": "D2", "at": "2026-01-02T09:00:00+08:00", "kind": "mom",
             "store": "s2", "recruiter": None},
            {"type": "member", "id": "m1", "at": "2026-01-03T09:00:00+08:00", "distributor": "D1"},
            {"type": "member", "id": "m2", "at": "2026-01-03T09:00:00+08:00", "distributor": "D2"},
            {"type": "order", "id": "o1", "at": "2026-01-10T12:00:00+08:00", "member": "m1",
             "amount": "100.00"},
            {"type": "order", "id": "o2", "at": "2026-01-11T12:00:00+08:00", "member": "m2",
             "amount": "300.00"},
        ]
        self.ingest_events(events)
        self.expect(OK, "close", self.db, "2026-01")
        self.ingest_events([{"type": "refund", "id": "f1", "at": "2026-01-20T12:00:00+08:00",
                             "order": "o1", "amount": "40.00"}], name="late.jsonl")
        self.expect(OK, "settle", self.db, "2026-02")
        text = self.expect(OK, "report", self.db, "--period", "2026-02").out
        self.assertNotIn("<b>Mom", text)
        self.assertIn("&lt;b&gt;Mom &amp; &quot;Baby&quot;&lt;/b&gt; 母婴店&#39;s", text)
        tables = PageTables(text).tables
        stores = body(tables["stores"])
        # February (a draft): only the late refund of 40.00 at 0.05, booked here
        self.assertEqual(stores[0], ["south", "s2", "二店", "1", "0.00", "0.00", "0.00", "0.00",
                                     "0.00"])
        self.assertEqual(stores[2], ["华东 <east>", "s1", name, "1", "-40.00", "-2.00", "0.00",
                                     "0.00", "0.00"])
        self.assertEqual(body(tables["late"]), [["2026-02", "2026-01", "f1", "o1", "D1",
                                                 "commission_reversal", "-2.00"]])
        self.assertIn("Draft: settled, not closed", text)
        self.assertIn("decided when this month closes", text)
        # January's ranking: D2 sold 300.00, D1 100.00; amounts aligned on the point
        jan = PageTables(self.expect(OK, "report", self.db, "--period", "2026-01").out).tables
        self.assertEqual(body(jan["rank-distributors-sales"]),
                         [["1", "D2", "二店", "300.00"], ["2", "D1", name, "100.00"]])


if __name__ == "__main__":
    unittest.main()
