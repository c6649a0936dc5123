"""Tests of the Python binding (bindings/python/referral).

Run by ctest with REFERRAL_LIB, REFERRAL_CLI, REFERRAL_SOURCE_DIR and
PYTHONPATH set; by hand:

    cd tests/python && REFERRAL_LIB=.../libreferral.so REFERRAL_CLI=.../referral \
        REFERRAL_SOURCE_DIR=/path/to/repo PYTHONPATH=/path/to/repo/bindings/python \
        python3 -m unittest -v test_binding

Expected values are computed by hand from SPEC.md (arithmetic in comments).
The worked example is the repository's tests/fixtures/basic; without it the
module fails to import.
"""

import csv
import ctypes.util
import gc
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest
from dataclasses import astuple, fields
from decimal import Decimal

import referral
from referral import (ConflictError, InputError, ReferralError, StateError, StorageError, Store,
                      UsageError, VerifyError)

from engine import PG, foreign_store, store_exists, store_name, store_named, store_sql

# ---- helpers ---------------------------------------------------------------

SOURCE_DIR = os.environ.get("REFERRAL_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
EXAMPLE = os.path.join(SOURCE_DIR, "tests", "fixtures", "basic")
CLI = os.environ.get("REFERRAL_CLI")
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(referral.__file__)))

# A missing example fails the run: skipping would pass a suite that tested nothing.
if not os.path.isdir(EXAMPLE):
    raise FileNotFoundError("the worked example %s is missing (REFERRAL_SOURCE_DIR=%s)"
                            % (EXAMPLE, SOURCE_DIR))


def example(name):
    return os.path.join(EXAMPLE, name)


def example_text(name):
    with open(example(name), "rb") as f:
        return f.read().decode("utf-8")


def reference_plan():
    """The worked example's plan as a dict: grade 1 rate 0.05, bounty 20.00;
    override 0.01; share bonus 0.25; 1 point per yuan, 5 per share; tiers
    bronze 0, silver 2000, ...; half_up; min_payout 0.01; start 2026-01."""
    with open(example("plan.json")) as f:
        return json.load(f)


def example_events(name):
    with open(example(name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def ev(type_, id_, at, **fields_):
    """One event dict; `at` is local time in the plan's +08:00."""
    d = {"type": type_, "id": id_, "at": at + "+08:00"}
    d.update(fields_)
    return d


def run_python(code, env_updates):
    """Runs `python -c code` with the binding on PYTHONPATH; returns the
    completed process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_DIR
    env.update(env_updates)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)


def raw_csv_rows(text):
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def as_csv_text(value):
    """How the CSV shows a binding value: None is empty, the rest as str()
    (Decimal keeps its digits exactly: str(Decimal('0.00')) == '0.00')."""
    return "" if value is None else str(value)


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="referral-py-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def store_name(self, name):
        """The store NAME of this test: a file in its folder, or a brand of
        its own on PostgreSQL (engine.py)."""
        return store_name(self.dir, name)

    def new_store(self, name="s.db", plan=None):
        store = Store.create(self.store_name(name), plan if plan is not None else reference_plan())
        self.addCleanup(store.close)
        return store

    def basic_store(self):
        """A store holding the worked example's batch1 (5 events)."""
        store = self.new_store()
        self.assertEqual(store.ingest(example_events("batch1.jsonl")), (5, 0))
        return store

    def assertNothingIngested(self, store):
        self.assertEqual(list(store.members()), [])
        self.assertEqual(store.export("members"), "member,lifetime,balance,tier,sharer,effective_tier\n")


# ---- loading the library ---------------------------------------------------

class LibraryLoading(unittest.TestCase):
    def test_loaded_library_is_the_one_REFERRAL_LIB_names(self):
        if os.environ.get("REFERRAL_LIB"):
            self.assertEqual(referral.library_path(), os.environ["REFERRAL_LIB"])
        self.assertEqual(referral.library_version(), "0.2.0")
        self.assertEqual(referral.EXPECTED_VERSION_NUMBER, 200)
        self.assertEqual(referral.__version__, "0.2.0")

    def test_missing_library_names_every_path_tried(self):
        missing = os.path.join(tempfile.gettempdir(), "no-such-dir", "libreferral.so")
        proc = run_python("import referral", {"REFERRAL_LIB": missing})
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("LibraryError", proc.stderr)
        self.assertIn("cannot load libreferral; tried:", proc.stderr)
        self.assertIn(missing + " (no such file)", proc.stderr)
        self.assertIn("REFERRAL_LIB is set", proc.stderr)

    def test_library_error_is_an_import_error(self):
        proc = run_python(
            "import sys\n"
            "try:\n    import referral\n"
            "except ImportError as e:\n    print(type(e).__name__); sys.exit(0)\n"
            "sys.exit(1)\n", {"REFERRAL_LIB": "/nonexistent/libreferral.so"})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.strip(), "LibraryError")

    def test_a_library_that_is_not_libreferral_is_refused(self):
        libc = ctypes.util.find_library("c")
        if not libc:
            self.skipTest("no C library found by name")
        proc = run_python("import referral", {"REFERRAL_LIB": libc})
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("%s does not export referral_version_number" % libc, proc.stderr)

    def build_stub(self, version_number):
        """A shared library exporting only referral_version_number()."""
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            self.skipTest("no C compiler to build a stub library")
        d = tempfile.mkdtemp(prefix="referral-stub-")
        self.addCleanup(shutil.rmtree, d, True)
        src, lib = os.path.join(d, "stub.c"), os.path.join(d, "libreferral.so")
        with open(src, "w") as f:
            f.write("int referral_version_number(void) { return %d; }\n" % version_number)
        subprocess.run([cc, "-shared", "-fPIC", "-o", lib, src], check=True, timeout=60)
        return lib

    def test_another_version_is_refused(self):
        lib = self.build_stub(20300)  # 2.3.0
        proc = run_python("import referral", {"REFERRAL_LIB": lib})
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("%s is version 2.3.0 (20300), but this binding needs 0.2.x (200)" % lib,
                      proc.stderr)

    def test_same_minor_other_patch_passes_the_version_check_then_a_missing_symbol_is_named(self):
        lib = self.build_stub(207)  # 0.2.7: accepted, but the stub lacks the API
        proc = run_python("import referral", {"REFERRAL_LIB": lib})
        self.assertNotEqual(proc.returncode, 0)
        self.assertNotIn("is version", proc.stderr)
        self.assertIn("%s does not export referral_version:" % lib, proc.stderr)
        self.assertIn("different versions", proc.stderr)

    def test_check_version_compares_major_and_minor(self):
        from referral._native import check_version
        for ok in (200, 201, 299):
            check_version(ok)
        for bad in (0, 100, 199, 300, 10200):
            with self.assertRaises(referral.LibraryError):
                check_version(bad)


# ---- the store's life cycle ------------------------------------------------

class StoreLifecycle(TempDirTest):
    def test_create_takes_a_dict_json_text_or_a_path(self):
        plan_text = example_text("plan.json")
        for name, plan in (("dict.db", reference_plan()), ("text.db", plan_text),
                           ("bytes.db", plan_text.encode()), ("path.db", pathlib.Path(example("plan.json")))):
            with Store.create(self.store_name(name), plan) as store:
                self.assertEqual(store.open_period(), "2026-01")  # the plan's start_period
            with Store.open(self.store_name(name)) as store:
                self.assertEqual(store.open_period(), "2026-01")

    def test_create_refuses_a_store_already_there(self):
        self.basic_store().close()
        with self.assertRaises(StateError) as cm:
            Store.create(self.store_name("s.db"), reference_plan())
        self.assertEqual(cm.exception.status, 4)
        self.assertIn("already exists" if PG else "already initialised", str(cm.exception))
        self.assertIn(store_named(self.store_name("s.db")), str(cm.exception))
        with Store.open(self.store_name("s.db")) as store:  # untouched
            self.assertEqual(store.member("m1").lifetime, Decimal("2391.37"))

    def test_create_refuses_an_invalid_plan_and_writes_nothing(self):
        plan = reference_plan()
        plan["rounding_mode"] = "half_up"  # unknown key: a typo must not silently pay someone
        db = self.store_name("bad.db")
        with self.assertRaises(InputError) as cm:
            Store.create(db, plan)
        self.assertEqual(cm.exception.status, 3)
        self.assertIn("rounding_mode", str(cm.exception))
        self.assertEqual(cm.exception.errors, [])
        # no store there, and a retry with a good plan works
        with self.assertRaises(StorageError):
            Store.open(db)
        with Store.create(db, reference_plan()) as store:
            self.assertEqual(store.open_period(), "2026-01")

    def test_create_with_an_invalid_plan_leaves_no_file(self):
        # referral.h: "On any error nothing is written" (reported as py-1 in /tmp/bugs-py.md)
        db = self.store_name("bad.db")
        with self.assertRaises(InputError):
            Store.create(db, {})
        self.assertFalse(store_exists(db), "a failed create left %s behind" % db)

    def test_open_of_a_missing_file_is_a_storage_error_and_creates_nothing(self):
        db = self.store_name("missing.db")
        with self.assertRaises(StorageError) as cm:
            Store.open(db)
        self.assertEqual(cm.exception.status, 5)
        self.assertIn(store_named(db), str(cm.exception))
        self.assertFalse(store_exists(db))

    def test_open_of_a_foreign_file_is_a_storage_error(self):
        # on PostgreSQL: a schema of the brand's name, of another program
        db = self.store_name("notes.txt")
        foreign_store(db, "not a database\n" * 100)
        with self.assertRaises(StorageError) as cm:
            Store.open(db)
        self.assertIn(store_named(db), str(cm.exception))

    def test_context_manager_closes_the_handle(self):
        with Store.create(self.store_name("s.db"), reference_plan()) as store:
            self.assertFalse(store.closed)
        self.assertTrue(store.closed)
        self.assertIsNone(store._ptr)
        store.close()  # idempotent
        self.assertIn("closed", repr(store))

    def test_context_manager_closes_on_an_exception_too(self):
        with self.assertRaises(KeyError):
            with Store.create(self.store_name("s.db"), reference_plan()) as store:
                raise KeyError("boom")
        self.assertTrue(store.closed)

    def test_every_method_of_a_closed_store_raises(self):
        store = self.basic_store()
        store.close()
        calls = {
            "open_period": lambda: store.open_period(),
            "ingest": lambda: store.ingest([]),
            "settle": lambda: store.settle("2026-01"),
            "close_period": lambda: store.close_period("2026-01"),
            "verify": lambda: store.verify(),
            "add_plan": lambda: store.add_plan(reference_plan(), "2026-01"),
            "statements": lambda: store.statements(),
            "lines": lambda: store.lines("2026-01"),
            "grades": lambda: store.grades(),
            "members": lambda: store.members(),
            "member": lambda: store.member("m1"),
            "export": lambda: store.export("statements"),
        }
        for name, call in calls.items():
            with self.subTest(name), self.assertRaises(UsageError) as cm:
                call()
            self.assertIn("is closed", str(cm.exception))
        with self.assertRaises(UsageError):
            with store:
                pass

    def test_an_iterator_outliving_its_store_raises_and_a_finished_one_stops(self):
        store = self.basic_store()
        store.settle("2026-01")
        live = store.statements()
        next(live)
        finished = store.lines()
        self.assertEqual(len(list(finished)), 3)
        store.close()  # frees the live cursor first
        with self.assertRaises(UsageError):
            next(live)
        self.assertEqual(list(finished), [])
        live.close()

    def test_iterators_release_their_cursor(self):
        store = self.basic_store()
        store.settle("2026-01")
        with store.statements() as it:
            next(it)
            self.assertEqual(len(store._cursors), 1)
        self.assertEqual(len(store._cursors), 0)
        it = store.lines()
        del it
        gc.collect()
        self.assertEqual(len(store._cursors), 0)
        list(store.grades())  # exhausted: released at once
        self.assertEqual(len(store._cursors), 0)

    def test_a_forgotten_store_is_closed_when_collected(self):
        store = Store.create(self.store_name("s.db"), reference_plan())
        store.ingest(example_events("batch1.jsonl"))
        it = store.members()  # an open cursor too
        del store, it
        gc.collect()
        with Store.open(self.store_name("s.db")) as again:
            self.assertEqual(again.ingest(example_events("batch1.jsonl")), (0, 5))
        # the guard: __del__ of a half-built Store does nothing
        Store.__new__(Store).__del__()


# ---- ingestion -------------------------------------------------------------

class Ingest(TempDirTest):
    def test_dicts_are_one_batch_and_duplicates_are_counted(self):
        store = self.basic_store()
        result = store.ingest(example_events("batch1.jsonl"))
        self.assertEqual(result, referral.IngestResult(ingested=0, duplicates=5))
        ingested, duplicates = result
        self.assertEqual((ingested, duplicates), (0, 5))

    def test_a_jsonl_path_str_or_pathlib(self):
        store = self.new_store()
        self.assertEqual(store.ingest(example("batch1.jsonl")), (5, 0))
        self.assertEqual(store.ingest(pathlib.Path(example("batch1.jsonl"))), (0, 5))

    def test_json_text_lines_and_blank_lines(self):
        store = self.new_store()
        lines = example_text("batch1.jsonl").splitlines()
        # blank lines are skipped; str and bytes both accepted
        mixed = [lines[0], "", lines[1].encode(), "   ", lines[2], lines[3], lines[4]]
        self.assertEqual(store.ingest(mixed), (5, 0))

    def test_an_empty_batch_ingests_nothing(self):
        store = self.new_store()
        self.assertEqual(store.ingest([]), (0, 0))
        self.assertEqual(store.ingest(iter(())), (0, 0))

    def test_decimal_values_in_dicts_are_sent_as_decimal_strings(self):
        store = self.new_store()
        events = example_events("batch1.jsonl")
        events[4]["amount"] = Decimal("2391.37")
        self.assertEqual(store.ingest(events), (5, 0))
        # 2391.37 x 0.05 = 119.5685
        self.assertEqual(store.member("m1").lifetime, Decimal("2391.37"))

    def test_every_bad_line_is_reported_and_nothing_is_stored(self):
        store = self.new_store()
        events = example_events("batch1.jsonl")
        bad_amount = ev("order", "o2", "2026-01-11T10:00:00", member="m1", amount="10.005")
        no_member = ev("order", "o3", "2026-01-11T11:00:00", member="nobody", amount="5.00")
        float_amount = ev("order", "o4", "2026-01-11T12:00:00", member="m1", amount=5.5)
        batch = events + [bad_amount, "{not json", no_member, float_amount]
        with self.assertRaises(InputError) as cm:
            store.ingest(batch, source="jan.jsonl")
        e = cm.exception
        self.assertEqual(e.status, 3)
        self.assertEqual(e.error_count, 4)
        self.assertEqual(len(e.errors), 4)
        self.assertTrue(e.errors[0].startswith('jan.jsonl:6: order "o2": field "amount"'), e.errors)
        self.assertIn("10.005", e.errors[0])
        self.assertTrue(e.errors[1].startswith("jan.jsonl:7: invalid JSON"), e.errors)
        self.assertTrue(e.errors[2].startswith('jan.jsonl:8: order "o3"'), e.errors)
        self.assertIn("nobody", e.errors[2])
        self.assertTrue(e.errors[3].startswith('jan.jsonl:9: order "o4": field "amount"'), e.errors)
        self.assertIn("4 bad lines: nothing was stored", e.message)
        for line in e.errors:  # str() shows every bad line
            self.assertIn(line, str(e))
        self.assertNothingIngested(store)
        self.assertEqual(store.ingest(events), (5, 0))  # the good lines were not stored before

    def test_bad_lines_of_a_file_name_the_file_as_given(self):
        store = self.new_store()
        path = self.path("bad.jsonl")
        with open(path, "w") as f:
            f.write(example_text("batch1.jsonl"))
            f.write("\n")  # line 6 blank
            f.write(json.dumps(ev("redeem", "r1", "2026-01-12T00:00:00", member="m1", points="0")) + "\n")
        with self.assertRaises(InputError) as cm:
            store.ingest(path)
        self.assertEqual(len(cm.exception.errors), 1)
        self.assertTrue(cm.exception.errors[0].startswith(path + ':7: redeem "r1"'),
                        cm.exception.errors)
        self.assertNothingIngested(store)

    def test_a_missing_jsonl_file_is_a_storage_error(self):
        store = self.new_store()
        missing = self.path("nope.jsonl")
        with self.assertRaises(StorageError) as cm:
            store.ingest(missing)
        self.assertIn(missing, str(cm.exception))
        self.assertNothingIngested(store)

    def test_conflicting_duplicates_alone_are_a_conflict_error(self):
        store = self.basic_store()
        changed = ev("order", "o1", "2026-01-10T12:00:00", member="m1", amount="2391.38")
        with self.assertRaises(ConflictError) as cm:
            store.ingest([changed])
        e = cm.exception
        self.assertIsInstance(e, StateError)
        self.assertEqual(e.status, 4)
        self.assertEqual(len(e.errors), 1)
        self.assertTrue(e.errors[0].startswith('<events>:1: order "o1": conflicts'), e.errors)
        self.assertEqual(store.member("m1").lifetime, Decimal("2391.37"))  # o1 unchanged

    def test_over_a_hundred_bad_lines_are_counted(self):
        store = self.new_store()
        bad = [ev("share", "sh%d" % i, "2026-01-05T00:00:00", member="ghost") for i in range(105)]
        with self.assertRaises(InputError) as cm:
            store.ingest(bad)
        self.assertEqual(len(cm.exception.errors), 100)
        self.assertEqual(cm.exception.error_count, 105)
        self.assertTrue(cm.exception.errors[99].startswith('<events>:100: share "sh99"'))
        self.assertTrue(str(cm.exception).endswith("... and 5 more bad lines"))
        self.assertNothingIngested(store)

    def test_an_exception_from_the_iterable_stores_nothing(self):
        store = self.new_store()

        def events():
            yield from example_events("batch1.jsonl")[:3]
            raise RuntimeError("feed broke")

        with self.assertRaisesRegex(RuntimeError, "feed broke"):
            store.ingest(events())
        with self.assertRaises(TypeError):
            store.ingest(example_events("batch1.jsonl")[:2] + [{"type": "store", "id": {1, 2}}])
        with self.assertRaises(TypeError):
            store.ingest([42])
        with self.assertRaises(TypeError):
            store.ingest(example_events("batch1.jsonl")[0])  # one event, not a list
        self.assertEqual(store.ingest(example_events("batch1.jsonl")), (5, 0))  # usable, empty

    def test_no_other_call_while_a_batch_is_open(self):
        store = self.new_store()

        def events():
            yield example_events("batch1.jsonl")[0]
            store.open_period()

        with self.assertRaises(UsageError) as cm:
            store.ingest(events())
        self.assertIn("batch", str(cm.exception))
        self.assertNothingIngested(store)


# ---- settlement and the exception families ---------------------------------

class Settlement(TempDirTest):
    def test_decimals_come_back_exact(self):
        # NOTES.md: o1 2391.37 at grade 1 (rate 0.05):
        #   D1 commission 2391.37 x 0.05 = 119.5685; bounty 20.00 (net spend 0 -> >0)
        #   R1 override 0.01 x 119.5685 = 1.195685
        #   D1 total 139.5685 -> half_up to the fen 139.57, carry 139.5685 - 139.57 = -0.0015
        #   R1 total 1.195685 -> 1.20, carry -0.004315
        store = self.basic_store()
        store.settle("2026-01")
        d1, r1 = list(store.statements("2026-01"))
        self.assertEqual((d1.distributor, r1.distributor), ("D1", "R1"))
        self.assertEqual(str(d1.commission), "119.5685")
        self.assertEqual(d1.commission, Decimal("119.5685"))
        self.assertIsInstance(d1.commission, Decimal)
        self.assertEqual(str(r1.override), "1.195685")
        self.assertEqual(str(d1.payable), "139.57")
        self.assertEqual(str(d1.closing_carry), "-0.0015")
        self.assertEqual(str(r1.payable), "1.20")
        self.assertEqual(str(r1.closing_carry), "-0.004315")
        self.assertEqual(str(d1.bounty), "20.00")
        self.assertEqual(str(d1.opening_carry), "0.00")
        self.assertEqual(d1.grade, 1)
        self.assertIs(type(d1.grade), int)
        self.assertEqual((d1.period, d1.store), ("2026-01", "s1"))
        # conservation for D1: payable + carry = the exact sum of lines
        self.assertEqual(d1.payable + d1.closing_carry, Decimal("119.5685") + Decimal("20.00"))
        bounty, commission, override = list(store.lines())
        self.assertEqual((bounty.type, bounty.base, bounty.rate, bounty.source),
                         ("bounty", None, None, None))
        self.assertEqual(str(bounty.value), "20.00")
        self.assertEqual((str(commission.base), str(commission.rate), str(commission.value)),
                         ("2391.37", "0.05", "119.5685"))
        self.assertEqual((override.source, str(override.base), str(override.value)),
                         ("D1", "119.5685", "1.195685"))
        self.assertEqual((override.event, override.order, override.member), ("o1", "o1", "m1"))

    def test_the_worked_example_replayed_matches_every_expected_file(self):
        expected = os.path.join(EXAMPLE, "expected")
        store = Store.create(self.store_name("s.db"), example_text("plan.json"))
        self.addCleanup(store.close)
        with open(os.path.join(expected, "ingest_batch1.jsonl.out")) as f:
            n, d = (int(x.split()[-1]) for x in f.read().strip().split(","))
        self.assertEqual(store.ingest(example("batch1.jsonl")), (n, d))
        store.settle("2026-01")
        for table in ("statements", "lines"):
            with open(os.path.join(expected, "settle_2026-01.%s.csv" % table), "rb") as f:
                self.assertEqual(store.export(table, "2026-01").encode(), f.read())
        for batch, period in ((None, "2026-01"), ("batch2.jsonl", "2026-02"),
                              ("batch3.jsonl", "2026-03")):
            if batch:
                store.ingest(example(batch))
            self.assertEqual(store.open_period(), period)
            store.close_period(period)
            for table in ("statements", "lines", "grades"):
                with open(os.path.join(expected, "close_%s.%s.csv" % (period, table)), "rb") as f:
                    self.assertEqual(store.export(table, period).encode(), f.read(),
                                     "%s %s" % (period, table))
        self.assertEqual(store.open_period(), "2026-04")
        with open(os.path.join(expected, "members.csv"), "rb") as f:
            self.assertEqual(store.export("members").encode(), f.read())
        store.verify()
        # m1: 2391.37 - 1000.00 + 2000 = 3391.37 points -> silver (>= 2000)
        m1 = store.member("m1")
        self.assertEqual(m1, referral.Member("m1", Decimal("3391.37"), Decimal("3391.37"),
                                             "silver", None, "silver"))
        self.assertEqual(str(m1.lifetime), "3391.37")

    def test_a_malformed_period_is_a_usage_error_and_changes_nothing(self):
        store = self.basic_store()
        calls = {
            "settle": store.settle,
            "close_period": store.close_period,
            "statements": store.statements,
            "lines": store.lines,
            "grades": store.grades,
            "export": lambda p: store.export("statements", p),
            "add_plan": lambda p: store.add_plan(reference_plan(), p),
        }
        for bad in ("2026-13", "2026-1", "Jan 2026", "", "2026-01-01"):
            for name, call in calls.items():
                with self.subTest(name=name, period=bad), self.assertRaises(UsageError) as cm:
                    call(bad)
                self.assertEqual(cm.exception.status, 2)
                self.assertIn('period "%s"' % bad, str(cm.exception))
        self.assertEqual(store.open_period(), "2026-01")
        self.assertEqual(list(store.statements()), [])

    def test_unknown_tables_and_formats_are_usage_errors(self):
        store = self.basic_store()
        with self.assertRaises(UsageError) as cm:
            store.export("bonuses")
        self.assertIn('"bonuses"', str(cm.exception))
        with self.assertRaises(UsageError) as cm:
            store.rows("bonuses")
        self.assertIn('"bonuses"', str(cm.exception))
        with self.assertRaises(UsageError) as cm:
            store.export("statements", format="xml")
        self.assertIn('"xml"', str(cm.exception))
        with self.assertRaises(UsageError) as cm:
            store.export("members", period="2026-01")
        self.assertIn("members", str(cm.exception))
        with self.assertRaises(TypeError):
            store.settle(202601)

    def test_a_closed_or_later_period_is_a_state_error(self):
        store = self.basic_store()
        store.close_period("2026-01")
        self.assertEqual(store.open_period(), "2026-02")
        before = store.export("statements")
        for call in (store.settle, store.close_period):
            with self.assertRaises(StateError) as cm:
                call("2026-01")
            self.assertEqual(cm.exception.status, 4)
            self.assertIn("2026-01 is closed", str(cm.exception))
        with self.assertRaises(StateError) as cm:
            store.settle("2026-03")
        self.assertIn("2026-03 is not the earliest open period", str(cm.exception))
        self.assertEqual(store.open_period(), "2026-02")
        self.assertEqual(store.export("statements"), before)

    def test_an_unknown_member_is_an_input_error(self):
        store = self.basic_store()
        with self.assertRaises(InputError) as cm:
            store.member("m404")
        self.assertIn('"m404"', str(cm.exception))
        self.assertEqual(cm.exception.errors, [])

    def test_a_tampered_store_fails_verify(self):
        store = self.basic_store()
        store.close_period("2026-01")
        store.verify()
        store.close()
        # someone edits a frozen payable: 139.57 -> 139.58 (the trigger guarding
        # closed periods has to go first)
        change = "UPDATE statements SET payable = '139.58' WHERE payable = '139.57'"
        store_sql(self.store_name("s.db"), "DROP TRIGGER statements_frozen_u; " + change,
                  pg="ALTER TABLE statements DISABLE TRIGGER USER; " + change)
        self.assertEqual(store_sql(self.store_name("s.db"),
                                   "SELECT count(*) FROM statements WHERE payable = '139.58'"),
                         [("1",)])
        with Store.open(self.store_name("s.db")) as store:
            with self.assertRaises(VerifyError) as cm:
                store.verify()
            self.assertEqual(cm.exception.status, 6)
            self.assertIn("2026-01", str(cm.exception))
            self.assertIn("D1", str(cm.exception))
            self.assertIsInstance(cm.exception, ReferralError)

    def test_exception_classes_follow_the_status_families(self):
        from referral.errors import error_for
        for status, cls in ((2, UsageError), (3, InputError), (4, StateError), (5, StorageError),
                            (6, VerifyError)):
            e = error_for(status, "m")
            self.assertIs(type(e), cls)
            self.assertEqual((e.status, e.message), (status, "m"))
            self.assertTrue(issubclass(cls, ReferralError))
        self.assertIs(type(error_for(99, "m")), ReferralError)
        self.assertEqual([referral.status_name(s) for s in (0, 2, 3, 4, 5, 6)],
                         ["ok", "usage", "input", "state", "storage", "verify"])
        self.assertTrue(issubclass(ConflictError, StateError))


class Plans(TempDirTest):
    def test_a_new_plan_version_applies_from_its_period(self):
        store = self.basic_store()
        store.close_period("2026-01")
        plan = reference_plan()
        plan["grades"][0]["rate"] = "0.06"
        store.add_plan(plan, "2026-02")
        store.ingest([ev("order", "o2", "2026-02-02T10:00:00", member="m1", amount="100.00")])
        store.settle("2026-02")
        lines = {(l.distributor, l.type): l for l in store.lines("2026-02")}
        # Feb uses the new plan: D1 100.00 x 0.06 = 6.00 (grade 1 still);
        # R1 0.01 x 6.00 = 0.06; no bounty (net spend already > 0)
        self.assertEqual(set(lines), {("D1", "commission"), ("R1", "override")})
        self.assertEqual(str(lines["D1", "commission"].value), "6.00")
        self.assertEqual(str(lines["D1", "commission"].rate), "0.06")
        self.assertEqual(str(lines["R1", "override"].value), "0.06")
        jan = [l for l in store.lines("2026-01") if l.type == "commission"]
        self.assertEqual(str(jan[0].rate), "0.05")  # the closed month is untouched

    def test_plan_refusals(self):
        store = self.basic_store()
        store.close_period("2026-01")
        with self.assertRaises(StateError) as cm:
            store.add_plan(reference_plan(), "2026-01")
        self.assertIn("2026-01", str(cm.exception))
        other = reference_plan()
        other["utc_offset"] = "+09:00"
        with self.assertRaises(InputError) as cm:
            store.add_plan(other, "2026-02")
        self.assertIn("utc_offset", str(cm.exception))
        broken = reference_plan()
        del broken["min_payout"]
        with self.assertRaises(InputError) as cm:
            store.add_plan(json.dumps(broken), "2026-02")
        self.assertIn("min_payout", str(cm.exception))
        # nothing was added: February still pays at 0.05
        store.ingest([ev("order", "o2", "2026-02-02T10:00:00", member="m1", amount="100.00")])
        store.settle("2026-02")
        rates = {str(l.rate) for l in store.lines("2026-02") if l.type == "commission"}
        self.assertEqual(rates, {"0.05"})


# ---- a richer scenario, and the CLI as the reference for the text forms ----

JAN = [
    ev("store", "s1", "2026-01-01T08:00:00", name="Store One, East", region="east"),
    ev("store_rating", "sr1", "2026-01-02T08:00:00", store="s1", rating="4.5"),
    ev("distributor", "R1", "2026-01-02T09:00:00", kind="mom", store="s1", recruiter=None),
    ev("distributor", "D1", "2026-01-03T09:00:00", kind="doctor", store="s1", recruiter="R1"),
    ev("distributor", "D2", "2026-01-03T10:00:00", kind="practitioner", store="s1", recruiter="R1"),
    ev("member", "m1", "2026-01-04T09:00:00", distributor="D1"),
    ev("member", "m2", "2026-01-05T09:00:00", distributor=None),
    ev("share_benefits", "sb1", "2026-01-05T10:00:00", **{"from": "m1", "to": "m2"}),
    ev("member", "m3", "2026-01-06T09:00:00", distributor="D2"),
    ev("order", "o1", "2026-01-10T12:00:00", member="m1", amount="2391.37"),
    ev("order", "o2", "2026-01-11T12:00:00", member="m2", amount="100.00"),
    ev("order", "o3", "2026-01-12T12:00:00", member="m3", amount="300"),
    ev("share", "sh1", "2026-01-13T12:00:00", distributor="D1"),
    ev("share", "sh2", "2026-01-14T12:00:00", member="m2"),
    ev("redeem", "rd1", "2026-01-20T12:00:00", member="m2", points="50"),
]
FEB = [
    ev("refund", "f1", "2026-02-03T12:00:00", order="o3", amount="300.00"),
    ev("order", "o4", "2026-02-04T12:00:00", member="m1", amount="10.00"),
    ev("order", "o5", "2026-01-25T12:00:00", member="m1", amount="20"),  # late: Jan is closed
]


class Scenario(TempDirTest):
    """January closed, February settled as a draft."""

    def setUp(self):
        super().setUp()
        self.db = self.store_name("scenario.db")
        with Store.create(self.db, reference_plan()) as store:
            self.assertEqual(store.ingest(JAN), (len(JAN), 0))
            store.close_period("2026-01")
            self.assertEqual(store.ingest(FEB), (len(FEB), 0))
            store.settle("2026-02")
        self.store = Store.open(self.db)
        self.addCleanup(self.store.close)

    def cli(self, *args):
        if not CLI:
            self.skipTest("REFERRAL_CLI is not set")
        proc = subprocess.run([CLI] + list(args), capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout

    def statement(self, period, who):
        return next(s for s in self.store.statements(period) if s.distributor == who)

    def test_values_by_hand(self):
        S = Decimal
        # January, grade 1 everywhere (rate 0.05, bounty 20.00):
        #   D1: o1 2391.37 x 0.05 = 119.5685 + bounty 20.00 = 139.5685 -> 139.57, carry -0.0015
        #   D2: o3 300 x 0.05 = 15.00 + bounty 20.00 = 35.00 -> 35.00, carry 0.00
        #   R1: 0.01 x 119.5685 + 0.01 x 15.00 = 1.195685 + 0.15 = 1.345685 -> 1.35, carry -0.004315
        #   o2 is m2's, who has no binding: unattributed, no lines.
        d1, d2, r1 = (self.statement("2026-01", x) for x in ("D1", "D2", "R1"))
        self.assertEqual((d1.total, d1.payable, d1.closing_carry), (S("139.5685"), S("139.57"), S("-0.0015")))
        self.assertEqual((d2.total, d2.payable, str(d2.closing_carry)), (S("35.00"), S("35.00"), "0.00"))
        self.assertEqual((str(r1.override), str(r1.payable), str(r1.closing_carry)),
                         ("1.345685", "1.35", "-0.004315"))
        self.assertEqual(d1.store, "s1")
        # February draft:
        #   D1: o4 10.00 x 0.05 = 0.50, late o5 20 x 0.05 = 1.00 -> 1.50; total -0.0015 + 1.50
        #       = 1.4985 -> half_up 1.50, carry -0.0015
        #   D2: refund f1 300.00 of o3: -15.00, and net spend back to 0 -> bounty reversal -20.00;
        #       total -35.00 -> payable 0.00, carry -35.00
        #   R1: -0.01 x 15.00 + 0.01 x 0.50 + 0.01 x 1.00 = -0.15 + 0.005 + 0.01 = -0.135;
        #       total -0.004315 - 0.135 = -0.139315 -> 0.00, carry -0.139315
        d1, d2, r1 = (self.statement("2026-02", x) for x in ("D1", "D2", "R1"))
        self.assertEqual((str(d1.commission), str(d1.total), str(d1.payable), str(d1.closing_carry)),
                         ("1.50", "1.4985", "1.50", "-0.0015"))
        self.assertEqual((str(d2.commission), str(d2.bounty), str(d2.payable), str(d2.closing_carry)),
                         ("-15.00", "-20.00", "0.00", "-35.00"))
        self.assertEqual((str(r1.override), str(r1.total), str(r1.payable), str(r1.closing_carry)),
                         ("-0.135", "-0.139315", "0.00", "-0.139315"))
        late = [l for l in self.store.lines("2026-02") if l.event == "o5"]
        self.assertEqual({(l.distributor, l.type, str(l.value)) for l in late},
                         {("D1", "commission", "1.00"), ("R1", "override", "0.01")})
        # grades of January (window 3): D1 1 member, sales 2391.37, 1 share; store rating 4.5
        # shown canonically as 4.50; grade 2 needs 3 members -> stays 1.
        g = {x.distributor: x for x in self.store.grades("2026-01")}
        self.assertEqual(astuple(g["D1"]), ("2026-01", "D1", 1, 1, S("2391.37"), 1, S("4.50"), 1))
        self.assertEqual(str(g["D1"].store_rating), "4.50")
        self.assertEqual((g["D2"].members, str(g["D2"].sales), g["D2"].shares), (1, "300.00", 0))
        self.assertEqual((g["R1"].members, str(g["R1"].sales)), (0, "0.00"))
        self.assertEqual(list(self.store.grades("2026-02")), [])  # not closed yet
        # points (1 per yuan, 5 per share, sharer bonus 0.25):
        #   m2: o2 100 + share 5 = 105; balance 105 - 50 = 55.00; bronze; sharer m1 (silver)
        #   m1: 2391.37 + 0.25 x 100 + 0.25 x 5 + 10.00 + 20 = 2447.62 -> silver
        #   m3: 300 - 300 = 0.00 -> bronze
        members = {m.member: m for m in self.store.members()}
        self.assertEqual(members["m1"], referral.Member("m1", S("2447.62"), S("2447.62"), "silver",
                                                        None, "silver"))
        self.assertEqual(members["m2"], referral.Member("m2", S("105"), S("55"), "bronze", "m1",
                                                        "silver"))
        self.assertEqual((str(members["m2"].lifetime), str(members["m2"].balance)), ("105.00", "55.00"))
        self.assertEqual(str(members["m3"].lifetime), "0.00")
        self.assertEqual(self.store.member("m2"), members["m2"])
        self.assertEqual(self.store.member("m3"), members["m3"])

    def test_exports_match_the_cli_byte_for_byte(self):
        cases = [("members", None)]
        for table in ("statements", "lines", "grades"):
            cases += [(table, None), (table, "2026-01"), (table, "2026-02"), (table, "2026-03")]
        for table, period in cases:
            for fmt in ("csv", "json"):
                args = ["export", self.db, table, "--format", fmt]
                if period:
                    args += ["--period", period]
                with self.subTest(table=table, period=period, format=fmt):
                    self.assertEqual(self.store.export(table, period, fmt).encode("utf-8"),
                                     self.cli(*args))

    def test_iterators_agree_with_the_cli_csv(self):
        for table in ("statements", "lines", "grades", "members"):
            with self.subTest(table=table):
                header, rows = raw_csv_rows(self.cli("export", self.db, table).decode("utf-8"))
                objects = list(self.store.rows(table))
                self.assertGreater(len(rows), 0)
                self.assertEqual(len(objects), len(rows))
                for obj, row in zip(objects, rows):
                    self.assertEqual([f.name for f in fields(obj)], header)
                    self.assertEqual([as_csv_text(v) for v in astuple(obj)], row)
                    for f, text in zip(fields(obj), row):
                        value = getattr(obj, f.name)
                        if text == "":
                            self.assertIsNone(value, f.name)
                        elif f.type in (int, "int"):
                            self.assertIs(type(value), int, f.name)
                        elif "Decimal" in str(f.type):
                            self.assertIsInstance(value, Decimal, f.name)
                            self.assertEqual(value, Decimal(text))
                        else:
                            self.assertIsInstance(value, str, f.name)

    def test_json_export_agrees_with_the_iterators(self):
        for table in ("statements", "lines", "grades", "members"):
            with self.subTest(table=table):
                data = json.loads(self.store.export(table, format="json"))
                objects = list(self.store.rows(table))
                self.assertEqual(len(data), len(objects))
                for item, obj in zip(data, objects):
                    for f in fields(obj):
                        value = getattr(obj, f.name)
                        if value is None or isinstance(value, int):
                            self.assertEqual(item[f.name], value, f.name)
                        else:
                            self.assertEqual(item[f.name], str(value), f.name)

    def test_periods_restrict_the_iterators(self):
        self.assertEqual({s.period for s in self.store.statements()}, {"2026-01", "2026-02"})
        self.assertEqual({s.period for s in self.store.statements("2026-02")}, {"2026-02"})
        self.assertEqual(list(self.store.statements("2026-03")), [])
        self.assertEqual(self.store.export("statements", "2026-03"),
                         "period,distributor,store,grade,opening_carry,commission,bounty,"
                         "override,accrued,released,held,total,payable,closing_carry\n")
        self.assertEqual(self.store.export("lines", "2026-03", "json"), "[]\n")

    def test_verify_passes_and_closing_the_draft_keeps_it(self):
        draft = self.store.export("statements", "2026-02")
        self.store.close_period("2026-02")
        self.store.verify()
        self.assertEqual(self.store.export("statements", "2026-02"), draft)
        self.assertEqual(self.store.open_period(), "2026-03")


if __name__ == "__main__":
    unittest.main()
