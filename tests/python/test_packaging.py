"""Packaging of the Python binding: bindings/python/pyproject.toml installs
the package `referral` offline with the machine's own setuptools, the
installed version is the binding's, py.typed ships with it, an installed copy
finds the library the documented way, and the public API is annotated.

Run by ctest with REFERRAL_LIB and PYTHONPATH set; by hand:

    cd tests/python && REFERRAL_LIB=.../libreferral.so \
        PYTHONPATH=/path/to/repo/bindings/python python3 -m unittest -v test_packaging

The install needs pip, setuptools and (for setuptools older than 70.1) wheel
in the Python that runs the tests: Debian's python3-pip, python3-setuptools
and python3-wheel for Debian's python3. Without them the tests fail, naming
the package. Nothing is fetched: pip runs with --no-index and without build
isolation.
"""

import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
import typing
import unittest
from decimal import Decimal

import referral
from referral import _native
from test_pandas import EVENTS, PLAN

from engine import store_name

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(referral.__file__)))  # bindings/python

# What the installed copy reports about itself, as JSON; argv: plan, events,
# the store to make (engine.store_name).
PROBE = r"""
import importlib.metadata, json, os, sys
import referral
from referral import _native

here = os.path.dirname(referral.__file__)
out = {
    "file": referral.__file__,
    "version": referral.__version__,
    "metadata_version": importlib.metadata.version("referral"),
    "files": sorted(str(f).replace(os.sep, "/") for f in importlib.metadata.files("referral")),
    "typed": os.path.isfile(os.path.join(here, "py.typed")),
    "build_dirs": _native._build_dir_candidates(),
    "library": referral.library_path(),
}
db = sys.argv[3]
with referral.Store.create(db, json.loads(sys.argv[1])) as store:
    store.ingest(json.loads(sys.argv[2]))
    store.close_period("2026-01")
with referral.Store.open(db) as store:
    store.verify()
    out["payables"] = [str(s.payable) for s in store.statements("2026-01")]
    out["open_period"] = store.open_period()
print(json.dumps(out))
"""


def missing_tools():
    """What the running Python lacks to build and install the package
    offline, as a message naming the Debian packages; None if nothing."""
    missing = []
    pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True,
                         text=True, timeout=60)
    if pip.returncode != 0:
        missing.append("pip (Debian: python3-pip)")
    if importlib.util.find_spec("setuptools") is None:
        missing.append("setuptools (Debian: python3-setuptools)")
    elif (importlib.util.find_spec("setuptools.command.bdist_wheel") is None
          and importlib.util.find_spec("wheel") is None):
        missing.append("wheel, which this setuptools builds wheels with (Debian: python3-wheel)")
    if not missing:
        return None
    return ("%s cannot install the package offline: it lacks %s. Install them, or run the tests "
            "with Debian's /usr/bin/python3 (for ctest, configure with "
            "-DPython3_EXECUTABLE=/usr/bin/python3)" % (sys.executable, ", ".join(missing)))


class Installed(unittest.TestCase):
    """The package installed with `pip install --no-build-isolation --no-index
    --target DIR` from a copy of bindings/python, then imported from DIR in
    a fresh interpreter."""

    @classmethod
    def setUpClass(cls):
        cls.problem = None
        cls.report = None
        cls.dir = tempfile.mkdtemp(prefix="referral-pip-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.problem = missing_tools()
        if cls.problem:
            return
        # a copy, so that the build leaves nothing in the source tree
        src = os.path.join(cls.dir, "src")
        shutil.copytree(SOURCE, src, ignore=shutil.ignore_patterns(
            "build", "*.egg-info", "__pycache__", ".mypy_cache"))
        cls.site = os.path.join(cls.dir, "site")
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1",
                   PIP_ROOT_USER_ACTION="ignore")
        env.pop("PYTHONPATH", None)
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index",
             "--no-deps", "--target", cls.site, src],
            cwd=cls.dir, env=env, capture_output=True, text=True, timeout=300)
        if pip.returncode != 0:
            cls.problem = "pip install failed (%d):\n%s\n%s" % (pip.returncode, pip.stdout,
                                                              pip.stderr)
            return
        # the installed copy alone: PYTHONPATH is the target, the library the
        # one these tests loaded (REFERRAL_LIB under ctest)
        env = dict(os.environ, PYTHONPATH=cls.site, REFERRAL_LIB=referral.library_path())
        probe = subprocess.run([sys.executable, "-c", PROBE, json.dumps(PLAN), json.dumps(EVENTS),
                                store_name(cls.dir, "s.db")],
                               cwd=cls.dir, env=env, capture_output=True, text=True, timeout=120)
        if probe.returncode != 0:
            cls.problem = "the installed package failed:\n%s" % probe.stderr
            return
        cls.report = json.loads(probe.stdout)

    def setUp(self):
        if self.problem:
            self.fail(self.problem)

    def test_the_installed_copy_is_the_one_imported(self):
        self.assertEqual(os.path.commonpath([self.report["file"], self.site]), self.site)
        self.assertEqual(self.report["library"], referral.library_path())

    def test_its_version_is_the_binding_version(self):
        n = _native.EXPECTED_VERSION_NUMBER
        version = "%d.%d.%d" % (n // 10000, n // 100 % 100, n % 100)
        self.assertEqual(referral.__version__, version)
        self.assertEqual(self.report["version"], version)
        self.assertEqual(self.report["metadata_version"], version)  # pyproject follows it

    def test_py_typed_ships_with_the_package(self):
        self.assertTrue(self.report["typed"])
        self.assertIn("referral/py.typed", self.report["files"])
        modules = {f for f in self.report["files"] if f.endswith(".py")}
        self.assertEqual(modules, {"referral/%s.py" % m for m in
                                   ("__init__", "_native", "errors", "rows", "store")})

    def test_a_store_round_trip(self):
        # as test_pandas computes by hand: D1 70.166665 -> 70.17, D2 36.6665 -> 36.67
        self.assertEqual(self.report["payables"], ["70.17", "36.67"])
        self.assertEqual(self.report["open_period"], "2026-02")

    def test_an_installed_copy_looks_in_no_build_directory(self):
        self.assertEqual(self.report["build_dirs"], [])
        repo = os.path.dirname(os.path.dirname(SOURCE))
        in_tree = _native._build_dir_candidates()
        self.assertIn(os.path.join(repo, "build", os.path.basename(in_tree[0])), in_tree)


def public_callables():
    """(name, function) for every public function and method of the API."""
    found = []
    for name in referral.__all__:
        obj = getattr(referral, name)
        if inspect.isfunction(obj):
            found.append((name, obj))
    for cls in (referral.Store, referral.RowIterator):
        for attr, value in vars(cls).items():
            if attr.startswith("_") and attr not in ("__iter__", "__next__", "__enter__",
                                                     "__exit__"):
                continue
            if isinstance(value, (classmethod, staticmethod)):
                value = value.__func__
            elif isinstance(value, property):
                value = value.fget
            if inspect.isfunction(value):
                found.append(("%s.%s" % (cls.__name__, attr), value))
    return found


class TypedApi(unittest.TestCase):
    def hints(self, fn):
        # to_pandas names pandas.DataFrame, which the binding never imports
        try:
            import pandas
        except ImportError:
            pandas = types.ModuleType("pandas")
            pandas.DataFrame = type("DataFrame", (), {})
        return typing.get_type_hints(fn, localns={"pandas": pandas})

    def test_every_public_callable_is_annotated(self):
        callables = public_callables()
        names = {name for name, _ in callables}
        for expected in ("Store.create", "Store.ingest", "Store.rows", "Store.rows_as_dicts",
                         "Store.to_pandas", "RowIterator.close", "library_version"):
            self.assertIn(expected, names)
        for name, fn in callables:
            with self.subTest(name=name):
                hints = self.hints(fn)
                params = [p for p in inspect.signature(fn).parameters.values()
                          if p.name not in ("self", "cls")]
                for p in params:
                    self.assertIn(p.name, hints, "%s: %s is not annotated" % (name, p.name))
                self.assertIn("return", hints, "%s has no return annotation" % name)

    def test_row_classes_are_typed(self):
        self.assertEqual(typing.get_type_hints(referral.Statement)["payable"], Decimal)
        self.assertEqual(typing.get_type_hints(referral.Statement)["grade"], int)
        self.assertEqual(typing.get_type_hints(referral.Line)["base"], typing.Optional[Decimal])
        self.assertEqual(typing.get_type_hints(referral.Member)["sharer"], typing.Optional[str])
        self.assertEqual(self.hints(referral.Store.statements)["return"],
                         referral.RowIterator[referral.Statement])
        self.assertEqual(self.hints(referral.Store.rows_as_dicts)["return"],
                         typing.List[typing.Dict[str, referral.Value]])

    def test_mypy_strict_passes_when_installed(self):
        if importlib.util.find_spec("mypy") is None:
            self.skipTest("mypy is not installed in %s (Debian: mypy)" % sys.executable)
        with tempfile.TemporaryDirectory() as cache:
            proc = subprocess.run(
                [sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", "--cache-dir",
                 cache, "referral"], cwd=SOURCE, capture_output=True, text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
