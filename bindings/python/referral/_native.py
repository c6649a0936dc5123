"""Loading libreferral and declaring its functions (ctypes only).

The library is looked up, in this order:
  1. the environment variable REFERRAL_LIB, if set (then nothing else);
  2. ctypes.util.find_library("referral") (the system's library path);
  3. when the package runs from the source tree (bindings/python/referral),
     in the usual CMake build directories of that tree: build/, build-*/,
     cmake-build-*/ and out/ under the repository root (the directory
     holding bindings/). An installed copy of the package skips this step.
A failure raises LibraryError (an ImportError) naming every path tried.

Every function the binding calls is declared once, in FUNCTIONS, as
(name, argtypes, restype, errcheck), and registered at import. A symbol the
library lacks, or a version whose major.minor differs from
EXPECTED_VERSION_NUMBER's, is a LibraryError too.
"""

import ctypes
import ctypes.util
import glob
import os
import sys

from .errors import LibraryError, error_for

# The REFERRAL_VERSION_NUMBER this binding was written for (major*10000 +
# minor*100 + patch). A library of the same major and minor is accepted.
EXPECTED_VERSION_NUMBER = 200


class _Store(ctypes.Structure):
    """struct referral_store (opaque)."""


class _Batch(ctypes.Structure):
    """struct referral_batch (opaque)."""


class _Rows(ctypes.Structure):
    """struct referral_rows (opaque)."""


StoreP = ctypes.POINTER(_Store)
BatchP = ctypes.POINTER(_Batch)
RowsP = ctypes.POINTER(_Rows)


class MemberInfo(ctypes.Structure):
    """struct referral_member_info: lent strings, copied on access."""

    _fields_ = [
        ("member", ctypes.c_char_p),
        ("lifetime", ctypes.c_char_p),
        ("balance", ctypes.c_char_p),
        ("tier", ctypes.c_char_p),
        ("sharer", ctypes.c_char_p),
        ("effective_tier", ctypes.c_char_p),
    ]


class ExportOptions(ctypes.Structure):
    """struct referral_export_options (version 1)."""

    _fields_ = [
        ("version", ctypes.c_uint),
        ("period", ctypes.c_char_p),
        ("format", ctypes.c_char_p),
        ("distributors", ctypes.POINTER(ctypes.c_char_p)),
        ("ndistributors", ctypes.c_size_t),
        ("bom", ctypes.c_int),
    ]


EXPORT_OPTIONS_VERSION = 1

# int (*referral_write_fn)(void *ctx, const char *data, size_t len).
# `data` is declared as a plain pointer: c_char_p would stop at a NUL byte.
WRITE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


def _decode(raw):
    return raw.decode("utf-8", "replace") if raw else ""


def _check_store_status(status, func, args):
    """errcheck for calls whose first argument is the store: a non-zero
    status becomes the exception of its family, with referral_errmsg()."""
    if status != 0:
        raise error_for(status, _decode(lib.referral_errmsg(args[0])))
    return status


_c_int, _c_long, _c_char_p, _c_size_t = ctypes.c_int, ctypes.c_long, ctypes.c_char_p, ctypes.c_size_t

# (name, argtypes, restype, errcheck). Strings the library lends come back
# as c_char_p, which ctypes copies into a bytes object at once.
FUNCTIONS = [
    ("referral_version", [], _c_char_p, None),
    ("referral_version_number", [], _c_int, None),
    ("referral_status_name", [_c_int], _c_char_p, None),
    # store_create/open set *out even on failure: the binding checks them
    # itself, to read the message and free the handle.
    ("referral_store_create", [ctypes.POINTER(StoreP), _c_char_p, _c_char_p], _c_int, None),
    ("referral_store_open", [ctypes.POINTER(StoreP), _c_char_p], _c_int, None),
    ("referral_store_free", [StoreP], None, None),
    ("referral_errmsg", [StoreP], _c_char_p, None),
    ("referral_plan_add", [StoreP, _c_char_p, _c_char_p], _c_int, _check_store_status),
    ("referral_open_period", [StoreP, _c_char_p, _c_size_t], _c_int, _check_store_status),
    ("referral_batch_begin", [StoreP, ctypes.POINTER(BatchP), _c_char_p], _c_int,
     _check_store_status),
    # per-line statuses are the normal course of an ingest: checked by hand
    ("referral_batch_add_json", [BatchP, _c_char_p, _c_size_t, _c_long], _c_int, None),
    ("referral_batch_add_file", [BatchP, _c_char_p], _c_int, None),
    ("referral_batch_commit", [BatchP], _c_int, None),
    ("referral_batch_ingested", [BatchP], _c_long, None),
    ("referral_batch_duplicates", [BatchP], _c_long, None),
    ("referral_batch_error_count", [BatchP], _c_long, None),
    ("referral_batch_error", [BatchP, _c_long], _c_char_p, None),
    ("referral_batch_free", [BatchP], None, None),
    ("referral_settle", [StoreP, _c_char_p], _c_int, _check_store_status),
    ("referral_close", [StoreP, _c_char_p], _c_int, _check_store_status),
    ("referral_verify", [StoreP], _c_int, _check_store_status),
    ("referral_rows_open", [StoreP, ctypes.POINTER(RowsP), _c_char_p, _c_char_p], _c_int,
     _check_store_status),
    ("referral_rows_columns", [RowsP], _c_int, None),
    ("referral_rows_column", [RowsP, _c_int], _c_char_p, None),
    ("referral_rows_column_is_number", [RowsP, _c_int], _c_int, None),
    # 1 / 0 / -status: the message is on the store, checked by the caller
    ("referral_rows_next", [RowsP], _c_int, None),
    ("referral_rows_value", [RowsP, _c_int], _c_char_p, None),
    ("referral_rows_free", [RowsP], None, None),
    ("referral_export", [StoreP, _c_char_p, _c_char_p, _c_char_p, WRITE_FN, ctypes.c_void_p],
     _c_int, _check_store_status),
    ("referral_export_options_init", [ctypes.POINTER(ExportOptions), ctypes.c_uint], _c_int, None),
    ("referral_rows_open_ext", [StoreP, ctypes.POINTER(RowsP), _c_char_p,
                                ctypes.POINTER(ExportOptions)], _c_int, _check_store_status),
    ("referral_export_ext", [StoreP, _c_char_p, ctypes.POINTER(ExportOptions), WRITE_FN,
                             ctypes.c_void_p], _c_int, _check_store_status),
    ("referral_explain", [StoreP, _c_char_p, _c_char_p, _c_char_p, WRITE_FN, ctypes.c_void_p],
     _c_int, _check_store_status),
    ("referral_report", [StoreP, _c_char_p, WRITE_FN, ctypes.c_void_p], _c_int,
     _check_store_status),
    ("referral_member_get", [StoreP, _c_char_p, ctypes.POINTER(MemberInfo)], _c_int,
     _check_store_status),
]


def _source_root():
    """The repository root when the package runs from its source tree, else
    None (an installed copy, e.g. in site-packages)."""
    here = os.path.dirname(os.path.abspath(__file__))       # .../bindings/python/referral
    python_dir = os.path.dirname(here)
    bindings_dir = os.path.dirname(python_dir)
    if os.path.basename(python_dir) != "python" or os.path.basename(bindings_dir) != "bindings":
        return None
    return os.path.dirname(bindings_dir)


def _build_dir_candidates():
    root = _source_root()
    if root is None:
        return []
    names = ("libreferral.dylib",) if sys.platform == "darwin" else ("libreferral.so",)
    dirs = [os.path.join(root, "build")]
    for pattern in ("build-*", "cmake-build-*", "out"):
        dirs.extend(sorted(glob.glob(os.path.join(root, pattern))))
    found = []
    for d in dirs:
        for n in names:
            found.append(os.path.join(d, n))
    return found


def candidate_paths():
    """The paths load() tries, in order (for messages and tests)."""
    env = os.environ.get("REFERRAL_LIB")
    if env:
        return [env], "REFERRAL_LIB"
    paths = []
    name = ctypes.util.find_library("referral")
    if name:
        paths.append(name)
    paths.extend(_build_dir_candidates())
    return paths, None if name else "find_library"


def check_version(number, path="libreferral"):
    """Raises LibraryError unless `number` (a REFERRAL_VERSION_NUMBER) has
    the major and minor version this binding expects."""
    if number // 100 != EXPECTED_VERSION_NUMBER // 100:
        def fmt(n):
            return "%d.%d.%d" % (n // 10000, n // 100 % 100, n % 100)

        raise LibraryError(
            "%s is version %s (%d), but this binding needs %s.x (%d): install the "
            "matching library or binding" % (path, fmt(number), number,
                                             fmt(EXPECTED_VERSION_NUMBER)[:-2],
                                             EXPECTED_VERSION_NUMBER))


def _register(cdll, path):
    for name, argtypes, restype, errcheck in FUNCTIONS:
        try:
            fn = getattr(cdll, name)
        except AttributeError:
            raise LibraryError(
                "%s does not export %s: the library and the referral binding are of "
                "different versions (or this is not libreferral)" % (path, name)) from None
        fn.argtypes = argtypes
        fn.restype = restype
        if errcheck is not None:
            fn.errcheck = errcheck


def load():
    """Finds, loads, checks and registers libreferral; returns (CDLL, path)."""
    paths, origin = candidate_paths()
    tried = []
    for path in paths:
        if os.sep in path and not os.path.exists(path):
            tried.append("%s (no such file)" % path)
            continue
        try:
            cdll = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
            continue
        try:
            getattr(cdll, "referral_version_number")
        except AttributeError:
            raise LibraryError(
                "%s does not export referral_version_number: it is not libreferral, or "
                "of a version this binding does not know" % path) from None
        cdll.referral_version_number.argtypes = []
        cdll.referral_version_number.restype = ctypes.c_int
        check_version(cdll.referral_version_number(), path)
        _register(cdll, path)
        return cdll, path
    if origin == "REFERRAL_LIB":
        how = "REFERRAL_LIB is set, so nothing else was tried"
    else:
        tried.insert(0, 'ctypes.util.find_library("referral") (found nothing)'
                     if origin == "find_library" else "")
        tried = [t for t in tried if t]
        how = "set REFERRAL_LIB to the path of libreferral.so, or install the library"
    raise LibraryError("cannot load libreferral; tried:\n  " + "\n  ".join(tried) + "\n" + how)


lib, path = load()
