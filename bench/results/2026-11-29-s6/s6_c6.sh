#!/usr/bin/env bash
# session 6 call 6 (final build): the whole GPU suite, compute-sanitizer memcheck and racecheck parts
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
PARTS=tests LIMIT=285 bash bench/run_gpu_checks.sh /tmp/bin /tmp/checks 16
PARTS=memcheck LIMIT=165 bash bench/run_gpu_checks.sh /tmp/bin /tmp/checks 16
PARTS=racecheck LIMIT=85 bash bench/run_gpu_checks.sh /tmp/bin /tmp/checks 16
grep -h -B3 -A15 "Failure" /tmp/checks/tests_*.log | head -40
grep -h "ERROR SUMMARY\|RACECHECK SUMMARY" /tmp/checks/memcheck_*.log /tmp/checks/racecheck_*.log | sort | uniq -c
grep -L "ERROR SUMMARY\|RACECHECK SUMMARY\|PASSED" /tmp/checks/memcheck_*.log /tmp/checks/racecheck_*.log | head
(cd /tmp/checks && tar czf $OUT/checks.tgz .)
el done
