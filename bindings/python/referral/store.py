"""Store: one open libreferral store (a SQLite file) and everything done
with it. See the package docstring and bindings/python/README.md."""

import ctypes
import json
import os
from dataclasses import fields
from decimal import Decimal
from typing import (TYPE_CHECKING, Any, Callable, Dict, Generic, Iterable, List, Literal, Optional,
                    Set, Tuple, TypeVar, Union, cast, overload)

from . import _native
from ._native import (lib, BatchP, EXPORT_OPTIONS_VERSION, ExportOptions, MemberInfo, RowsP,
                      StoreP, WRITE_FN)
from .errors import (REFERRAL_EINPUT, REFERRAL_EIO, REFERRAL_ESTATE, REFERRAL_EUSAGE,
                     ConflictError, InputError, ReferralError, UsageError, error_for)
from .rows import (FLAGS, TABLES, Distributor, Grade, IngestResult, Line, Member, Payout, Row,
                   Statement, StoreRow, TreeNode, Value)

if TYPE_CHECKING:
    import pandas  # only for the annotation of Store.to_pandas: imported there, lazily

PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
"""A file path: str, bytes or os.PathLike (pathlib.Path)."""

PlanArg = Union[Dict[str, Any], str, bytes, "os.PathLike[str]"]
"""A plan: a dict, JSON text (str or bytes), or an os.PathLike of a JSON file."""

EventArg = Union[Dict[str, Any], str, bytes, bytearray]
"""One event: a dict, or one JSON text line."""

R = TypeVar("R", bound=Row)

DistributorArg = Union[str, Iterable[str], None]
"""Distributors to keep: one id, several ids, or None for all."""

# tables without a distributor to choose, and without periods
_NO_DISTRIBUTOR = ("members", "stores")
_NO_PERIOD = ("members", "stores", "distributors", "tree")

_MAX_REPORTED = 100  # bad lines a batch keeps (referral_batch_error)


def _no_nul(data: bytes, what: str) -> bytes:
    """`data`, which C reads up to its first NUL: one inside it would cut the
    string there, so it is refused as os.open refuses one in a path."""
    if b"\0" in data:
        raise ValueError("%s: embedded null byte" % what)
    return data


def _text_arg(value: Union[str, bytes, None], what: str) -> Optional[bytes]:
    """A str argument as UTF-8 bytes for the C side; None stays NULL.
    ValueError if it holds a NUL character."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return _no_nul(value, what)
    if not isinstance(value, str):
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))
    return _no_nul(value.encode("utf-8"), what)


def _path_arg(path: PathArg) -> bytes:
    """A file path for the C side (os.fsencode); ValueError if it holds a NUL."""
    return _no_nul(os.fsencode(path), "path")


def _json_default(value: object) -> str:
    """json.dumps hook: Decimals are written as plain decimal strings, the form
    the library expects for money, rates, ratings and points."""
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError("%s is not JSON serialisable" % type(value).__name__)


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, default=_json_default, separators=(",", ":")).encode("ascii")


def _plan_text(plan: PlanArg) -> bytes:
    """A plan as JSON bytes: a dict is serialised, str/bytes are JSON text, an
    os.PathLike (pathlib.Path) is a file to read. ValueError if the text
    holds a NUL character, where C would end it."""
    if isinstance(plan, dict):
        return _dumps(plan)
    if isinstance(plan, str):
        return _no_nul(plan.encode("utf-8"), "plan")
    if isinstance(plan, bytes):
        return _no_nul(plan, "plan")
    if isinstance(plan, os.PathLike):
        with open(plan, "rb") as f:
            return _no_nul(f.read(), "plan")
    raise TypeError("plan must be a dict, JSON text or a path, not %s" % type(plan).__name__)


def _event_line(event: EventArg) -> bytes:
    if isinstance(event, dict):
        return _dumps(event)
    if isinstance(event, str):
        return event.encode("utf-8", "surrogateescape")
    if isinstance(event, (bytes, bytearray)):
        return bytes(event)
    raise TypeError("an event must be a dict or a JSON text line, not %s" % type(event).__name__)


def _export_options(period: Optional[str], distributor: DistributorArg,
                    format: Optional[str] = None, bom: bool = False) -> Tuple[Any, Any]:
    """A struct referral_export_options, and what must stay alive with it."""
    opts = ExportOptions()
    lib.referral_export_options_init(ctypes.byref(opts), EXPORT_OPTIONS_VERSION)
    opts.period = _text_arg(period, "period")
    opts.format = _text_arg(format, "format")
    opts.bom = 1 if bom else 0
    ids: List[bytes] = []
    if isinstance(distributor, (str, bytes)):
        ids = [cast(bytes, _text_arg(distributor, "distributor"))]
    elif distributor is not None:
        ids = [cast(bytes, _text_arg(d, "distributor")) for d in distributor]
    array = (ctypes.c_char_p * max(len(ids), 1))(*ids)
    opts.distributors = ctypes.cast(array, ctypes.POINTER(ctypes.c_char_p))
    opts.ndistributors = len(ids)
    return opts, (array, ids)


# the keys of an explanation (Store.explain(format="json")) holding exact values
_EXPLAIN_DECIMALS = frozenset((
    "rate", "bounty_per_member", "override_rate", "base", "value", "commission", "bounty",
    "override", "accrued", "released", "held", "opening_carry", "total", "rounded", "payable",
    "closing_carry", "withheld", "net", "min_payout", "sales", "store_rating", "min",
    "threshold", "fixed_deduction", "rate_deduction"))
# of them, those that hold a period in a line ("released": the release period)
_EXPLAIN_PERIODS = frozenset(("released",))


def _exact(doc: Any, in_line: bool = False) -> Any:
    """An explanation with its exact values as Decimal."""
    if isinstance(doc, list):
        return [_exact(v, in_line) for v in doc]
    if not isinstance(doc, dict):
        return doc
    line = "type" in doc and "event" in doc
    out: Dict[str, Any] = {}
    for k, v in doc.items():
        if isinstance(v, str) and k in _EXPLAIN_DECIMALS and not (line and k in _EXPLAIN_PERIODS):
            out[k] = Decimal(v)
        else:
            out[k] = _exact(v, line)
    return out


def _check_table_args(table: str, period: Optional[str], distributor: DistributorArg) -> None:
    if table in _NO_PERIOD and period is not None:
        raise UsageError("%s takes no period" % table)
    if table in _NO_DISTRIBUTOR and distributor is not None:
        raise UsageError("%s takes no distributor" % table)


def _message(ptr: Any) -> str:
    raw: Optional[bytes] = lib.referral_errmsg(ptr)
    return raw.decode("utf-8", "replace") if raw else ""


def _flag(text: str) -> bool:
    return text == "yes"


class _Cursor:
    """A referral_rows pointer, owned by its Store's set of open cursors so
    that the store frees every cursor before itself, whatever the order in
    which Python collects them."""

    __slots__ = ("ptr", "owner")

    def __init__(self, ptr: Any, owner: "Store") -> None:
        self.ptr = ptr
        self.owner = owner

    def free(self) -> None:
        if self.ptr is not None:
            lib.referral_rows_free(self.ptr)
            self.ptr = None
            self.owner._cursors.discard(self)


class RowIterator(Generic[R]):
    """Iterates the rows of one export as plain objects (see referral.rows).

    Rows stream from the library one at a time. The cursor is released when
    the iterator is exhausted, closed (close() or a with block), collected, or
    when its Store closes; iterating after the Store closed raises
    UsageError. Finish or close an iterator before writing to the store
    (ingest, settle, close_period) with the same Store. `columns` names the
    fields of every row, in order.
    """

    def __init__(self, store: "Store", table: str, period: Optional[str],
                 distributor: DistributorArg = None) -> None:
        handle = store._handle()
        ptr = RowsP()
        opts, keep = _export_options(period, distributor)
        lib.referral_rows_open_ext(handle, ctypes.byref(ptr), _text_arg(table, "table"),
                                   ctypes.byref(opts))
        del keep
        self._store = store
        self._cursor = _Cursor(ptr, store)
        self._done = False
        store._cursors.add(self._cursor)
        try:
            row_class, decimals = TABLES[table]
            self._make: Callable[..., R] = cast(Callable[..., R], row_class)
            ncols = lib.referral_rows_columns(ptr)
            names = [lib.referral_rows_column(ptr, i).decode("ascii") for i in range(ncols)]
            expected = [f.name for f in fields(row_class)]
            if names != expected:
                raise ReferralError(
                    "the library's %s columns %s differ from the binding's %s: the library "
                    "and the binding are of different versions" % (table, names, expected))
            self.columns: Tuple[str, ...] = tuple(names)
            self._convert: List[Callable[[str], Value]] = []
            for i, name in enumerate(names):
                if lib.referral_rows_column_is_number(ptr, i):
                    self._convert.append(int)
                elif name in FLAGS:
                    self._convert.append(_flag)
                elif name in decimals:
                    self._convert.append(Decimal)
                else:
                    self._convert.append(str)
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> "RowIterator[R]":
        return self

    def __next__(self) -> R:
        return self._make(*self._next_values())

    def _next_values(self) -> List[Value]:
        """The next row's values, converted, in column order."""
        ptr = self._cursor.ptr
        if ptr is None:
            if self._done:
                raise StopIteration
            raise UsageError("the store was closed while its rows were being read")
        got = lib.referral_rows_next(ptr)
        if got == 1:
            values: List[Value] = []
            for i, convert in enumerate(self._convert):
                # c_char_p: the lent value is copied into bytes right here
                raw = lib.referral_rows_value(ptr, i).decode("utf-8")
                values.append(convert(raw) if raw != "" else None)
            return values
        message = _message(self._store._ptr) if got < 0 else ""
        self.close()
        if got == 0:
            raise StopIteration
        raise error_for(-got, message)

    def _all_values(self) -> List[List[Value]]:
        """Every remaining row's values; releases the cursor."""
        rows = []
        with self:
            while True:
                try:
                    rows.append(self._next_values())
                except StopIteration:
                    return rows

    def close(self) -> None:
        """Releases the cursor; further iteration ends at once."""
        self._done = True
        cursor = getattr(self, "_cursor", None)
        if cursor is not None:
            cursor.free()

    def __enter__(self) -> "RowIterator[R]":
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        self.close()
        return False

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class Store:
    """An open libreferral store (a SQLite file).

    Make one with Store.create(path, plan) or Store.open(path); release it
    with close() or a with block (a forgotten Store is closed when collected).
    A Store is used by one thread at a time; distinct Stores may be used in
    parallel. Every method of a closed Store raises UsageError.

    Note: close() closes the handle; closing a settlement period is
    close_period(period).
    """

    def __init__(self, _ptr: Any, path: PathArg) -> None:
        # use Store.create() or Store.open()
        self._ptr: Any = _ptr
        self._cursors: Set[_Cursor] = set()
        self._busy = False
        self.path: PathArg = path

    # ---- life cycle ----------------------------------------------------

    @classmethod
    def _adopt(cls, out: Any, status: int, path: PathArg) -> "Store":
        if status != 0:
            message = _message(out)  # "out of memory" for a NULL handle
            lib.referral_store_free(out)
            raise error_for(status, message)
        return cls(out, path)

    @classmethod
    def create(cls, path: PathArg, plan: PlanArg) -> "Store":
        """Creates a store at `path` with its first plan (a dict, JSON text,
        or a pathlib.Path of a JSON file). The first open period is the plan's
        start_period. Raises InputError (invalid plan: the message names the
        key), StateError (the file already holds a store), StorageError;
        ValueError if the path or the plan holds a NUL character."""
        text = _plan_text(plan)
        out = StoreP()
        status = lib.referral_store_create(ctypes.byref(out), _path_arg(path), text)
        return cls._adopt(out, status, path)

    @classmethod
    def open(cls, path: PathArg) -> "Store":
        """Opens an existing store. Raises StorageError if `path` is missing,
        not a store, or of a newer schema; ValueError if it holds a NUL
        character (as os functions do). Every str argument of a Store's
        methods is refused the same way."""
        out = StoreP()
        status = lib.referral_store_open(ctypes.byref(out), _path_arg(path))
        return cls._adopt(out, status, path)

    @property
    def closed(self) -> bool:
        """True once close() has run."""
        return self._ptr is None

    def close(self) -> None:
        """Closes the store (idempotent). Open row iterators end."""
        if self._ptr is None:
            return
        if self._busy:
            raise UsageError("cannot close the store while a batch is being ingested")
        for cursor in list(self._cursors):
            cursor.free()
        ptr, self._ptr = self._ptr, None
        lib.referral_store_free(ptr)

    def __enter__(self) -> "Store":
        self._handle()
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        self.close()
        return False

    def __del__(self) -> None:
        # guarded: may run on a half-built object or during interpreter exit
        try:
            if getattr(self, "_ptr", None) is not None and not self._busy:
                self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self._ptr is None else "open"
        return "<referral.Store %r %s>" % (self.path, state)

    def _handle(self) -> Any:
        if self._ptr is None:
            raise UsageError("store %r is closed" % (self.path,))
        if self._busy:
            raise UsageError("store %r: a batch is being ingested; no other call may be made "
                             "until it ends" % (self.path,))
        return self._ptr

    # ---- plans and periods ---------------------------------------------

    def add_plan(self, plan: PlanArg, from_period: str) -> None:
        """Adds a plan version effective from `from_period` ("YYYY-MM"), no
        earlier than the earliest open period. Raises UsageError (malformed
        period), InputError (invalid plan), StateError (period closed)."""
        handle = self._handle()
        lib.referral_plan_add(handle, _plan_text(plan), _text_arg(from_period, "from_period"))

    def open_period(self) -> str:
        """The earliest open period, "YYYY-MM"."""
        handle = self._handle()
        buf = ctypes.create_string_buffer(16)
        lib.referral_open_period(handle, buf, len(buf))
        return buf.value.decode("ascii")

    # ---- ingestion -----------------------------------------------------

    def ingest(self, events: Union[PathArg, Iterable[EventArg]],
               source: Optional[str] = None) -> IngestResult:
        """Ingests one atomic batch and returns IngestResult(ingested,
        duplicates).

        `events` is either a path (str, bytes or os.PathLike) of a JSON Lines
        file, or an iterable of events: dicts (serialised with json.dumps;
        Decimal values become decimal strings) or JSON text lines (str or
        bytes). `source` names the input in messages ("FILE" of
        "FILE:LINE: message"); it defaults to the path, or "<events>" for an
        iterable, whose LINE is the 1-based position of the event.

        Either every event is stored or none: if any line is bad, raises
        InputError (or ConflictError, a StateError, when every bad line is a
        conflicting duplicate) whose `errors` lists every bad line (up to 100;
        `error_count` counts all). An exception raised while iterating
        `events` also stores nothing, and propagates.
        """
        handle = self._handle()
        if isinstance(events, dict):
            raise TypeError("ingest takes an iterable of events (or a path), not one event: "
                            "wrap it in a list")
        is_path = isinstance(events, (str, bytes, os.PathLike))
        if source is None:
            source = os.fsdecode(cast(PathArg, events)) if is_path else "<events>"
        batch = BatchP()
        lib.referral_batch_begin(handle, ctypes.byref(batch), _text_arg(source, "source"))
        self._busy = True
        try:
            if is_path:
                status = lib.referral_batch_add_file(batch, _path_arg(cast(PathArg, events)))
                if status in (REFERRAL_EIO, REFERRAL_EUSAGE):
                    raise error_for(status, _message(handle))
            else:
                for lineno, event in enumerate(cast(Iterable[EventArg], events), 1):
                    data = _event_line(event)
                    status = lib.referral_batch_add_json(batch, data, len(data), lineno)
                    if status in (REFERRAL_EIO, REFERRAL_EUSAGE):
                        raise error_for(status, _message(handle))
            status = lib.referral_batch_commit(batch)
            if status == 0:
                return IngestResult(lib.referral_batch_ingested(batch),
                                    lib.referral_batch_duplicates(batch))
            message = _message(handle)
            if status in (REFERRAL_EINPUT, REFERRAL_ESTATE):
                count = lib.referral_batch_error_count(batch)
                errors = []
                for i in range(min(count, _MAX_REPORTED)):
                    raw = lib.referral_batch_error(batch, i)
                    if raw is not None:
                        errors.append(raw.decode("utf-8", "replace"))
                cls = InputError if status == REFERRAL_EINPUT else ConflictError
                raise cls(message, status, errors, count)
            raise error_for(status, message)
        finally:
            lib.referral_batch_free(batch)  # rolls back anything uncommitted
            self._busy = False

    # ---- settlement ----------------------------------------------------

    def settle(self, period: str) -> None:
        """Computes the draft of `period`, the earliest open period."""
        lib.referral_settle(self._handle(), _text_arg(period, "period"))

    def close_period(self, period: str) -> None:
        """Settles `period` (the earliest open) if needed, freezes it, grades
        its distributors and opens the next period, in one transaction."""
        lib.referral_close(self._handle(), _text_arg(period, "period"))

    def verify(self) -> None:
        """Re-derives every closed period and checks conservation. Returns
        None, or raises VerifyError naming the first discrepancy."""
        lib.referral_verify(self._handle())

    # ---- reading -------------------------------------------------------

    @overload
    def rows(self, table: Literal["statements"], period: Optional[str] = None,
             distributor: DistributorArg = None) -> RowIterator[Statement]: ...

    @overload
    def rows(self, table: Literal["lines"], period: Optional[str] = None,
             distributor: DistributorArg = None) -> RowIterator[Line]: ...

    @overload
    def rows(self, table: Literal["grades"], period: Optional[str] = None,
             distributor: DistributorArg = None) -> RowIterator[Grade]: ...

    @overload
    def rows(self, table: Literal["members"], period: None = None,
             distributor: None = None) -> RowIterator[Member]: ...

    @overload
    def rows(self, table: Literal["payouts"], period: Optional[str] = None,
             distributor: DistributorArg = None) -> RowIterator[Payout]: ...

    @overload
    def rows(self, table: Literal["stores"], period: None = None,
             distributor: None = None) -> RowIterator[StoreRow]: ...

    @overload
    def rows(self, table: Literal["distributors"], period: None = None,
             distributor: DistributorArg = None) -> RowIterator[Distributor]: ...

    @overload
    def rows(self, table: Literal["tree"], period: None = None,
             distributor: DistributorArg = None) -> RowIterator[TreeNode]: ...

    @overload
    def rows(self, table: str, period: Optional[str] = None,
             distributor: DistributorArg = None) -> RowIterator[Any]: ...

    def rows(self, table: str, period: Optional[str] = None,
             distributor: DistributorArg = None) -> RowIterator[Any]:
        """A RowIterator over `table` ("statements", "lines", "grades",
        "members", "payouts", "stores", "distributors", "tree"), restricted
        to `period` if given (statements, lines, grades and payouts), and to
        the rows of `distributor` (an id or several) if given: her rows, or
        in the tree her and her downline. InputError names a distributor
        that does not exist."""
        _check_table_args(table, period, distributor)
        return RowIterator(self, table, period, distributor)

    def statements(self, period: Optional[str] = None,
                   distributor: DistributorArg = None) -> RowIterator[Statement]:
        """Iterates Statement objects, sorted as the export is."""
        return self.rows("statements", period, distributor)

    def lines(self, period: Optional[str] = None,
              distributor: DistributorArg = None) -> RowIterator[Line]:
        """Iterates Line objects."""
        return self.rows("lines", period, distributor)

    def grades(self, period: Optional[str] = None,
               distributor: DistributorArg = None) -> RowIterator[Grade]:
        """Iterates Grade objects (closed periods only)."""
        return self.rows("grades", period, distributor)

    def payouts(self, period: Optional[str] = None,
                distributor: DistributorArg = None) -> RowIterator[Payout]:
        """Iterates Payout objects: each statement with a payable above 0,
        with the tax withheld and the net, Decimals all."""
        return self.rows("payouts", period, distributor)

    def members(self) -> RowIterator[Member]:
        """Iterates Member objects, by member id."""
        return self.rows("members")

    def stores(self) -> RowIterator[StoreRow]:
        """Iterates StoreRow objects, by store id: name, region, and the
        latest rating as of the end of the latest period settled."""
        return self.rows("stores")

    def distributors(self, distributor: DistributorArg = None) -> RowIterator[Distributor]:
        """Iterates Distributor objects, by id (only those asked for when
        `distributor` is given)."""
        return self.rows("distributors", None, distributor)

    def tree(self, distributor: DistributorArg = None) -> RowIterator[TreeNode]:
        """Iterates the recruitment tree as TreeNode objects, in tree order;
        with `distributor`, only her (or their) downline, herself first."""
        return self.rows("tree", None, distributor)

    def rows_as_dicts(self, table: str, period: Optional[str] = None,
                      distributor: DistributorArg = None) -> List[Dict[str, Value]]:
        """Every row of `table` (as for rows()) as a dict keyed by the export's
        columns, in column order: Decimal for money, rates, ratings and
        points, int for counts and grades, str for periods, ids and names,
        None for an empty field. The rows are read at once and the cursor is
        released before this returns."""
        with self.rows(table, period, distributor) as it:
            names = it.columns
            return [dict(zip(names, values)) for values in it._all_values()]

    def to_pandas(self, table: str, period: Optional[str] = None,
                  distributor: DistributorArg = None) -> "pandas.DataFrame":
        """The rows of `table` (as for rows_as_dicts()) as a pandas DataFrame,
        one column per export column, in order, on a RangeIndex.

        Exact values stay Decimal objects in columns of dtype object, so sums
        and group sums are exact Decimals; never convert them to float (see
        bindings/python/README.md). Counts and grades are int64 columns;
        periods, ids and names are object columns of str, an empty field
        None. pandas is imported here and nowhere else: the rest of the
        binding never needs it. Raises ImportError if pandas is not
        installed."""
        try:
            import pandas
        except ImportError as e:
            raise ImportError(
                "Store.to_pandas needs pandas, which is not installed (Debian: apt-get install "
                "python3-pandas; or pip install pandas); Store.rows_as_dicts gives the same rows "
                "without it") from e
        with self.rows(table, period, distributor) as it:
            names = it.columns
            counts = [convert is int for convert in it._convert]
            rows = it._all_values()
        data = {}
        for i, name in enumerate(names):
            values = [row[i] for row in rows]
            as_int64 = counts[i] and None not in values
            # dtype given, never inferred: pandas must not turn a Decimal into a float
            data[name] = pandas.Series(values, dtype="int64" if as_int64 else object, name=name)
        return pandas.DataFrame(data, columns=list(names))

    def member(self, member_id: str) -> Member:
        """One member's points as a Member; InputError if there is no such
        member."""
        handle = self._handle()
        info = MemberInfo()
        lib.referral_member_get(handle, _text_arg(member_id, "member_id"), ctypes.byref(info))
        # copy every lent field before anything else touches the store
        raw = {name: getattr(info, name) for name, _ in MemberInfo._fields_}
        text = {k: (v.decode("utf-8") if v is not None else "") for k, v in raw.items()}
        return Member(member=text["member"], lifetime=Decimal(text["lifetime"]),
                      balance=Decimal(text["balance"]), tier=text["tier"],
                      sharer=text["sharer"] or None, effective_tier=text["effective_tier"])

    def export(self, table: str, period: Optional[str] = None, format: str = "csv",
               distributor: DistributorArg = None, bom: bool = False) -> str:
        """The text of an export as str ("csv", "json", or "dot" for the
        tree), exactly what `referral export DB TABLE [--period P] [--format
        F] [--distributor ID]... [--bom]` prints. The repository's
        docs/formats.md describes the columns."""
        _check_table_args(table, period, distributor)
        opts, keep = _export_options(period, distributor, format, bom)
        return self._text(lambda callback: lib.referral_export_ext(
            self._handle(), _text_arg(table, "table"), ctypes.byref(opts), callback, None))

    def explain(self, distributor: str, period: str, format: str = "text") -> Any:
        """How every figure of `distributor`'s statement of `period` came
        about: plain words (format "text", a str), or the same as a dict
        (format "json") whose exact values are Decimal. The period must be
        closed or the settled draft (StateError otherwise); InputError names
        a distributor that does not exist or has no statement then."""
        if format not in ("text", "json"):
            raise UsageError('unknown format "%s": expected text or json' % format)
        text = self._text(lambda callback: lib.referral_explain(
            self._handle(), _text_arg(distributor, "distributor"), _text_arg(period, "period"),
            _text_arg(format, "format"), callback, None))
        return _exact(json.loads(text)) if format == "json" else text

    def report(self, period: str) -> str:
        """The month end of `period` as one self-contained HTML page (str),
        what `referral report DB --period P` writes. The period must be
        closed or the settled draft (StateError otherwise)."""
        return self._text(lambda callback: lib.referral_report(
            self._handle(), _text_arg(period, "period"), callback, None))

    def _text(self, call: Callable[[Any], Any]) -> str:
        """The text a call writes through a referral_write_fn, as str."""
        self._handle()
        chunks: List[bytes] = []

        def write(ctx: Optional[int], data: Optional[int], length: int) -> int:
            try:
                chunks.append(ctypes.string_at(cast(int, data), length))
                return 0
            except BaseException:
                return 1

        callback = WRITE_FN(write)  # kept alive by this frame during the call
        call(callback)
        return b"".join(chunks).decode("utf-8")


def library_version() -> str:
    """The version string of the loaded library, e.g. "0.1.0"."""
    version: bytes = lib.referral_version()
    return version.decode("ascii")


def status_name(status: int) -> str:
    """The library's short name of a status code ("ok", "usage", "input", ...)."""
    name: bytes = lib.referral_status_name(status)
    return name.decode("ascii")


def library_path() -> str:
    """The path (or name) libreferral was loaded from."""
    return str(_native.path)
