"""The plain objects the binding returns: one frozen dataclass per export.

Field names are the CSV header columns of SPEC §10, in order. Money, rates,
ratings and points are decimal.Decimal (exact, never float); counts and
grades are int; an empty field is None. Periods stay "YYYY-MM" strings.
dataclasses.asdict(row) gives a dict, dataclasses.astuple(row) a tuple.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, Optional


class IngestResult(NamedTuple):
    """What a successful ingest stored: events `ingested` and identical
    `duplicates` skipped. Unpacks as a tuple: ``n, dups = store.ingest(...)``."""

    ingested: int
    duplicates: int


@dataclass(frozen=True)
class Statement:
    """A distributor's statement for one period (SPEC §7)."""

    period: str
    distributor: str
    store: str
    grade: int
    opening_carry: Decimal
    commission: Decimal
    bounty: Decimal
    override: Decimal
    accrued: Decimal
    total: Decimal
    payable: Decimal
    closing_carry: Decimal


@dataclass(frozen=True)
class Line:
    """One commission effect (SPEC §6). `source` is the recruit on override
    lines, else None; `base` and `rate` are None on bounty lines."""

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
    """A distributor's evaluation when a period closed (SPEC §8)."""

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
    """A member's points and tiers (SPEC §9). `sharer` is None without one;
    `balance` may be negative."""

    member: str
    lifetime: Decimal
    balance: Decimal
    tier: str
    sharer: Optional[str]
    effective_tier: str


# table name -> (row class, the columns holding exact decimals)
TABLES = {
    "statements": (Statement, frozenset(("opening_carry", "commission", "bounty", "override",
                                         "accrued", "total", "payable", "closing_carry"))),
    "lines": (Line, frozenset(("base", "rate", "value"))),
    "grades": (Grade, frozenset(("sales", "store_rating"))),
    "members": (Member, frozenset(("lifetime", "balance"))),
}
