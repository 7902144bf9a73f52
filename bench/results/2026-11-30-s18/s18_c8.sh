#!/usr/bin/env bash
# session 18 call 8 (nvidia-h200): bench/probes/scan_probe.cu with the bit-plane L1 variants, built on
# the dev machine (nvcc -O3 -std=c++20 -arch=sm_90a -o scan_probe bench/probes/scan_probe.cu) and
# carried as .cuda-run/scan_probe
mkdir -p $OUT && .cuda-run/scan_probe 16 > $OUT/scan_probe_planes.jsonl 2>&1
