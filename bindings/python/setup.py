"""Build script beside pyproject.toml, for the one thing pyproject cannot say
statically: the version. It is the binding's version, from
EXPECTED_VERSION_NUMBER in referral/_native.py, read without importing the
package (importing it loads libreferral)."""

import ast
import os

from setuptools import setup


def binding_version():
    """EXPECTED_VERSION_NUMBER (major*10000 + minor*100 + patch) as
    "major.minor.patch", the way referral.__version__ spells it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "referral", "_native.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "EXPECTED_VERSION_NUMBER" for t in node.targets):
            n = ast.literal_eval(node.value)
            return "%d.%d.%d" % (n // 10000, n // 100 % 100, n % 100)
    raise RuntimeError("%s assigns no EXPECTED_VERSION_NUMBER" % path)


setup(version=binding_version())
