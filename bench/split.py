#!/usr/bin/env python3
"""split.py — cut a month of events into N files that can be ingested at once.

    split.py IN.jsonl N OUT_PREFIX

Writes OUT_PREFIX.0.jsonl .. OUT_PREFIX.{N-1}.jsonl. Orders are dealt out by
a hash of their id; a refund goes to the file of its order when the order is
in the same month (so it is never ingested before it), else by a hash of its
own id. Everything else (shares, ratings, terminations) goes to file 0, in
its order. Each file keeps the order of the lines it holds, so every file is
valid on its own against a store that holds the network, whichever of the
others are ingested first: the benchmark's concurrent ingesters
(bench/postgres.sh) each take one.
"""
import json
import sys
import zlib


def part_of(key, n):
    return zlib.crc32(key.encode()) % n


def main(argv):
    if len(argv) != 4:
        sys.exit("usage: split.py IN.jsonl N OUT_PREFIX")
    src, n, prefix = argv[1], int(argv[2]), argv[3]
    if n < 1:
        sys.exit("split.py: N must be at least 1")
    outs = [open(f"{prefix}.{i}.jsonl", "w", encoding="utf-8") for i in range(n)]
    order_part = {}
    with open(src, encoding="utf-8") as f:
        for line in f:
            ev = json.loads(line)
            kind = ev.get("type")
            if kind == "order":
                p = part_of(ev["id"], n)
                order_part[ev["id"]] = p
            elif kind == "refund":
                p = order_part.get(ev["order"], part_of(ev["id"], n))
            else:
                p = 0
            outs[p].write(line)
    for o in outs:
        o.close()


if __name__ == "__main__":
    main(sys.argv)
