"""Spec v2 through the Python binding: what is held and released on
Store.statements(), and Store.payouts() with the income tax withheld, all as
Decimals. Every expected figure is computed by hand in the comments, from
the reference plan (grade 1 rate 0.05, bounty 20.00, override 0.01).

Run by ctest with REFERRAL_LIB and PYTHONPATH set; on PostgreSQL with
REFERRAL_TEST_PG too (engine.py).
"""

import copy
import os
import tempfile
import unittest
from decimal import Decimal

import referral
from referral import Payout, Store

from engine import store_exists, store_name
from test_pandas import PLAN, ev

D = Decimal

# China's 劳务报酬 table.
CHINA = {
    "threshold": "4000.00", "fixed_deduction": "800.00", "rate_deduction": "0.20",
    "brackets": [
        {"up_to": "20000.00", "rate": "0.20", "quick_deduction": "0.00"},
        {"up_to": "50000.00", "rate": "0.30", "quick_deduction": "2000.00"},
        {"up_to": None, "rate": "0.40", "quick_deduction": "7000.00"},
    ],
}

NETWORK = [
    ev("store", "S1", "2026-01-01T08:00:00", name="Store One", region="east"),
    ev("distributor", "R1", "2026-01-02T09:00:00", kind="mom", store="S1", recruiter=None),
    ev("distributor", "D1", "2026-01-03T09:00:00", kind="mom", store="S1", recruiter="R1"),
    ev("member", "M1", "2026-01-04T09:00:00", distributor="D1"),
]


class Payouts(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = store_name(self.dir.name, "brand.db")

    def tearDown(self):
        self.dir.cleanup()

    def store(self, **keys):
        plan = copy.deepcopy(PLAN)
        plan.update(keys)
        return Store.create(self.path, plan)

    def test_tax_is_withheld_and_net_paid(self):
        # D1: 100000.00 x 0.05 = 5000.00 + bounty 20.00 = 5020.00; base
        # 5020.00 x 0.80 = 4016.00, x 0.20 = 803.20 withheld; net 4216.80.
        # R1: override 0.01 x 5000.00 = 50.00; base 50.00 - 800.00 < 0: none.
        with self.store(withholding=CHINA) as st:
            st.ingest(NETWORK + [ev("order", "O1", "2026-01-10T12:00:00", member="M1",
                                    amount="100000.00")])
            st.close_period("2026-01")
            got = list(st.payouts("2026-01"))
            self.assertEqual(got, [
                Payout("2026-01", "D1", "S1", D("5020.00"), D("803.20"), D("4216.80")),
                Payout("2026-01", "R1", "S1", D("50.00"), D("0.00"), D("50.00")),
            ])
            self.assertTrue(all(type(p.withheld) is Decimal for p in got))
            self.assertEqual(sum(p.net for p in got), D("4266.80"))

    def test_held_and_released(self):
        # hold_days 10: O1 at 2026-01-25 is released on 2026-02-04. January:
        # D1 accrued 5.00 + 20.00 = 25.00, all held, nothing paid, so no
        # payout; February: the 25.00 released and paid. R1's override
        # 0.01 x 5.00 = 0.05 is held and released with it.
        with self.store(hold_days=10) as st:
            st.ingest(NETWORK + [ev("order", "O1", "2026-01-25T10:00:00", member="M1",
                                    amount="100.00")])
            st.close_period("2026-01")
            st.close_period("2026-02")
            d1 = [s for s in st.statements() if s.distributor == "D1"]
            self.assertEqual([(s.period, s.accrued, s.released, s.held, s.payable) for s in d1], [
                ("2026-01", D("25.00"), D("0.00"), D("25.00"), D("0.00")),
                ("2026-02", D("0.00"), D("25.00"), D("0.00"), D("25.00")),
            ])
            self.assertEqual([(p.period, p.distributor, p.net) for p in st.payouts()],
                             [("2026-02", "D1", D("25.00")), ("2026-02", "R1", D("0.05"))])

    def test_a_bad_withholding_block_is_refused_naming_its_key(self):
        table = copy.deepcopy(CHINA)
        table["brackets"][1]["up_to"] = "19999.99"
        with self.assertRaises(referral.InputError) as e:
            self.store(withholding=table)
        self.assertIn("withholding.brackets[1].up_to", str(e.exception))
        self.assertFalse(store_exists(self.path), "a refused plan left a store behind")


if __name__ == "__main__":
    unittest.main()
