"""End-to-end tests of the network exports (`stores`, `distributors`,
`tree`), the `--distributor` filter and `--bom`, through the `referral`
command.

Expected rows are worked out by hand from the events, never taken from the
program's output: first on the worked example (tests/fixtures/basic), then
on a small network made here with names that need quoting, store changes,
a termination, ratings before and after the end of a period, a walk-in
bound later, and a promotion.
"""
import csv
import io
import json
import os
import unittest

from helpers import (BASIC_DIR, INPUT, OK, REFERENCE_PLAN, USAGE, StoreCase, run, write)


def replay_basic(test):
    """Runs the worked example's script into test.db, from its folder."""
    with open(os.path.join(BASIC_DIR, "script.txt")) as f:
        for line in f:
            cmd, *args = line.split()
            if cmd == "init":
                test.expect(OK, "init", test.db, "--plan", *args, cwd=BASIC_DIR)
            else:
                test.expect(OK, cmd, test.db, *args, cwd=BASIC_DIR)


class BasicExample(StoreCase):
    """tests/fixtures/basic after its three closes: store s1 (no rating);
    R1, a mom without recruiter, joined 2 Jan 09:00; D1, a doctor recruited
    by R1, joined 3 Jan 09:00; m1 bound to D1 on 4 Jan with the plan's
    36-month window, so still bound at the end of March. Nobody is ever
    promoted (one member, no shares, no rating: grade 2 needs 3, 5, 3.0)."""

    def setUp(self):
        super().setUp()
        replay_basic(self)

    def test_stores(self):
        self.assertEqual(self.export("stores"), "store,name,region,rating\ns1,Store One,east,\n")

    def test_distributors(self):
        self.assertEqual(self.export("distributors"),
                         "distributor,kind,store,recruiter,joined_at,terminated_at,grade,members\n"
                         "D1,doctor,s1,R1,2026-01-03T09:00:00+08:00,,1,1\n"
                         "R1,mom,s1,,2026-01-02T09:00:00+08:00,,1,0\n")

    def test_distributors_as_json(self):
        self.assertEqual(json.loads(self.export("distributors", "--format", "json")), [
            {"distributor": "D1", "kind": "doctor", "store": "s1", "recruiter": "R1",
             "joined_at": "2026-01-03T09:00:00+08:00", "terminated_at": None, "grade": 1,
             "members": 1},
            {"distributor": "R1", "kind": "mom", "store": "s1", "recruiter": None,
             "joined_at": "2026-01-02T09:00:00+08:00", "terminated_at": None, "grade": 1,
             "members": 0}])

    def test_tree(self):
        self.assertEqual(self.export("tree"),
                         "distributor,recruiter,depth,store,grade,terminated\n"
                         "R1,,0,s1,1,no\n"
                         "D1,R1,1,s1,1,no\n")

    def test_tree_as_dot(self):
        self.assertEqual(self.export("tree", "--format", "dot"),
                         'digraph recruitment {\n'
                         '\tnode [shape=box, fontname="sans-serif"];\n'
                         '\t"R1" [label="R1\\nmom, s1, grade 1"];\n'
                         '\t"D1" [label="D1\\ndoctor, s1, grade 1"];\n'
                         '\t"R1" -> "D1";\n'
                         '}\n')

    def test_one_distributor_of_the_statements_lines_grades_and_payouts(self):
        # R1's lines by hand (NOTES.md): 0.01 x 119.5685, -0.01 x 50.00, 0.01 x 100.00
        self.assertEqual(self.export("lines", "--distributor", "R1"),
                         "period,distributor,type,event,order,member,source,base,rate,value\n"
                         "2026-01,R1,override,o1,o1,m1,D1,119.5685,0.01,1.195685\n"
                         "2026-02,R1,override_reversal,f1,o1,m1,D1,50.00,0.01,-0.50\n"
                         "2026-03,R1,override,o2,o2,m1,D1,100.00,0.01,1.00\n")
        # D1 in March: carry -50.0015 + 100.00 = 49.9985 -> 50.00, carry -0.0015
        self.assertEqual(self.export("statements", "--distributor", "D1", "--period", "2026-03"),
                         "period,distributor,store,grade,opening_carry,commission,bounty,override,"
                         "accrued,released,held,total,payable,closing_carry\n"
                         "2026-03,D1,s1,1,-50.0015,100.00,0.00,0.00,100.00,100.00,0.00,49.9985,"
                         "50.00,-0.0015\n")
        # payables of D1: 139.57 (Jan), 0.00 (Feb: no payout), 50.00 (Mar)
        self.assertEqual(self.export("payouts", "--distributor", "D1"),
                         "period,distributor,store,payable,withheld,net\n"
                         "2026-01,D1,s1,139.57,0.00,139.57\n"
                         "2026-03,D1,s1,50.00,0.00,50.00\n")
        # grades of R1, window of 3: no member, no sale of her own
        self.assertEqual(self.export("grades", "--distributor", "R1"),
                         "period,distributor,grade,members,sales,shares,store_rating,next_grade\n"
                         "2026-01,R1,1,0,0.00,0,0.00,1\n"
                         "2026-02,R1,1,0,0.00,0,0.00,1\n"
                         "2026-03,R1,1,0,0.00,0,0.00,1\n")

    def test_several_distributors_and_the_same_one_twice(self):
        both = self.export("statements", "--period", "2026-01", "--distributor", "R1",
                           "--distributor", "D1", "--distributor", "R1")
        self.assertEqual(both, self.export("statements", "--period", "2026-01"))

    def test_a_subtree(self):
        self.assertEqual(self.export("tree", "--distributor", "D1"),
                         "distributor,recruiter,depth,store,grade,terminated\nD1,R1,1,s1,1,no\n")
        self.assertEqual(self.export("distributors", "--distributor", "R1").splitlines()[1:],
                         ["R1,mom,s1,,2026-01-02T09:00:00+08:00,,1,0"])

    def test_an_unknown_distributor_is_rejected(self):
        r = self.expect(INPUT, "export", self.db, "lines", "--distributor", "D9")
        self.assertEqual(r.err, 'referral: distributor "D9" does not exist\n')
        self.assertEqual(r.out, "")

    def test_usage(self):
        for args in (("stores", "--distributor", "D1"), ("members", "--distributor", "D1"),
                     ("stores", "--period", "2026-01"), ("tree", "--period", "2026-01"),
                     ("statements", "--format", "dot"), ("tree", "--format", "svg"),
                     ("stores", "--bom=yes")):
            with self.subTest(args=args):
                self.assert_usage(run("export", self.db, *args))

    def test_bom(self):
        for table in ("statements", "members", "stores", "tree"):
            with self.subTest(table=table):
                plain = self.expect(OK, "export", self.db, table).raw_out
                self.assertEqual(self.expect(OK, "export", self.db, table, "--bom").raw_out,
                                 b"\xef\xbb\xbf" + plain)
        plain = self.expect(OK, "export", self.db, "lines", "--format", "json").raw_out
        self.assertEqual(self.expect(OK, "export", self.db, "lines", "--format", "json",
                                     "--bom").raw_out, b"\xef\xbb\xbf" + plain)


def at(month, day, hour=12):
    return "2026-%02d-%02dT%02d:00:00+08:00" % (month, day, hour)


class Network(StoreCase):
    """A network worked by hand.

    Stores: s1 'Store, "One"' in 华东, rated 4.5 on 5 Jan and 3.0 on 10 Feb;
    s2 二店 in south, rated 4 on 20 Jan.
    Distributors: A (mom, s1), B (doctor, s1, recruited by A), C
    (practitioner, s2, recruited by B), E (mom, s2). B moves to s2 on 15 Jan
    and back to s1 on 3 Feb. C leaves on 25 Jan.
    Members: m1 -> B (5 Jan), m2 -> C (6 Jan; ends with C on 25 Jan),
    m4 walks in unbound (7 Jan) and is bound to E (8 Jan); m3 -> B (2 Feb).
    m1 buys 100.00 on 10 Jan. The plan is the reference plan with grade 2
    reached at 1 member, 10.00 sales, 0 shares and a rating of 0.
    """

    EVENTS = [
        {"type": "store", "id": "s1", "at": at(1, 1), "name": 'Store, "One"', "region": "华东"},
        {"type": "store", "id": "s2", "at": at(1, 1), "name": "二店", "region": "south"},
        {"type": "store_rating", "id": "r1", "at": at(1, 5), "store": "s1", "rating": "4.5"},
        {"type": "store_rating", "id": "r3", "at": at(1, 20), "store": "s2", "rating": "4"},
        {"type": "distributor", "id": "A", "at": at(1, 2), "kind": "mom", "store": "s1",
         "recruiter": None},
        {"type": "distributor", "id": "B", "at": at(1, 3), "kind": "doctor", "store": "s1",
         "recruiter": "A"},
        {"type": "distributor", "id": "C", "at": at(1, 4), "kind": "practitioner",
         "store": "s2", "recruiter": "B"},
        {"type": "distributor", "id": "E", "at": at(1, 6), "kind": "mom", "store": "s2",
         "recruiter": None},
        {"type": "store_change", "id": "c1", "at": at(1, 15), "distributor": "B", "store": "s2"},
        {"type": "terminate", "id": "t1", "at": at(1, 25), "distributor": "C"},
        {"type": "member", "id": "m1", "at": at(1, 5), "distributor": "B"},
        {"type": "member", "id": "m2", "at": at(1, 6), "distributor": "C"},
        {"type": "member", "id": "m4", "at": at(1, 7), "distributor": None},
        {"type": "bind", "id": "b4", "at": at(1, 8), "member": "m4", "distributor": "E"},
        {"type": "order", "id": "o1", "at": at(1, 10), "member": "m1", "amount": "100.00"},
    ]
    FEBRUARY = [
        {"type": "store_change", "id": "c2", "at": at(2, 3), "distributor": "B", "store": "s1"},
        {"type": "store_rating", "id": "r2", "at": at(2, 10), "store": "s1", "rating": "3.0"},
        {"type": "member", "id": "m3", "at": at(2, 2), "distributor": "B"},
    ]

    def setUp(self):
        super().setUp()
        with open(REFERENCE_PLAN) as f:
            plan = json.load(f)
        plan["grades"][1].update(min_members=1, min_sales="10.00", min_shares=0,
                                 min_store_rating="0")
        self.init(write(self.path("plan.json"), json.dumps(plan)))
        self.ingest_events(self.EVENTS)
        # February's events are ingested now: dated after January's end,
        # they change nothing of January's figures
        self.ingest_events(self.FEBRUARY, name="february.jsonl")

    def rows(self, table, *extra):
        return list(csv.reader(io.StringIO(self.export(table, *extra))))[1:]

    def test_stores_quote_names_and_keep_utf8(self):
        self.expect(OK, "settle", self.db, "2026-01")
        # as of the end of January: s1's 4.5 (the 3.0 of 10 Feb comes later)
        self.assertEqual(self.export("stores"),
                         'store,name,region,rating\n'
                         's1,"Store, ""One""",华东,4.50\n'
                         's2,二店,south,4.00\n')
        self.assertEqual(json.loads(self.export("stores", "--format", "json"))[0],
                         {"store": "s1", "name": 'Store, "One"', "region": "华东",
                          "rating": "4.50"})

    def test_before_anything_is_settled_the_period_is_the_earliest_open(self):
        # nothing settled: as of the end of January, the earliest open period
        self.assertEqual([r[2] for r in self.rows("distributors")], ["s1", "s2", "s2", "s2"])

    def test_distributors_at_the_end_of_the_draft(self):
        self.expect(OK, "settle", self.db, "2026-01")
        # end of January: B is at s2 (15 Jan; the move back is 3 Feb) with m1
        # (m3 comes 2 Feb); C left on 25 Jan, and m2's binding ended with her;
        # E has m4, bound on 8 Jan. Nothing closed: everyone at grade 1.
        self.assertEqual(self.rows("distributors"), [
            ["A", "mom", "s1", "", at(1, 2), "", "1", "0"],
            ["B", "doctor", "s2", "A", at(1, 3), "", "1", "1"],
            ["C", "practitioner", "s2", "B", at(1, 4), at(1, 25), "1", "0"],
            ["E", "mom", "s2", "", at(1, 6), "", "1", "1"],
        ])

    def test_distributors_after_the_close_and_the_next_draft(self):
        self.expect(OK, "close", self.db, "2026-01")
        # January closed: B met grade 2 (1 member, 100.00 of sales, her store
        # s2 rated 4.00); the others had no member with a purchase
        self.assertEqual([(r[0], r[6]) for r in self.rows("distributors")],
                         [("A", "1"), ("B", "2"), ("C", "1"), ("E", "1")])
        self.expect(OK, "settle", self.db, "2026-02")
        # end of February: B back at s1 with m1 and m3; s1 rated 3.00
        b = self.rows("distributors", "--distributor", "B")
        self.assertEqual(b, [["B", "doctor", "s1", "A", at(1, 3), "", "2", "2"]])
        self.assertEqual(self.rows("stores")[0], ["s1", 'Store, "One"', "华东", "3.00"])

    def test_tree(self):
        self.expect(OK, "settle", self.db, "2026-01")
        self.assertEqual(self.rows("tree"), [
            ["A", "", "0", "s1", "1", "no"],
            ["B", "A", "1", "s2", "1", "no"],
            ["C", "B", "2", "s2", "1", "yes"],
            ["E", "", "0", "s2", "1", "no"],
        ])
        self.assertEqual(self.rows("tree", "--distributor", "B"),
                         [["B", "A", "1", "s2", "1", "no"], ["C", "B", "2", "s2", "1", "yes"]])
        # B's subtree and E: no arrow into B, whose recruiter is not shown
        self.assertEqual(self.export("tree", "--format", "dot", "--distributor", "E",
                                     "--distributor", "B"),
                         'digraph recruitment {\n'
                         '\tnode [shape=box, fontname="sans-serif"];\n'
                         '\t"B" [label="B\\ndoctor, s2, grade 1"];\n'
                         '\t"C" [label="C\\npractitioner, s2, grade 1", style=dashed];\n'
                         '\t"E" [label="E\\nmom, s2, grade 1"];\n'
                         '\t"B" -> "C";\n'
                         '}\n')


if __name__ == "__main__":
    unittest.main()
