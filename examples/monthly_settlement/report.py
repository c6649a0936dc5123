#!/usr/bin/env python3
"""Prints the month-end for finance from the CSV files `referral export` wrote.

    python3 report.py review STATEMENTS.csv [--events DIR]
        a short review of a draft settlement, before closing it

    python3 report.py final EXPORT_DIR [--events DIR]
        the statements of every period (what was earned, held and released),
        grading, the late adjustments, a per-store summary, the payouts with
        the income tax withheld per distributor and per store, members by
        tier and the grand totals; EXPORT_DIR holds statements.csv,
        lines.csv, grades.csv, members.csv and payouts.csv

--events DIR names the folder of the ingested .jsonl batches: store names and
regions, and the dates of orders and refunds (to spot late ones), come from
there. Without it stores show by id only.

Every amount is read and added as decimal.Decimal, never as float, and shown
exactly (a commission of 6.1725 yuan prints as 6.1725, not 6.17): only the
payable is rounded to the fen, by the library. Exit status 0, or 1 if the
conservation check fails.
"""

import argparse
import csv
import json
import os
import sys
from collections import OrderedDict, defaultdict
from decimal import Decimal

ZERO = Decimal(0)


# --- formatting --------------------------------------------------------------

def canonical(d):
    """An exact value as the library writes it: at least two decimals,
    otherwise as few as exact ("80.00", "6.1725", "-0.005")."""
    s = format(d, "f")
    if "." not in s:
        s += ".00"
    whole, frac = s.split(".")
    frac = frac.rstrip("0").ljust(2, "0")
    if whole == "-0" and frac.strip("0") == "":
        whole = "0"
    return whole + "." + frac


def amount(d):
    """canonical() with thousands separators: 12,345.6725 (still exact)."""
    s = canonical(d)
    sign = "-" if s.startswith("-") else ""
    whole, frac = s.lstrip("-").split(".")
    return "%s%s.%s" % (sign, "{:,}".format(int(whole)), frac)


class Table:
    """A plain-text table. Columns are (title, kind): kind 'text' is
    left-aligned, 'int' right-aligned, 'money' aligned on the decimal point."""

    def __init__(self, columns):
        self.columns = columns
        self.rows = []

    def add(self, *cells):
        self.rows.append(cells)

    def rule(self):
        self.rows.append(None)

    def lines(self, indent="  "):
        cells = []   # rendered cells, per row
        for row in self.rows:
            cells.append(None if row is None else
                         [amount(c) if k == "money" and isinstance(c, Decimal) else str(c)
                          for c, (_, k) in zip(row, self.columns)])
        # decimal-point alignment: pad each money cell's fraction on the right
        for i, (_, kind) in enumerate(self.columns):
            if kind != "money":
                continue
            frac = max((len(r[i].split(".")[1]) for r in cells if r and "." in r[i]), default=0)
            for r in cells:
                if r and "." in r[i]:
                    r[i] += " " * (frac - len(r[i].split(".")[1]))
        widths = [max([len(t)] + [len(r[i]) for r in cells if r])
                  for i, (t, _) in enumerate(self.columns)]
        out = []

        def render(r):
            parts = []
            for i, (_, kind) in enumerate(self.columns):
                parts.append(r[i].ljust(widths[i]) if kind == "text" else r[i].rjust(widths[i]))
            return (indent + "  ".join(parts)).rstrip()

        out.append(render([t for t, _ in self.columns]))
        out.append(indent + "  ".join("-" * w for w in widths))
        for r in cells:
            out.append(indent + "  ".join("-" * w for w in widths) if r is None else render(r))
        return out

    def print(self):
        print("\n".join(self.lines()))


def heading(text):
    print()
    print(text)
    print("=" * len(text))


# --- inputs ---------------------------------------------------------------------

def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def money_fields(row, *names):
    return [Decimal(row[n]) for n in names]


class Events:
    """What report.py needs from the ingested batches: stores, and the local
    month of every order and refund (the example writes every time in the
    plan's utc_offset, so the month is the first seven characters)."""

    def __init__(self, folder):
        self.stores = {}             # id -> (name, region)
        self.order_month = {}
        self.refund_month = {}
        if not folder:
            return
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".jsonl"):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        continue
                    ev = json.loads(line)
                    if ev["type"] == "store":
                        self.stores[ev["id"]] = (ev["name"], ev["region"])
                    elif ev["type"] == "order":
                        self.order_month[ev["id"]] = ev["at"][:7]
                    elif ev["type"] == "refund":
                        self.refund_month[ev["id"]] = ev["at"][:7]

    def store_name(self, sid):
        return self.stores.get(sid, ("", ""))[0]

    def region(self, sid):
        return self.stores.get(sid, ("", "?"))[1]

    def month_of(self, line):
        """The month the event behind a line happened in, or None."""
        if line["type"].endswith("_reversal"):
            return self.refund_month.get(line["event"])
        return self.order_month.get(line["event"])


# --- the sections ----------------------------------------------------------------------

STATEMENT_MONEY = ("opening_carry", "commission", "bounty", "override", "held", "released",
                   "payable", "closing_carry")


def by_period(rows):
    periods = OrderedDict()
    for r in rows:
        periods.setdefault(r["period"], []).append(r)
    return periods


def statements_table(rows):
    t = Table([("distributor", "text"), ("store", "text"), ("grade", "int"),
               ("carry b/f", "money"), ("commission", "money"), ("bounty", "money"),
               ("override", "money"), ("held", "money"), ("released", "money"),
               ("payable", "money"), ("carry c/f", "money")])
    totals = [ZERO] * len(STATEMENT_MONEY)
    for r in rows:
        values = money_fields(r, *STATEMENT_MONEY)
        totals = [a + b for a, b in zip(totals, values)]
        t.add(r["distributor"], r["store"], r["grade"], *values)
    t.rule()
    t.add("TOTAL", "", "", *totals)
    return t, totals


def review(args):
    rows = read_csv(args.statements)
    events = Events(args.events)
    for period, prows in by_period(rows).items():
        heading("Draft review %s (settled, not closed: nothing is final yet)" % period)
        totals = dict(zip(STATEMENT_MONEY, [sum((Decimal(r[k]) for r in prows), ZERO)
                                            for k in STATEMENT_MONEY]))
        paid = [r for r in prows if Decimal(r["payable"]) > 0]
        negative = [r for r in prows if Decimal(r["total"]) < 0]
        carried = [r for r in prows if Decimal(r["payable"]) == 0 and Decimal(r["total"]) != 0]
        t = Table([("", "text"), ("amount", "money")])
        t.add("commission", totals["commission"])
        t.add("bounty", totals["bounty"])
        t.add("override", totals["override"])
        t.add("held for the refund window", totals["held"])
        t.add("released this month", totals["released"])
        t.add("payable (to pay out)", totals["payable"])
        t.add("carried to next month", totals["closing_carry"])
        t.print()
        print("  %d distributors have a statement; %d get a payment, %d carry everything"
              " forward (below the minimum payout or owing a clawback)."
              % (len(prows), len(paid), len(carried)))
        print()
        print("  Largest payables:")
        top = sorted(prows, key=lambda r: (-Decimal(r["payable"]), r["distributor"]))[:5]
        t = Table([("distributor", "text"), ("store", "text"), ("grade", "int"), ("payable", "money")])
        for r in top:
            t.add(r["distributor"], "%s %s" % (r["store"], events.store_name(r["store"])),
                  r["grade"], Decimal(r["payable"]))
        t.print()
        print()
        if negative:
            print("  Owing money back (refunds larger than this month's earnings):")
            t = Table([("distributor", "text"), ("total", "money")])
            for r in negative:
                t.add(r["distributor"], Decimal(r["total"]))
            t.print()
        else:
            print("  Nobody owes money back this month.")
    return 0


def final(args):
    d = args.export_dir
    statements = read_csv(os.path.join(d, "statements.csv"))
    lines = read_csv(os.path.join(d, "lines.csv"))
    grades = read_csv(os.path.join(d, "grades.csv"))
    members = read_csv(os.path.join(d, "members.csv"))
    payouts = read_csv(os.path.join(d, "payouts.csv"))
    events = Events(args.events)
    periods = by_period(statements)
    grand = [ZERO] * len(STATEMENT_MONEY)

    # 1. statements, one table per period
    for period, rows in periods.items():
        heading("Statements %s" % period)
        t, totals = statements_table(rows)
        t.print()
        grand = [a + b for a, b in zip(grand, totals)]
        print("  held = what is held at the end of the month for the refund window (released")
        print("  later); released = what becomes payable this month, earned now or held before.")
        print("  payable = carry b/f + released, rounded to the fen (half up); below the 0.01")
        print("  minimum or negative it is 0.00. carry c/f = the exact remainder.")

    # 2. grading
    heading("Grading at each close (the grade for the next month)")
    t = Table([("period", "text"), ("movement", "text"), ("distributors", "int")])
    for period, rows in by_period(grades).items():
        moves = defaultdict(int)
        for r in rows:
            g, n = int(r["grade"]), int(r["next_grade"])
            word = "promoted" if n > g else "demoted" if n < g else "stays"
            moves[(g, n, word)] += 1
        for (g, n, word), count in sorted(moves.items()):
            t.add(period, "%s %d -> %d" % (word, g, n) if g != n else "stays at %d" % g, count)
    t.print()

    # 3. late events
    heading("Late adjustments (events dated in a month that had already closed)")
    late = [ln for ln in lines
            if events.month_of(ln) is not None and events.month_of(ln) < ln["period"]]
    if late:
        t = Table([("booked in", "text"), ("dated", "text"), ("event", "text"), ("order", "text"),
                   ("distributor", "text"), ("line", "text"), ("value", "money")])
        for ln in late:
            t.add(ln["period"], events.month_of(ln), ln["event"], ln["order"], ln["distributor"],
                  ln["type"], Decimal(ln["value"]))
        t.print()
    else:
        print("  none" if args.events else "  (run with --events to find them)")

    # 4. per-store summary: statement rows by the distributor's store at the
    #    end of the period; net sales = commissionable orders less refunds.
    store_of = {(r["period"], r["distributor"]): r["store"] for r in statements}
    sales = defaultdict(lambda: ZERO)
    for ln in lines:
        sid = store_of[(ln["period"], ln["distributor"])]
        if ln["type"] == "commission":
            sales[(ln["period"], sid)] += Decimal(ln["base"])
        elif ln["type"] == "commission_reversal":
            sales[(ln["period"], sid)] -= Decimal(ln["base"])
    for period, rows in periods.items():
        heading("Per-store summary %s" % period)
        per_store = OrderedDict()
        for r in sorted(rows, key=lambda r: (events.region(r["store"]), r["store"])):
            s = per_store.setdefault(r["store"], [0, ZERO, ZERO])
            s[0] += 1
            s[1] += Decimal(r["accrued"])
            s[2] += Decimal(r["payable"])
        t = Table([("region", "text"), ("store", "text"), ("name", "text"), ("distributors", "int"),
                   ("net sales", "money"), ("earned", "money"), ("payable", "money")])
        total = [0, ZERO, ZERO, ZERO]
        region, sub = None, None
        for sid, (count, earned, payable) in per_store.items():
            reg = events.region(sid)
            if reg != region and sub is not None:
                t.add("", "subtotal", region, *sub)
            if reg != region:
                region, sub = reg, [0, ZERO, ZERO, ZERO]
            row = [count, sales[(period, sid)], earned, payable]
            sub = [a + b for a, b in zip(sub, row)]
            total = [a + b for a, b in zip(total, row)]
            t.add(reg, sid, events.store_name(sid), *row)
        if sub is not None:
            t.add("", "subtotal", region, *sub)
        t.rule()
        t.add("TOTAL", "", "", *total)
        t.print()
        print("  earned = commission + bounty + override of the month; net sales = orders of bound")
        print("  members less their refunds, by the distributor's store at the end of the month.")

    # 5. payouts: what finance sends to the bank and reports to the tax office
    for period, rows in by_period(payouts).items():
        heading("Payouts %s (income tax withheld as 劳务报酬)" % period)
        t = Table([("distributor", "text"), ("store", "text"), ("payable", "money"),
                   ("withheld", "money"), ("net", "money")])
        total = [ZERO, ZERO, ZERO]
        per_store = OrderedDict()
        for r in rows:
            values = money_fields(r, "payable", "withheld", "net")
            total = [a + b for a, b in zip(total, values)]
            s_ = per_store.setdefault(r["store"], [0, ZERO, ZERO, ZERO])
            per_store[r["store"]] = [s_[0] + 1] + [a + b for a, b in zip(s_[1:], values)]
            if values[1] > 0:
                t.add(r["distributor"], r["store"], *values)
        t.rule()
        t.add("TOTAL (%d payouts)" % len(rows), "", *total)
        t.print()
        print("  Only the payouts with tax withheld are listed; payouts.csv has every one.")
        print()
        t = Table([("store", "text"), ("name", "text"), ("payouts", "int"), ("payable", "money"),
                   ("withheld", "money"), ("net", "money")])
        for sid in sorted(per_store, key=lambda s_: (events.region(s_), s_)):
            t.add(sid, events.store_name(sid), *per_store[sid])
        t.print()

    # 6. members
    heading("Members by tier (effective tier, at the end)")
    tiers = defaultdict(int)
    for m in members:
        tiers[m["effective_tier"]] += 1
    t = Table([("tier", "text"), ("members", "int")])
    for tier, count in sorted(tiers.items(), key=lambda kv: -kv[1]):
        t.add(tier, count)
    t.print()
    print("  %d members have a sharer (a member who shares her benefits with them and earns"
          " bonus points on theirs);\n  %s points redeemed in all."
          % (sum(1 for m in members if m["sharer"]),
             amount(sum((Decimal(m["lifetime"]) - Decimal(m["balance"]) for m in members), ZERO))))

    # 7. grand totals and the conservation check
    first, last = next(iter(periods)), next(reversed(periods))
    heading("Grand totals %s to %s" % (first, last))
    last_carry, last_held = {}, {}
    for r in statements:                                              # sorted by period
        last_carry[r["distributor"]] = Decimal(r["closing_carry"])
        last_held[r["distributor"]] = Decimal(r["held"])
    line_sum = defaultdict(lambda: ZERO)
    for ln in lines:
        line_sum[ln["distributor"]] += Decimal(ln["value"])
    paid = defaultdict(lambda: ZERO)
    for r in statements:
        paid[r["distributor"]] += Decimal(r["payable"])
    t = Table([("", "text"), ("amount", "money")])
    values = dict(zip(STATEMENT_MONEY, grand))
    t.add("commission", values["commission"])
    t.add("bounty", values["bounty"])
    t.add("override", values["override"])
    t.add("earned", values["commission"] + values["bounty"] + values["override"])
    t.add("payable", values["payable"])
    t.add("  of which tax withheld", sum((Decimal(p["withheld"]) for p in payouts), ZERO))
    t.add("  of which paid to distributors", sum((Decimal(p["net"]) for p in payouts), ZERO))
    t.add("held at %s, released later" % last, sum(last_held.values(), ZERO))
    t.add("carried forward at %s" % last, sum(last_carry.values(), ZERO))
    t.print()
    bad = [dist for dist in sorted(set(paid) | set(line_sum))
           if paid[dist] + last_carry.get(dist, ZERO) + last_held.get(dist, ZERO)
           != line_sum[dist]]
    if bad:
        print("  CONSERVATION CHECK FAILED for: %s" % ", ".join(bad))
        return 1
    print("  Check: for each of the %d distributors, everything paid plus what is carried"
          % len(paid))
    print("  forward plus what is still held equals the sum of her lines (commission, bounty,")
    print("  override), exactly.")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("review", help="review a draft settlement")
    p.add_argument("statements", help="statements.csv of the draft")
    p.add_argument("--events", help="folder of the ingested .jsonl batches")
    p.set_defaults(run=review)
    p = sub.add_parser("final", help="statements and summaries of every closed period")
    p.add_argument("export_dir", help="folder with statements.csv, lines.csv, grades.csv,"
                   " members.csv, payouts.csv")
    p.add_argument("--events", help="folder of the ingested .jsonl batches")
    p.set_defaults(run=final)
    args = ap.parse_args()
    sys.exit(args.run(args))


if __name__ == "__main__":
    main()
