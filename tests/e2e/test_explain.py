"""`referral explain`: how a statement came about, on a case worked by hand.

The plan is the reference plan (grade 1: rate 0.05, bounty 20.00; grade 2:
0.08 at 3 members, 3000.00 sales, 5 shares, rating 3.0; override 0.01;
half_up; min_payout 0.01) with a 15-day refund window and China's 劳务报酬
withholding. Store s1 is rated 4.5 on 1 Jan. R (a mom) recruits D (a mom).
D brings m1, m2, m3 and shares 5 times in January.

  o3  5 Jan 12:00  m3 buys     10.00  D 0.50 + bounty 20.00; R 0.005   released Jan (20 Jan)
  o1 10 Jan 12:00  m1 buys 100000.00  D 5000.00 + bounty 20.00; R 50.00  released Jan (25 Jan)
  o2 20 Jan 10:00  m2 buys   2000.00  D 100.00 + bounty 20.00; R 1.00  released Feb (4 Feb)
  f1 28 Jan 10:00  500.00 of o2 back  D -25.00; R -0.25    with o2's lines: Feb
  f2 10 Mar 10:00  1500.00 of o2 back D -75.00, bounty reversed -20.00 (m2's net
                   spend back to 0); R -0.75; o2's lines were released in Feb,
                   so these are taken back at once, in March

January, D: commission 0.50 + 5000.00 + 100.00 - 25.00 = 5075.50, bounty 60.00,
  accrued 5135.50; released 0.50 + 20.00 + 5000.00 + 20.00 = 5040.50; held
  100.00 + 20.00 - 25.00 = 95.00; payable 5040.50; tax base 5040.50 x 0.80 =
  4032.40, x 0.20 = 806.48 withheld, net 4234.02. Grading (window Nov-Jan):
  3 members, sales 10 + 100000 + 2000 - 500 = 101510.00, 5 shares, rating
  4.50: grade 2 reached; grade 3 misses members (10) and shares (20).
January, R: override 0.005 + 50.00 + 1.00 - 0.25 = 50.755; released 50.005;
  held 0.75; 50.005 rounds half up to 50.01, carry -0.005; no tax (below 800).
February, D: released 95.00 held in January; payable 95.00.
March, D: -75.00 - 20.00 = -95.00, payable 0.00, carried -95.00.
"""
import json
import unittest

from helpers import INPUT, OK, REFERENCE_PLAN, STATE, USAGE, StoreCase, run, write


def at(month, day, hour=12):
    return "2026-%02d-%02dT%02d:00:00+08:00" % (month, day, hour)


CHINA = {"threshold": "4000.00", "fixed_deduction": "800.00", "rate_deduction": "0.20",
         "brackets": [{"up_to": "20000.00", "rate": "0.20", "quick_deduction": "0.00"},
                      {"up_to": "50000.00", "rate": "0.30", "quick_deduction": "2000.00"},
                      {"up_to": None, "rate": "0.40", "quick_deduction": "7000.00"}]}

JANUARY = [
    {"type": "store", "id": "s1", "at": at(1, 1, 8), "name": "Store One", "region": "east"},
    {"type": "store_rating", "id": "r1", "at": at(1, 1, 9), "store": "s1", "rating": "4.5"},
    {"type": "distributor", "id": "R", "at": at(1, 1, 10), "kind": "mom", "store": "s1",
     "recruiter": None},
    {"type": "distributor", "id": "D", "at": at(1, 1, 11), "kind": "mom", "store": "s1",
     "recruiter": "R"},
    {"type": "member", "id": "m1", "at": at(1, 2), "distributor": "D"},
    {"type": "member", "id": "m2", "at": at(1, 3), "distributor": "D"},
    {"type": "member", "id": "m3", "at": at(1, 4), "distributor": "D"},
    {"type": "order", "id": "o3", "at": at(1, 5), "member": "m3", "amount": "10.00"},
    {"type": "order", "id": "o1", "at": at(1, 10), "member": "m1", "amount": "100000.00"},
    {"type": "order", "id": "o2", "at": at(1, 20, 10), "member": "m2", "amount": "2000.00"},
    {"type": "refund", "id": "f1", "at": at(1, 28, 10), "order": "o2", "amount": "500.00"},
] + [{"type": "share", "id": "sh%d" % i, "at": at(1, 6 + i), "distributor": "D"}
     for i in range(5)]
MARCH = [{"type": "refund", "id": "f2", "at": at(3, 10, 10), "order": "o2", "amount": "1500.00"}]


class Explain(StoreCase):
    def setUp(self):
        super().setUp()
        with open(REFERENCE_PLAN) as f:
            plan = json.load(f)
        plan.update(hold_days=15, withholding=CHINA)
        self.init(write(self.path("plan.json"), json.dumps(plan)))
        self.ingest_events(JANUARY)

    def explain(self, dist, period):
        doc = json.loads(self.expect(OK, "explain", self.db, dist, "--period", period,
                                     "--format", "json").out)
        text = self.expect(OK, "explain", self.db, dist, "--period", period).out
        return doc, text

    def close_all(self):
        self.expect(OK, "close", self.db, "2026-01")
        self.expect(OK, "close", self.db, "2026-02")
        self.ingest_events(MARCH, name="march.jsonl")
        self.expect(OK, "close", self.db, "2026-03")

    def test_january_of_d(self):
        self.close_all()
        doc, text = self.explain("D", "2026-01")
        self.assertEqual((doc["distributor"], doc["state"], doc["grade"], doc["rate"],
                          doc["bounty_per_member"], doc["recruiter"], doc["store_name"]),
                         ("D", "closed", 1, "0.05", "20.00", "R", "Store One"))
        # by member, then order; lines in the order they happened
        lines = {g["member"]: [[(ln["type"], ln["event"], ln["base"], ln["rate"], ln["value"],
                                 ln["released"]) for ln in o["lines"]] for o in g["orders"]]
                 for g in doc["members"]}
        self.assertEqual(lines, {
            "m1": [[("commission", "o1", "100000.00", "0.05", "5000.00", "2026-01"),
                    ("bounty", "o1", None, None, "20.00", "2026-01")]],
            "m2": [[("commission", "o2", "2000.00", "0.05", "100.00", "2026-02"),
                    ("bounty", "o2", None, None, "20.00", "2026-02"),
                    ("commission_reversal", "f1", "500.00", "0.05", "-25.00", "2026-02")]],
            "m3": [[("commission", "o3", "10.00", "0.05", "0.50", "2026-01"),
                    ("bounty", "o3", None, None, "20.00", "2026-01")]]})
        self.assertEqual([g["member"] for g in doc["members"]], ["m1", "m2", "m3"])
        self.assertEqual(doc["recruits"], [])
        self.assertEqual((doc["commission"], doc["bounty"], doc["override"], doc["accrued"]),
                         ("5075.50", "60.00", "0.00", "5135.50"))
        self.assertEqual((doc["hold_days"], doc["released"], doc["held"]), (15, "5040.50", "95.00"))
        self.assertEqual([(ln["order"], ln["value"], ln["released"]) for ln in doc["held_lines"]],
                         [("o2", "100.00", "2026-02"), ("o2", "20.00", "2026-02"),
                          ("o2", "-25.00", "2026-02")])
        self.assertEqual(doc["released_from_earlier"], [])
        self.assertEqual((doc["opening_carry"], doc["total"], doc["rounded"], doc["payable"],
                          doc["closing_carry"], doc["withheld"], doc["net"]),
                         ("0.00", "5040.50", "5040.50", "5040.50", "0.00", "806.48", "4234.02"))
        self.assertEqual(doc["withholding"]["base"], "4032.40")
        g = doc["grading"]
        self.assertEqual((g["provisional"], g["from"], g["to"], g["members"], g["sales"],
                          g["shares"], g["store_rating"], g["next_grade"]),
                         (False, "2025-11", "2026-01", 3, "101510.00", 5, "4.50", 2))
        met = {gd["grade"]: {t["metric"]: t["met"] for t in gd["thresholds"]}
               for gd in g["grades"]}
        self.assertEqual(met[2], {"members": True, "sales": True, "shares": True,
                                  "store_rating": True})
        self.assertEqual(met[3], {"members": False, "sales": True, "shares": False,
                                  "store_rating": True})
        self.assertEqual([gd["reached"] for gd in g["grades"]], [True, False, False])
        for words in ("commission: 100000.00 x 0.05 = 5000.00",
                      "bounty: m1 became a consuming member",
                      "refund f1 on 2026-01-28 10:00: -(500.00 x 0.05) = -25.00 (held until 2026-02)",
                      "Held at the end of the month: 95.00",
                      "Released this month: 5040.50",
                      "Withheld: 806.48; paid to her: 4234.02",
                      "Grade 2: reached",
                      "Her grade for the next month: 2"):
            self.assertIn(words, text)

    def test_rounding_and_the_override_of_r(self):
        self.close_all()
        doc, text = self.explain("R", "2026-01")
        recruits = doc["recruits"]
        self.assertEqual([g["recruit"] for g in recruits], ["D"])
        self.assertEqual([(o["order"], [(ln["type"], ln["base"], ln["value"]) for ln in o["lines"]])
                          for o in recruits[0]["orders"]],
                         [("o1", [("override", "5000.00", "50.00")]),
                          ("o2", [("override", "100.00", "1.00"),
                                  ("override_reversal", "25.00", "-0.25")]),
                          ("o3", [("override", "0.50", "0.005")])])
        self.assertEqual((doc["override"], doc["released"], doc["held"], doc["total"],
                          doc["rounded"], doc["payable"], doc["closing_carry"], doc["withheld"]),
                         ("50.755", "50.005", "0.75", "50.005", "50.01", "50.01", "-0.005",
                          "0.00"))
        self.assertEqual(doc["withholding"]["base"], "-749.99")
        self.assertIn("Total: carried 0.00 + released 50.005 = 50.005", text)
        self.assertIn("Rounded to the fen (half up, 四舍五入): 50.01", text)
        self.assertIn("Carried to next month: total 50.005 - payable 50.01 = -0.005", text)

    def test_february_releases_what_january_held(self):
        self.close_all()
        doc, text = self.explain("D", "2026-02")
        self.assertEqual((doc["grade"], doc["rate"], doc["members"], doc["accrued"]),
                         (2, "0.08", [], "0.00"))
        self.assertEqual([(ln["type"], ln["order"], ln["booked"], ln["value"])
                          for ln in doc["released_from_earlier"]],
                         [("commission", "o2", "2026-01", "100.00"),
                          ("bounty", "o2", "2026-01", "20.00"),
                          ("commission_reversal", "o2", "2026-01", "-25.00")])
        self.assertEqual((doc["released"], doc["held"], doc["payable"], doc["withheld"],
                          doc["net"]), ("95.00", "0.00", "95.00", "0.00", "95.00"))
        self.assertIn("Held by earlier months and released now:", text)

    def test_march_takes_back_at_once(self):
        self.close_all()
        doc, text = self.explain("D", "2026-03")
        [m2] = doc["members"]
        [o2] = m2["orders"]
        self.assertEqual((m2["member"], o2["order"], o2["booked"], o2["placed_at"]),
                         ("m2", "o2", "2026-01", at(1, 20, 10)))
        # at o2's rate of January (grade 1), not D's grade 2 of March
        self.assertEqual([(ln["type"], ln["event"], ln["base"], ln["rate"], ln["value"],
                           ln["released"]) for ln in o2["lines"]],
                         [("commission_reversal", "f2", "1500.00", "0.05", "-75.00", "2026-03"),
                          ("bounty_reversal", "f2", None, None, "-20.00", "2026-03")])
        self.assertEqual((doc["accrued"], doc["released"], doc["total"], doc["payable"],
                          doc["closing_carry"]), ("-95.00", "-95.00", "-95.00", "0.00", "-95.00"))
        self.assertIn("bounty reversed: refund f2 on 2026-03-10 10:00 brought m2's net spend"
                      " back to 0: -20.00", text)
        self.assertIn("Order o2, placed 2026-01-20 10:00 (booked in 2026-01)", text)
        self.assertIn("nothing is paid, all is carried", text)

    def test_a_draft_grades_provisionally(self):
        self.expect(OK, "close", self.db, "2026-01")
        self.expect(OK, "settle", self.db, "2026-02")
        doc, text = self.explain("D", "2026-02")
        self.assertEqual(doc["state"], "draft")
        g = doc["grading"]
        # window Dec-Feb: January's 3 members, 101510.00, 5 shares; s1 at 4.50
        self.assertEqual((g["provisional"], g["members"], g["sales"], g["shares"],
                          g["store_rating"], g["next_grade"]), (True, 3, "101510.00", 5, "4.50", 2))
        self.assertIn("draft: not closed yet", text)
        self.assertIn("Grading (provisional", text)

    def test_refusals(self):
        self.expect(OK, "close", self.db, "2026-01")
        r = self.expect(INPUT, "explain", self.db, "X", "--period", "2026-01")
        self.assertEqual(r.err, 'referral: distributor "X" does not exist\n')
        r = self.expect(STATE, "explain", self.db, "D", "--period", "2026-02")
        self.assertIn("period 2026-02 has no statements", r.err)
        self.assert_usage(run("explain", self.db, "D", "--period", "2026-1"))
        self.assert_usage(run("explain", self.db, "D", "--period", "2026-01", "--format", "csv"))
        self.assert_usage(run("explain", self.db, "D"))
        # a distributor who joins later has no statement in January
        self.ingest_events([{"type": "distributor", "id": "L", "at": at(2, 1), "kind": "mom",
                             "store": "s1", "recruiter": None}], name="late.jsonl")
        r = self.expect(INPUT, "explain", self.db, "L", "--period", "2026-01")
        self.assertIn('distributor "L" has no statement in 2026-01', r.err)


if __name__ == "__main__":
    unittest.main()
