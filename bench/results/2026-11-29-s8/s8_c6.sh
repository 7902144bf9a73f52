#!/usr/bin/env bash
# session 8 call 6: the whole GPU suite with the cluster step (auto default), then memcheck over every kernel family
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
mkdir -p /tmp/o
PARTS=tests LIMIT=300 bash bench/run_gpu_checks.sh /tmp/bin /tmp/o/checks 16
el suite
grep -h "^\[  FAILED  \]" /tmp/o/checks/tests_*.log | sort -u | head -20
grep -h -B3 -A10 "Failure" /tmp/o/checks/tests_*.log | head -50
PARTS=memcheck LIMIT=200 bash bench/run_gpu_checks.sh /tmp/bin /tmp/o/checks 16
el memcheck
grep -h "ERROR SUMMARY\|FAILED  \]" /tmp/o/checks/memcheck_*.log | sort | uniq -c | head
grep -h -B2 -A12 "Invalid\|Error:" /tmp/o/checks/memcheck_*.log | head -40
tar czf $OUT/c6.tgz -C /tmp/o .
