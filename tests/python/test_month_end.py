"""The month end as people read it, through the Python binding: the stores,
distributors and tree exports, the distributor= filter, explain() and
report(). The store is the worked example (tests/fixtures/basic), whose
figures are worked out by hand in its NOTES.md; the expected values below
follow from them by hand.

Run by ctest with REFERRAL_LIB and PYTHONPATH set; on PostgreSQL with
REFERRAL_TEST_PG too (engine.py).
"""

import os
import tempfile
import unittest
from decimal import Decimal

import referral
from referral import Distributor, InputError, StateError, Store, StoreRow, TreeNode, UsageError

from engine import store_name
from test_binding import example, reference_plan

D = Decimal


class MonthEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.path = store_name(cls.dir.name, "basic.db")
        with Store.create(cls.path, reference_plan()) as st:
            for batch, period in (("batch1.jsonl", "2026-01"), ("batch2.jsonl", "2026-02"),
                                  ("batch3.jsonl", "2026-03")):
                st.ingest(example(batch))
                st.close_period(period)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def setUp(self):
        self.st = Store.open(self.path)

    def tearDown(self):
        self.st.close()

    def test_stores_distributors_and_tree(self):
        self.assertEqual(list(self.st.stores()), [StoreRow("s1", "Store One", "east", None)])
        self.assertEqual(list(self.st.distributors()), [
            Distributor("D1", "doctor", "s1", "R1", "2026-01-03T09:00:00+08:00", None, 1, 1),
            Distributor("R1", "mom", "s1", None, "2026-01-02T09:00:00+08:00", None, 1, 0)])
        self.assertEqual(list(self.st.tree()), [TreeNode("R1", None, 0, "s1", 1, False),
                                                TreeNode("D1", "R1", 1, "s1", 1, False)])
        self.assertEqual([n.distributor for n in self.st.tree("D1")], ["D1"])

    def test_distributor_filter(self):
        # D1's payables: 139.57 in January, 50.00 in March (February's is 0.00)
        self.assertEqual([(p.period, p.payable) for p in self.st.payouts(distributor="D1")],
                         [("2026-01", D("139.57")), ("2026-03", D("50.00"))])
        self.assertEqual([s.distributor for s in self.st.statements("2026-02", ["R1", "D1"])],
                         ["D1", "R1"])
        self.assertEqual([ln.value for ln in self.st.lines(distributor="R1")],
                         [D("1.195685"), D("-0.50"), D("1.00")])
        self.assertEqual([g.period for g in self.st.grades(distributor=("R1",))],
                         ["2026-01", "2026-02", "2026-03"])
        frame = self.st.rows_as_dicts("statements", "2026-01", distributor="R1")
        self.assertEqual([row["payable"] for row in frame], [D("1.20")])
        with self.assertRaises(InputError) as e:
            list(self.st.lines(distributor="D9"))
        self.assertIn('distributor "D9" does not exist', str(e.exception))
        with self.assertRaises(UsageError):
            self.st.rows("stores", distributor="D1")
        with self.assertRaises(UsageError):
            self.st.rows("tree", "2026-01")

    def test_export_options(self):
        text = self.st.export("tree", format="dot", distributor="R1")
        self.assertIn('"R1" -> "D1";', text)
        self.assertEqual(self.st.export("stores", bom=True),
                         "\ufeffstore,name,region,rating\ns1,Store One,east,\n")
        self.assertEqual(self.st.export("payouts", "2026-03", distributor="D1"),
                         "period,distributor,store,payable,withheld,net\n"
                         "2026-03,D1,s1,50.00,0.00,50.00\n")

    def test_explain(self):
        # NOTES.md, March: D1's o2 of 2000.00 at 0.05 = 100.00; carry
        # -50.0015 + 100.00 = 49.9985, half up 50.00, carry -0.0015
        doc = self.st.explain("D1", "2026-03", format="json")
        [m1] = doc["members"]
        [o2] = m1["orders"]
        self.assertEqual([(ln["type"], ln["base"], ln["rate"], ln["value"], ln["released"])
                          for ln in o2["lines"]],
                         [("commission", D("2000.00"), D("0.05"), D("100.00"), "2026-03")])
        self.assertEqual((doc["opening_carry"], doc["total"], doc["payable"],
                          doc["closing_carry"]),
                         (D("-50.0015"), D("49.9985"), D("50.00"), D("-0.0015")))
        self.assertEqual(doc["grading"]["grades"][0]["thresholds"][1]["min"], D("3000.00"))
        self.assertIn("commission: 2000.00 x 0.05 = 100.00", self.st.explain("D1", "2026-03"))
        with self.assertRaises(StateError):
            self.st.explain("D1", "2026-04")
        with self.assertRaises(InputError):
            self.st.explain("D9", "2026-03")
        with self.assertRaises(UsageError):
            self.st.explain("D1", "2026-03", format="csv")

    def test_report(self):
        page = self.st.report("2026-03")
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        # March: D1 50.00 + R1 0.50 payable
        self.assertIn('<tr class="total"><td>total</td><td></td><td></td>'
                      '<td class="n">50.50</td>', page)
        with self.assertRaises(StateError):
            self.st.report("2026-04")


if __name__ == "__main__":
    unittest.main()
