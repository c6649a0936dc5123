"""Which store engine the Python suites and the CLI end-to-end tests run on.

With REFERRAL_TEST_PG unset, a store is a SQLite file in the test's
directory. With REFERRAL_TEST_PG naming a PostgreSQL database (a libpq URI,
./scripts/test.sh --postgres sets it), it is a brand of its own in that
database, named PREFIX_PID_NAME_N after the test process and the file name
asked for (PREFIX: py for tests/python, e2e for tests/e2e); the brands are
dropped when the process ends. tests/e2e/helpers.py imports this module.
"""
import atexit
import os
import re
import sqlite3
import subprocess
import unittest

PG = os.environ.get("REFERRAL_TEST_PG")
_brands = []
_names = {}


def _psql(sql, check=True):
    """Runs SQL through psql on REFERRAL_TEST_PG, each statement in a
    transaction of its own; returns what the queries print, one row a line,
    fields separated by "|"."""
    # under the sanitizers the Python suites preload ASan's runtime, which
    # psql must not inherit (it hangs in it)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    return subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", PG, "-f", "-"],
                          input="SET client_min_messages = warning;\n" + sql, check=check,
                          stdout=subprocess.PIPE, text=True, env=env).stdout


@atexit.register
def _drop_brands():
    if _brands:
        _psql("".join('DROP SCHEMA IF EXISTS "%s" CASCADE;\n' % b for b in _brands), check=False)


def store_name(directory, name, prefix="py"):
    """The name to create a store under: DIRECTORY/NAME, or a brand. The same
    directory and name give the same store again, as a path would."""
    if not PG:
        return os.path.join(directory, name)
    key = (directory, name)
    if key not in _names:
        slug = re.sub(r"[^a-z0-9]", "_", name.lower())[:24]
        brand = "%s_%d_%s_%d" % (prefix, os.getpid(), slug, len(_brands))
        _brands.append(brand)
        _names[key] = "%s%sbrand=%s" % (PG, "&" if "?" in PG else "?", brand)
    return _names[key]


def brand_of(name):
    """The brand of a store name that store_name() gave on PostgreSQL."""
    return name.rsplit("brand=", 1)[1]


def store_exists(name):
    """Whether anything was made under the name store_name() gave: the file
    or any of SQLite's companions of it, or the brand's schema."""
    if not PG:
        return any(os.path.exists(name + s) for s in ("", "-journal", "-wal", "-shm"))
    return _psql("SELECT count(*) FROM pg_namespace WHERE nspname = '%s'"
                 % brand_of(name)).strip() != "0"


def store_named(name):
    """How the library's messages name the store: 'store "PATH"' for a file,
    'brand "NAME"' for a brand (never its URI)."""
    return 'brand "%s"' % brand_of(name) if PG else 'store "%s"' % name


def store_sql(name, sql, pg=None):
    """Runs SQL on a store outside the library (on PostgreSQL `pg` instead,
    when given, with the brand's schema as search_path); returns the rows of
    its queries as tuples of text."""
    if PG:
        out = _psql('SET search_path TO "%s";\n%s;\n' % (brand_of(name), pg or sql))
        return [tuple(line.split("|")) for line in out.splitlines() if line]
    rows, statement = [], ""
    con = sqlite3.connect(name, isolation_level=None)
    try:
        for c in sql:
            statement += c
            if c == ";" and sqlite3.complete_statement(statement):
                rows += [tuple(str(v) for v in row) for row in con.execute(statement)]
                statement = ""
        if statement.strip():
            rows += [tuple(str(v) for v in row) for row in con.execute(statement)]
    finally:
        con.close()
    return rows


def foreign_store(name, text=None):
    """Puts another program's data where the store NAME would be: on SQLite
    a file holding TEXT, or when None a database with a table of its own; on
    PostgreSQL a schema of the brand's name holding a table of its own."""
    if PG:
        _psql('CREATE SCHEMA "%s"; CREATE TABLE "%s".t(x integer); INSERT INTO "%s".t VALUES (1);\n'
              % ((brand_of(name),) * 3))
    elif text is not None:
        with open(name, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        store_sql(name, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")


def drop_store(name):
    """Removes a store: the brand, or the file and its companions."""
    if PG:
        _psql('DROP SCHEMA IF EXISTS "%s" CASCADE;\n' % brand_of(name))
        return
    for s in ("", "-journal", "-wal", "-shm"):
        if os.path.exists(name + s):
            os.remove(name + s)


def sqlite_only(why):
    """Skips a test or a class on PostgreSQL, saying why."""
    return unittest.skipIf(PG, "SQLite only: " + why)
