#!/usr/bin/env python3
"""Writes a month whose events arrive out of time order, as when several
order services interleave their batches.

    python3 bench/interleave.py IN.jsonl OUT.jsonl [--services 8] [--seed S]

The events of IN are dealt to SERVICES streams by the member (orders,
member shares, redeems; refunds go with their order's member) or the
distributor (distributor shares, terminations); each stream keeps its
events in their original order, so every refund still follows its order.
OUT takes batches of 200 to 2,000 lines from a stream chosen at random each
time, until every stream is empty: a stream runs ahead of or behind the
others by up to a fifth of the month, and the month's events are no longer
sorted by `at`. The same arguments always give the same bytes.
"""

import argparse
import json
import random


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("infile")
    ap.add_argument("outfile")
    ap.add_argument("--services", type=int, default=8)
    ap.add_argument("--seed", type=int, default=20260203)
    args = ap.parse_args()

    streams = [[] for _ in range(args.services)]
    member_of_order = {}
    with open(args.infile, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            ev = json.loads(line)
            kind = ev["type"]
            if kind == "order":
                member_of_order[ev["id"]] = ev["member"]
                key = ev["member"]
            elif kind == "refund":
                key = member_of_order.get(ev["order"], ev["order"])
            else:
                key = ev.get("member") or ev.get("distributor") or ev.get("store") or ev["id"]
            streams[hash_key(key) % args.services].append(line)

    rng = random.Random(args.seed)
    at = [0] * args.services
    with open(args.outfile, "w", encoding="utf-8") as out:
        live = [i for i in range(args.services) if streams[i]]
        while live:
            i = rng.choice(live)
            n = rng.randint(200, 2000)
            out.writelines(streams[i][at[i]:at[i] + n])
            at[i] += n
            if at[i] >= len(streams[i]):
                live.remove(i)


def hash_key(key):
    """A hash of a text that does not change between runs (str hashes do)."""
    h = 2166136261
    for b in key.encode("utf-8"):
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


if __name__ == "__main__":
    main()
