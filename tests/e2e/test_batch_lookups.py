"""What a batch looks up of its own earlier lines, on both engines.

An engine may remember the answers of its lookups for the length of a batch
(the PostgreSQL engine remembers terminations and sharers, and sends new
events to the server only when a lookup may read them). Each line below is
checked against the lines before it in the same file: a member bound to a
distributor terminated three lines earlier, a second sharer, a second
termination, a refund beyond what the order and its earlier refunds leave.
Expected messages follow from SPEC §4's rules by hand; nothing may be
stored. Both engines: the PostgreSQL pass runs it on a brand.
"""
import os
import unittest

from helpers import INPUT, OK, StoreCase, jsonl, run, write


def ev(type_, id_, day, **fields):
    e = {"type": type_, "id": id_, "at": "2026-01-%02dT09:00:00+08:00" % day}
    e.update(fields)
    return e


BATCH = [
    ev("store", "s1", 1, name="Store One", region="east"),
    ev("distributor", "D", 2, kind="mom", store="s1", recruiter=None),
    ev("member", "m1", 4, distributor="D"),          # D is looked up: not terminated
    ev("member", "m2", 4, distributor=None),
    ev("member", "m3", 4, distributor=None),
    ev("share_benefits", "sb1", 6, **{"from": "m1", "to": "m2"}),
    ev("order", "o1", 8, member="m1", amount="100.00"),
    ev("refund", "f1", 9, order="o1", amount="60.00"),
    ev("terminate", "t1", 20, distributor="D"),
    ev("member", "m4", 25, distributor="D"),         # line 10: after t1
    ev("share_benefits", "sb2", 7, **{"from": "m3", "to": "m2"}),  # line 11: m2 has sb1
    ev("terminate", "t2", 21, distributor="D"),     # line 12: t1 came first
    ev("refund", "f2", 10, order="o1", amount="40.01"),  # line 13: 100.00 - 60.00 = 40.00 left
]

EXPECTED = [
    'batch.jsonl:10: member "m4": distributor "D" is terminated at or before '
    '2026-01-25T09:00:00+08:00',
    'batch.jsonl:11: share_benefits "sb2": member "m2" already has a sharer',
    'batch.jsonl:12: terminate "t2": distributor "D" is already terminated',
    'batch.jsonl:13: refund "f2": the refunds of order "o1" would exceed its amount',
]


class BatchLookups(StoreCase):
    def test_each_line_is_checked_against_the_lines_before_it(self):
        self.init()
        path = write(os.path.join(self.dir, "batch.jsonl"), jsonl(BATCH))
        r = run("ingest", self.db, path)
        self.assertEqual(r.code, INPUT, r)
        for line in EXPECTED:
            self.assertIn(line, r.err)
        self.assertIn("4 bad lines: nothing was stored", r.err)
        exported = run("export", self.db, "members")
        self.assertEqual(exported.code, OK, exported)
        self.assertEqual(len(exported.out.splitlines()), 1, "a rejected batch stored members")

    def test_the_good_lines_alone_are_stored(self):
        self.init()
        good = BATCH[:9]
        path = write(os.path.join(self.dir, "batch.jsonl"), jsonl(good))
        r = run("ingest", self.db, path)
        self.assertEqual((r.code, r.out), (OK, "ingested 9, duplicates 0\n"), r)

    def test_refunds_of_a_stored_order_count_those_stored_and_those_before(self):
        # o1 (100.00) and its refund f1 (30.00) are stored by a first batch;
        # the second batch's refunds of o1 each see f1 and the lines before
        self.init()
        first = BATCH[:7] + [ev("refund", "f1", 9, order="o1", amount="30.00")]
        r = run("ingest", self.db, write(os.path.join(self.dir, "first.jsonl"), jsonl(first)))
        self.assertEqual(r.code, OK, r)
        second = [ev("refund", "f2", 10, order="o1", amount="30.00"),
                  ev("refund", "f3", 11, order="o1", amount="40.01")]  # 100 - 30 - 30 = 40.00 left
        path = write(os.path.join(self.dir, "second.jsonl"), jsonl(second))
        r = run("ingest", self.db, path)
        self.assertEqual(r.code, INPUT, r)
        self.assertIn('second.jsonl:2: refund "f3": the refunds of order "o1" would exceed its amount',
                      r.err)
        second[1]["amount"] = "40.00"
        r = run("ingest", self.db, write(path, jsonl(second)))
        self.assertEqual((r.code, r.out), (OK, "ingested 2, duplicates 0\n"), r)
        third = [ev("refund", "f4", 12, order="o1", amount="0.01")]  # nothing is left
        r = run("ingest", self.db, write(path, jsonl(third)))
        self.assertEqual(r.code, INPUT, r)
        self.assertIn('refund "f4": the refunds of order "o1" would exceed its amount', r.err)

    def test_lines_are_checked_against_the_chunk_before(self):
        # a file is read 1,024 lines at a time: lines 1025.. name what lines
        # 1022..1024 added (an order and its refund, a member), and repeat
        # two orders of the first chunk, one the same, one not
        head = [ev("store", "s1", 1, name="Store One", region="east"),
                ev("distributor", "D", 2, kind="mom", store="s1", recruiter=None),
                ev("member", "m1", 4, distributor="D")]
        fill = [ev("order", "o%d" % i, 8, member="m1", amount="10.00") for i in range(1018)]
        tail = [ev("order", "oX", 9, member="m1", amount="100.00"),       # line 1022
                ev("refund", "fX1", 10, order="oX", amount="60.00"),
                ev("member", "m2", 10, distributor="D")]                  # line 1024
        second = [ev("refund", "fX2", 11, order="oX", amount="40.01"),   # 40.00 left
                  ev("order", "o5", 8, member="m1", amount="10.00"),      # the same
                  ev("order", "o6", 8, member="m1", amount="10.01"),      # not the same
                  ev("order", "oY", 12, member="m2", amount="5.00")]
        lines = head + fill + tail + second
        self.assertEqual(len(head + fill + tail), 1024)
        self.init()
        path = write(os.path.join(self.dir, "batch.jsonl"), jsonl(lines))
        r = run("ingest", self.db, path)
        self.assertEqual(r.code, INPUT, r)
        self.assertIn('batch.jsonl:1025: refund "fX2": the refunds of order "oX" would exceed'
                      ' its amount', r.err)
        self.assertIn('batch.jsonl:1027: order "o6"', r.err)
        self.assertIn("different amount", r.err)
        self.assertIn("2 bad lines: nothing was stored", r.err)
        second[0]["amount"] = "40.00"
        del second[2]
        r = run("ingest", self.db, write(path, jsonl(head + fill + tail + second)))
        self.assertEqual((r.code, r.out), (OK, "ingested 1026, duplicates 1\n"), r)
        exported = run("export", self.db, "members")
        self.assertEqual(len(exported.out.splitlines()), 3, exported)


if __name__ == "__main__":
    unittest.main()
