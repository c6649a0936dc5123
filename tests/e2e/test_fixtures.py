"""Keeps tests/fixtures in step with the reference design they are copies of.

The reference plan and the worked example are kept in a reference folder
outside the repository (plans/reference.json, examples/basic/). The
repository carries copies so that its tests stand on their own; this test
compares every copy with its original, byte for byte:

    REFERRAL_REFERENCE_DIR=/path/to/reference python3 -m unittest -v test_fixtures

Without REFERRAL_REFERENCE_DIR it compares nothing and says so (a skip).

A copy may differ from its original only as KNOWN_DIFFERENCES declares: the
original, put through the declared transformation, must give the copy byte
for byte. Any other difference, a file missing on either side, or a declared
difference for a file that does not exist fails the test.
"""
import csv
import io
import os
import unittest

from helpers import FIXTURES_DIR

REFERENCE_DIR = os.environ.get("REFERRAL_REFERENCE_DIR")

# Each copy (relative to tests/fixtures) and its original (relative to the
# reference folder); a folder stands for every file below it.
COPIES = [
    ("reference-plan.json", os.path.join("plans", "reference.json")),
    ("basic", os.path.join("examples", "basic")),
]

# The repository's own text in the copied folders, written for it rather
# than copied: never compared.
OWN_FILES = {os.path.join("basic", "README.md")}


def insert_columns(after, columns):
    """A transformation of a CSV export: the columns `columns` (name -> a
    function of the row, a dict of the original's columns, to the new value)
    inserted, in order, after column `after`. The exports quote no field
    and end every line with "\\n", as csv.writer below writes them."""
    def transform(data):
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        head, at = rows[0], rows[0].index(after) + 1
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(head[:at] + list(columns) + head[at:])
        for row in rows[1:]:
            named = dict(zip(head, row))
            writer.writerow(row[:at] + [f(named) for f in columns.values()] + row[at:])
        return out.getvalue().encode("utf-8")
    return transform


# Spec v2's statements: `released` and `held` after `accrued`. The worked
# example's plan has no hold_days, so everything accrued is released at once.
statements_v2 = insert_columns("accrued", {"released": lambda row: row["accrued"],
                                           "held": lambda row: "0.00"})

# Intended differences: copy (relative to tests/fixtures) -> (why, the
# transformation from the original's bytes to the copy's).
KNOWN_DIFFERENCES = {
    os.path.join("basic", "expected", name): (
        "spec v2: released (= accrued) and held (0.00) after accrued", statements_v2)
    for name in ("settle_2026-01.statements.csv", "close_2026-01.statements.csv",
                 "close_2026-02.statements.csv", "close_2026-03.statements.csv")
}


def files_below(root, rel):
    """The files at or below root/rel: {path relative to root/rel: path};
    when root/rel is a file, {"": its path}."""
    top = os.path.join(root, rel)
    if os.path.isfile(top):
        return {"": top}
    found = {}
    for folder, _, names in os.walk(top):
        for name in names:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, top)] = path
    return found


def read(path):
    with open(path, "rb") as f:
        return f.read()


def first_difference(want, got):
    """Where two byte strings part: "byte B (line L)", both counted from 1."""
    n = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
    return "byte %d (line %d)" % (n + 1, want[:n].count(b"\n") + 1)


class FixturesAreCopies(unittest.TestCase):

    def test_statements_v2_inserts_released_and_held_after_accrued(self):
        v1 = (b"period,distributor,accrued,total\n"
              b"2026-01,D1,139.5685,139.5685\n"
              b"2026-02,R1,-0.50,-0.504315\n")
        v2 = (b"period,distributor,accrued,released,held,total\n"
              b"2026-01,D1,139.5685,139.5685,0.00,139.5685\n"
              b"2026-02,R1,-0.50,-0.50,0.00,-0.504315\n")
        self.assertEqual(statements_v2(v1), v2)

    def test_every_fixture_equals_its_original(self):
        if not REFERENCE_DIR:
            self.skipTest("REFERRAL_REFERENCE_DIR is not set: compared nothing "
                          "(set it to the reference folder to compare tests/fixtures with it)")
        self.assertTrue(os.path.isfile(os.path.join(REFERENCE_DIR, "plans", "reference.json")),
                        "REFERRAL_REFERENCE_DIR=%s holds no plans/reference.json" % REFERENCE_DIR)
        problems, compared, fixtures = [], 0, set()
        for copy_rel, original_rel in COPIES:
            copies = files_below(FIXTURES_DIR, copy_rel)
            originals = files_below(REFERENCE_DIR, original_rel)
            if not originals:
                problems.append("%s: no original %s" % (copy_rel, original_rel))
            for rel in sorted(set(copies) | set(originals)):
                name = os.path.normpath(os.path.join(copy_rel, rel))
                fixtures.add(name)
                if name in OWN_FILES:
                    continue
                if rel not in copies:
                    problems.append("%s: in the reference folder, not in tests/fixtures" % name)
                    continue
                if rel not in originals:
                    problems.append("%s: no original in the reference folder" % name)
                    continue
                want = read(originals[rel])
                if name in KNOWN_DIFFERENCES:
                    want = KNOWN_DIFFERENCES[name][1](want)
                got = read(copies[rel])
                compared += 1
                if got != want:
                    problems.append("%s: differs from %s at %s" % (
                        name, originals[rel], first_difference(want, got)))
        for name in sorted(set(KNOWN_DIFFERENCES) - fixtures):
            problems.append("%s: a known difference declared for no fixture" % name)
        if problems:
            self.fail("tests/fixtures is out of step with %s:\n  %s"
                      % (REFERENCE_DIR, "\n  ".join(problems)))
        self.assertGreater(compared, 0)


if __name__ == "__main__":
    unittest.main()
