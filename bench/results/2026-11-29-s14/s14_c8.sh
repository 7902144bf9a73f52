#!/usr/bin/env bash
# session 14 call 8: compute-sanitizer memcheck and racecheck over the suite's sanitizer sets
# (bench/run_gpu_checks.sh), final library (d816613: page divisor, thermometer L1, streaming loads)
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
O=/tmp/o; mkdir -p $O
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
PARTS="memcheck racecheck" LIMIT=230 bash bench/run_gpu_checks.sh /tmp/bin $O/checks 14 2>&1 | tail -3
grep -h "ERROR SUMMARY" $O/checks/*.log | sort | uniq -c
grep -h "^\[  FAILED  \]" $O/checks/*.log | sort -u | head
tar czf $OUT/c8.tgz -C $O .
