"""referral — Python binding of libreferral (ctypes, standard library only).

Settles an "all-round mom" distributor network's commissions exactly: events
in, monthly statements out. Money and points come back as decimal.Decimal.

    import referral
    with referral.Store.create("shop.db", plan_dict) as store:
        store.ingest(events)                   # dicts, JSON lines or a .jsonl path
        store.close_period(store.open_period())
        for s in store.statements("2026-01"):
            print(s.distributor, s.payable)    # Decimal('139.57')

For analysis, Store.rows_as_dicts(table) gives a table's rows as dicts and
Store.to_pandas(table) a pandas DataFrame whose money columns hold Decimal
objects (pandas is optional and imported only by that call).

The shared library is found through REFERRAL_LIB, then
ctypes.util.find_library("referral") (an installed libreferral), then, when
the package runs from the source tree, its build directories; `import
referral` raises LibraryError (an ImportError) naming every path tried when
none loads, or when its version differs.

In the repository: bindings/python/README.md (this package: installing it,
finding the library, the object model, exact data in pandas) and
docs/formats.md (events, plan keys, export columns, exit codes).
"""

from .errors import (ConflictError, InputError, LibraryError, ReferralError, StateError,
                     StorageError, UsageError, VerifyError)
from ._native import EXPECTED_VERSION_NUMBER
from .rows import (Distributor, Grade, IngestResult, Line, Member, Payout, Row, Statement, StoreRow,
                   TreeNode, Value)
from .store import RowIterator, Store, library_path, library_version, status_name

__version__ = "%d.%d.%d" % (EXPECTED_VERSION_NUMBER // 10000, EXPECTED_VERSION_NUMBER // 100 % 100,
                            EXPECTED_VERSION_NUMBER % 100)

__all__ = [
    "Store", "RowIterator", "Statement", "Line", "Grade", "Member", "Payout", "StoreRow",
    "Distributor", "TreeNode", "IngestResult", "Row", "Value",
    "ReferralError", "UsageError", "InputError", "StateError", "ConflictError", "StorageError",
    "VerifyError", "LibraryError", "library_version", "library_path", "status_name",
    "EXPECTED_VERSION_NUMBER",
]
