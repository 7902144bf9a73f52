#!/usr/bin/env python3
"""Where the grid step's scan ends late: a summary of ADAMAS_STEP_TRACE_FILE's per-block stamps.

usage: bench/stamps_summary.py STAMPS.csv [--launch N]

The CSV (src/cuda/block_stamps.cuh, write_stamps_csv) holds one or more traced launches.
- Each launch opens with a "# grid step: ..." comment and a header.
- Then one line per block: row, rank, sm, and the trace points in us from the first block's start.
- The last launch is read unless --launch picks another (0 is the first).

The summary prints, for the scan (points "scan starts" and "scan ends"):
- the spread of its end over the blocks;
- how much of a late end comes from a late start and how much from a long scan;
- the ends by rank, and by how many of the launch's blocks share the block's multiprocessor;
- the two blocks of one multiprocessor: how much later the second starts and ends;
- the blocks placed first on their multiprocessor (launch order) against those placed second, and the
  rows that end last;
- the slowest blocks.

With --chain it prints instead the chain after the scan that sets the step's end: for each row, the
phases of its last block to end its scan (the row's others wait for its histogram), and the merge by
the row's merging block, as median and maximum over the rows.

Stdlib only: it runs on the GPU machine and here.
"""
import argparse
import statistics
import sys
from collections import defaultdict


def read_launches(path):
    """The launches in the file: a list of (label, rows), each row a dict of the CSV's fields."""
    launches = []
    header = None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("#"):
                launches.append((line[1:].strip(), []))
                header = None
            elif header is None:
                header = line.split(",")
            else:
                if not launches:
                    raise ValueError(f"{path}: a block line before any launch's comment")
                values = line.split(",")
                if len(values) != len(header):
                    raise ValueError(f"{path}: {len(values)} fields where the header has {len(header)}: {line}")
                row = {}
                for name, value in zip(header, values):
                    if name in ("row", "rank", "sm"):
                        row[name] = int(value)
                    else:
                        row[name] = float(value) if value else None
                launches[-1][1].append(row)
    return launches


def quantiles(values):
    """The median, 90th percentile and maximum, as the C++ trace prints them (index-based)."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2], ordered[len(ordered) * 9 // 10], ordered[-1]


def correlation(xs, ys):
    """Pearson's r; 0 where either side does not vary."""
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / (sxx * syy) ** 0.5


def summarize(label, blocks, out=sys.stdout):
    scanned = [b for b in blocks if b.get("scan starts") is not None and b.get("scan ends") is not None]
    if not scanned:
        print(f"{label}: no block stamped both scan points", file=out)
        return
    starts = [b["scan starts"] for b in scanned]
    ends = [b["scan ends"] for b in scanned]
    lengths = [e - s for s, e in zip(starts, ends)]
    print(f"{label}: {len(scanned)} blocks that scanned", file=out)
    for name, values in (("scan starts", starts), ("scan ends", ends), ("scan length", lengths)):
        median, p90, top = quantiles(values)
        print(f"  {name:<12} median {median:7.2f}  p90 {p90:7.2f}  max {top:7.2f}  (us)", file=out)
    median_end = quantiles(ends)[0]
    late = [b for b in scanned if b["scan ends"] > median_end]
    if late:
        start_share = statistics.fmean(b["scan starts"] for b in late) - statistics.fmean(starts)
        length_share = statistics.fmean(b["scan ends"] - b["scan starts"] for b in late) - statistics.fmean(lengths)
        print(f"  blocks ending after the median: {len(late)}; against all, they start {start_share:+.2f} us "
              f"later and scan {length_share:+.2f} us longer", file=out)
    print(f"  correlation of the end with the start {correlation(starts, ends):+.2f}, "
          f"with the scan's length {correlation(lengths, ends):+.2f}", file=out)

    by_rank = defaultdict(list)
    for b in scanned:
        by_rank[b["rank"]].append(b["scan ends"])
    print("  scan ends by rank (median / max):", file=out)
    for rank in sorted(by_rank):
        median, _, top = quantiles(by_rank[rank])
        print(f"    rank {rank:2d}: {median:7.2f} / {top:7.2f}  ({len(by_rank[rank])} blocks)", file=out)

    by_sm = defaultdict(list)
    for b in blocks:
        by_sm[b["sm"]].append(b)
    sharing = defaultdict(list)
    for b in scanned:
        sharing[len(by_sm[b["sm"]])].append(b)
    print("  by blocks on the multiprocessor (scan starts / length / ends, medians):", file=out)
    for count in sorted(sharing):
        group = sharing[count]
        print(f"    {count} a SM: {len(group)} blocks, {statistics.median(b['scan starts'] for b in group):6.2f} / "
              f"{statistics.median(b['scan ends'] - b['scan starts'] for b in group):6.2f} / "
              f"{statistics.median(b['scan ends'] for b in group):6.2f}", file=out)

    # Blocks are placed breadth first in launch order (blockIdx.x fastest: a row's ranks, then the
    # next row), so with two blocks a multiprocessor the first `SMs` blocks of the launch are the
    # first on theirs and the rest arrive second: whole rows of the grid (rows >= SMs / ranks).
    ranks = max(b["rank"] for b in blocks) + 1
    sms = len(by_sm)
    waves = defaultdict(list)
    for b in scanned:
        waves[(b["row"] * ranks + b["rank"]) >= sms].append(b)
    if len(waves) == 2:
        print(f"  by launch order ({sms} multiprocessors; scan starts / ends, medians and max):", file=out)
        for second in (False, True):
            group = waves[second]
            print(f"    {'after the first ' + str(sms) if second else 'the first ' + str(sms)} blocks: "
                  f"{len(group)}, {statistics.median(b['scan starts'] for b in group):6.2f} / "
                  f"{statistics.median(b['scan ends'] for b in group):6.2f}, max "
                  f"{max(b['scan ends'] for b in group):6.2f}", file=out)
    row_end = defaultdict(float)
    for b in scanned:
        row_end[b["row"]] = max(row_end[b["row"]], b["scan ends"])
    latest = sorted(row_end.items(), key=lambda item: item[1], reverse=True)
    print("  rows whose last scan ends latest (row: end): " +
          ", ".join(f"{row}: {end:.2f}" for row, end in latest[:8]), file=out)

    pairs = [sorted(group, key=lambda b: b["scan starts"]) for group in by_sm.values()
             if len(group) == 2 and all(b in scanned for b in group)]
    if pairs:
        start_gap = [second["scan starts"] - first["scan starts"] for first, second in pairs]
        end_gap = [second["scan ends"] - first["scan ends"] for first, second in pairs]
        print(f"  pairs on one SM ({len(pairs)}): the later-starting block starts "
              f"{statistics.median(start_gap):.2f} us later (median) and ends {statistics.median(end_gap):+.2f} us "
              f"after the other (median; max {max(end_gap):+.2f})", file=out)

    print("  the 8 latest scan ends (row, rank, sm: start, length, end):", file=out)
    for b in sorted(scanned, key=lambda b: b["scan ends"], reverse=True)[:8]:
        print(f"    {b['row']:3d} {b['rank']:2d} {b['sm']:3d}: {b['scan starts']:6.2f} "
              f"{b['scan ends'] - b['scan starts']:6.2f} {b['scan ends']:6.2f}", file=out)


# The trace points after the scan, in the order a block passes them (step_phases.cuh, kTraceNames).
CHAIN_POINTS = ("scan ends", "row met", "threshold", "share", "lists", "attended", "partials in")


def summarize_chain(label, blocks, out=sys.stdout):
    rows = defaultdict(list)
    for b in blocks:
        if b.get("scan ends") is not None:
            rows[b["row"]].append(b)
    if not rows:
        print(f"{label}: no block stamped its scan's end", file=out)
        return
    phases = defaultdict(list)
    for row_blocks in rows.values():
        last = max(row_blocks, key=lambda b: b["scan ends"])
        points = [p for p in CHAIN_POINTS if last.get(p) is not None]
        for before, after in zip(points, points[1:]):
            phases[f"{before} -> {after}"].append(last[after] - last[before])
        merging = [b for b in row_blocks if b.get("merged") is not None]
        if merging and merging[0].get("partials in") is not None:
            phases["partials in -> merged (merging block)"].append(merging[0]["merged"] - merging[0]["partials in"])
            phases["last scan end -> merged"].append(merging[0]["merged"] - last["scan ends"])
    print(f"{label}: {len(rows)} rows; each row's last block to end its scan, then its merging block "
          "(us, median / max over the rows)", file=out)
    for name, values in phases.items():
        print(f"  {name:40s} {statistics.median(values):6.2f} {max(values):6.2f}", file=out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("--launch", type=int, default=-1, help="which traced launch (default: the last)")
    parser.add_argument("--chain", action="store_true", help="the rows' chain after the scan instead")
    args = parser.parse_args()
    try:
        launches = read_launches(args.csv)
    except (OSError, ValueError) as error:
        sys.exit(f"stamps_summary.py: {error}")
    if not launches:
        sys.exit(f"stamps_summary.py: {args.csv} holds no traced launch")
    if not -len(launches) <= args.launch < len(launches):
        sys.exit(f"stamps_summary.py: --launch {args.launch}, but {args.csv} holds {len(launches)} launches")
    label, blocks = launches[args.launch]
    (summarize_chain if args.chain else summarize)(label, blocks)


if __name__ == "__main__":
    main()
