"""A string with a NUL character cannot cross into C, where it would end
the string early: every argument of the binding refuses one with
ValueError("embedded null byte"), as os.open and open() do, before the
library is called.

Run by ctest with REFERRAL_LIB, REFERRAL_SOURCE_DIR and PYTHONPATH set; the
stores are files, or brands with REFERRAL_TEST_PG (engine.py).
"""
import os
import tempfile
import unittest

from referral import Store

from engine import store_exists, store_name

SOURCE_DIR = os.environ.get("REFERRAL_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PLAN = os.path.join(SOURCE_DIR, "tests", "fixtures", "reference-plan.json")
BASIC = os.path.join(SOURCE_DIR, "tests", "fixtures", "basic")


def plan_text():
    with open(PLAN, "rb") as f:
        return f.read()


class EmbeddedNul(unittest.TestCase):

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="referral-nul-")
        self.path = store_name(self._tmp.name, "store.db")
        self.st = Store.create(self.path, plan_text())
        self.st.ingest(os.path.join(BASIC, "batch1.jsonl"))

    def tearDown(self):
        self.st.close()
        self._tmp.cleanup()

    def assert_refused(self, call, *args, **kw):
        with self.assertRaises(ValueError) as cm:
            call(*args, **kw)
        self.assertIn("embedded null", str(cm.exception))

    def test_member_id(self):
        self.assert_refused(self.st.member, "m1\x00x")
        self.assert_refused(self.st.member, b"m1\x00x")

    def test_store_paths(self):
        self.assert_refused(Store.open, self.path + "\x00x")
        self.assert_refused(Store.open, os.fsencode(self.path) + b"\x00x")
        other = store_name(self._tmp.name, "other.db")
        self.assert_refused(Store.create, other + "\x00x", plan_text())
        self.assertFalse(store_exists(other))

    def test_plans(self):
        p = store_name(self._tmp.name, "p.db")
        self.assert_refused(Store.create, p, plan_text() + b"\x00garbage")
        self.assert_refused(Store.create, p, plan_text().decode("utf-8") + "\x00garbage")
        self.assert_refused(self.st.add_plan, plan_text() + b"\x00garbage", "2026-02")
        self.assertFalse(store_exists(p))

    def test_periods_tables_formats_and_sources(self):
        self.assert_refused(self.st.settle, "2026-01\x00x")
        self.assert_refused(self.st.close_period, "2026-01\x00x")
        self.assert_refused(self.st.add_plan, plan_text(), "2026-02\x00")
        self.assert_refused(self.st.export, "statements\x00x")
        self.assert_refused(self.st.export, "statements", "2026-01\x00")
        self.assert_refused(self.st.export, "statements", None, "csv\x00x")
        self.assert_refused(self.st.rows, "members\x00")
        self.assert_refused(self.st.ingest, [], source="a\x00b")
        self.assert_refused(self.st.ingest, os.path.join(BASIC, "batch1.jsonl") + "\x00x")
        self.assertEqual(self.st.open_period(), "2026-01")
        self.st.verify()


if __name__ == "__main__":
    unittest.main()
