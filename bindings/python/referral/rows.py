"""The plain objects the binding returns: one frozen dataclass per export.

Field names are the CSV header columns of the exports, in order (the
repository's docs/formats.md describes every column). Money, rates, ratings
and points are decimal.Decimal (exact, never float); counts and grades are
int; an empty field is None. Periods stay "YYYY-MM" strings.
dataclasses.asdict(row) gives a dict, dataclasses.astuple(row) a tuple;
Store.rows_as_dicts() and Store.to_pandas() give a whole table at once.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Dict, FrozenSet, NamedTuple, Optional, Tuple, Type, Union


class IngestResult(NamedTuple):
    """What a successful ingest stored: events `ingested` and identical
    `duplicates` skipped. Unpacks as a tuple: ``n, dups = store.ingest(...)``."""

    ingested: int
    duplicates: int


@dataclass(frozen=True)
class Statement:
    """A distributor's statement for one period (export `statements`)."""

    period: str
    distributor: str
    store: str
    grade: int
    opening_carry: Decimal
    commission: Decimal
    bounty: Decimal
    override: Decimal
    accrued: Decimal
    released: Decimal
    held: Decimal
    total: Decimal
    payable: Decimal
    closing_carry: Decimal


@dataclass(frozen=True)
class Line:
    """One commission effect (export `lines`). `source` is the recruit on
    override lines, else None; `base` and `rate` are None on bounty lines."""

    period: str
    distributor: str
    type: str
    event: str
    order: str
    member: str
    source: Optional[str]
    base: Optional[Decimal]
    rate: Optional[Decimal]
    value: Decimal


@dataclass(frozen=True)
class Grade:
    """A distributor's evaluation when a period closed (export `grades`)."""

    period: str
    distributor: str
    grade: int
    members: int
    sales: Decimal
    shares: int
    store_rating: Decimal
    next_grade: int


@dataclass(frozen=True)
class Member:
    """A member's points and tiers (export `members`). `sharer` is None
    without one; `balance` may be negative."""

    member: str
    lifetime: Decimal
    balance: Decimal
    tier: str
    sharer: Optional[str]
    effective_tier: str


@dataclass(frozen=True)
class Payout:
    """What finance pays a distributor for a period (export `payouts`): the
    payable, the income tax withheld from it under the plan's withholding,
    and the net sent to the bank. Only statements with a payable above 0
    have one."""

    period: str
    distributor: str
    store: str
    payable: Decimal
    withheld: Decimal
    net: Decimal


@dataclass(frozen=True)
class StoreRow:
    """A store (export `stores`): its name and region, and its latest rating
    as of the end of the latest period settled (None if not rated by then).
    Named so because Store is the handle of a libreferral store."""

    store: str
    name: str
    region: str
    rating: Optional[Decimal]


@dataclass(frozen=True)
class Distributor:
    """A distributor (export `distributors`): her store as of the end of the
    latest period settled, her recruiter (None without one), when she joined
    and left (ISO 8601 in the plan's offset; `terminated_at` None while she
    has not), her grade in the earliest open period, and the members bound
    to her at the end of that latest period."""

    distributor: str
    kind: str
    store: str
    recruiter: Optional[str]
    joined_at: str
    terminated_at: Optional[str]
    grade: int
    members: int


@dataclass(frozen=True)
class TreeNode:
    """A row of the recruitment tree (export `tree`), in tree order: `depth`
    0 without a recruiter; `terminated` True once she has left."""

    distributor: str
    recruiter: Optional[str]
    depth: int
    store: str
    grade: int
    terminated: bool


Row = Union[Statement, Line, Grade, Member, Payout, StoreRow, Distributor, TreeNode]
"""Any of the row classes."""

Value = Union[str, int, bool, Decimal, None]
"""One field of a row: str (periods, ids, names, instants), int (counts,
grades), Decimal (money, rates, ratings, points), bool (flags) or None (an
empty field)."""

# table name -> (row class, the columns holding exact decimals)
TABLES: Dict[str, Tuple[Type[Row], FrozenSet[str]]] = {
    "statements": (Statement, frozenset(("opening_carry", "commission", "bounty", "override",
                                         "accrued", "released", "held", "total", "payable",
                                         "closing_carry"))),
    "lines": (Line, frozenset(("base", "rate", "value"))),
    "grades": (Grade, frozenset(("sales", "store_rating"))),
    "members": (Member, frozenset(("lifetime", "balance"))),
    "payouts": (Payout, frozenset(("payable", "withheld", "net"))),
    "stores": (StoreRow, frozenset(("rating",))),
    "distributors": (Distributor, frozenset()),
    "tree": (TreeNode, frozenset()),
}

# columns holding "yes" or "no", read as bool
FLAGS: FrozenSet[str] = frozenset(("terminated",))
