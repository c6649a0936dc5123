"""Which store engine the Python suites run on.

With REFERRAL_TEST_PG unset, a store is a SQLite file in the test's
directory. With REFERRAL_TEST_PG naming a PostgreSQL database (a libpq URI,
./scripts/test.sh --postgres sets it), it is a brand of its own in that
database, named after the test process and the file name asked for; the
brands are dropped when the process ends.
"""
import atexit
import os
import re
import subprocess

PG = os.environ.get("REFERRAL_TEST_PG")
_brands = []


def _psql(sql):
    subprocess.run(["psql", "-X", "-q", "-d", PG, "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


@atexit.register
def _drop_brands():
    for brand in _brands:
        _psql("SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s CASCADE" % brand)


def store_name(directory, name):
    """The name to create a store under: DIRECTORY/NAME, or a brand."""
    if not PG:
        return os.path.join(directory, name)
    brand = "py_%d_%s_%d" % (os.getpid(), re.sub(r"[^a-z0-9]", "_", name.lower()), len(_brands))
    _brands.append(brand)
    sep = "&" if "?" in PG else "?"
    return "%s%sbrand=%s" % (PG, sep, brand)


def store_exists(name):
    """Whether anything was made under the name store_name() gave."""
    if not PG:
        return os.path.exists(name)
    brand = name.rsplit("brand=", 1)[1]
    out = subprocess.run(["psql", "-X", "-tA", "-d", PG, "-c",
                          "SELECT count(*) FROM pg_namespace WHERE nspname = '%s'" % brand],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return out.strip() != "0"
