#!/usr/bin/env bash
# session 14 call 2: the scan probe (bench/probes/scan_probe.cu), fixed spans, with barrier variants
set -u
O=/tmp/o; mkdir -p $O
nvcc -O3 -std=c++20 -arch=sm_90a -o /tmp/scan_probe bench/probes/scan_probe.cu || exit 1
/tmp/scan_probe 16 | tee $O/probe_c2.jsonl
cp $O/probe_c2.jsonl $OUT/
