#!/usr/bin/env python3
"""Stall samples of one kernel by phase, from Nsight Compute's per-instruction source page.

The one-launch steps (grid_step.cu, adamas_step.cu) stamp their phases with %globaltimer reads
(step::PhaseStamps::mark, compiled in and skipped unless ADAMAS_STEP_TRACE is set). In the SASS
those reads mark where each phase's code begins, so the instructions between two of them are one
phase's code (as laid out by the compiler, which keeps source order for straight-line phases).

Usage:
  ncu --clock-control none --kernel-name regex:grid_step --launch-skip 2 --launch-count 1 \\
      --set full -o REPORT adamas_cuda_bench ...
  ncu --import REPORT.ncu-rep --page source --csv --print-source sass > sass.csv
  scripts/ncu_phase_stalls.py sass.csv [sass.csv.xz ...]

Prints, for each phase (segment between marks), its instruction count, its stall samples and the
main stall reasons ("no_inst": the warp waited for its instructions to be fetched;
bench/results/2026-11-30-s23 section 2).
"""
import csv
import lzma
import sys

REASONS = ["stall_barrier", "stall_no_inst", "stall_imc", "stall_long_sb", "stall_short_sb", "stall_wait",
           "stall_math", "stall_selected", "stall_not_selected", "stall_branch_resolving", "stall_dispatch",
           "stall_membar", "stall_lg", "stall_mio"]


def read_rows(path):
    opener = lzma.open if path.endswith(".xz") else open
    with opener(path, "rt", newline="") as f:
        rows = list(csv.reader(f))
    # The first row names the kernel; the second is the header.
    header = next(i for i, r in enumerate(rows) if r and r[0] == "Address")
    return rows[header - 1] if header else [], rows[header], rows[header + 1:]


def number(text):
    try:
        return int(float(text or 0))
    except ValueError:
        return 0


def summarize(path):
    kernel, header, data = read_rows(path)
    column = {name: i for i, name in enumerate(header)}
    for needed in ["Source", "Warp Stall Sampling (All Samples)"]:
        if needed not in column:
            sys.exit(f"{path}: no '{needed}' column (run ncu with --set full and --print-source sass)")
    reasons = [r for r in REASONS if r in column]
    marks = [k for k, row in enumerate(data) if "GLOBALTIMER" in row[column["Source"]]]
    bounds = [0] + marks + [len(data)]
    print(f"{path}: {' '.join(kernel[1:2])}")
    print(f"  {len(data)} instructions, {len(marks)} phase marks")
    total = 0
    for index, (begin, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        samples = sum(number(data[k][column["Warp Stall Sampling (All Samples)"]]) for k in range(begin, end))
        total += samples
        by_reason = {r: sum(number(data[k][column[r]]) for k in range(begin, end)) for r in reasons}
        top = sorted(((v, r) for r, v in by_reason.items() if v > 0), reverse=True)[:5]
        label = "entry" if index == 0 else f"after mark {index - 1}"
        print(f"  {label:14s} {end - begin:5d} instr {samples:6d} samples  " +
              " ".join(f"{r[6:]}={v}" for v, r in top))
    print(f"  total {total} samples")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for argument in sys.argv[1:]:
        summarize(argument)
