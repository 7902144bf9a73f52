#!/usr/bin/env bash
# session 19 call 2 (nvidia-h200): bench/probes/l2_warm_probe.cu -- is the o product faster from L2,
# and do bulk L2 prefetches land?
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
nvcc -O3 -std=c++20 -gencode=arch=compute_90a,code=sm_90a -I include -I src -o /tmp/l2probe bench/probes/l2_warm_probe.cu -L /tmp/bin -ladamas
/tmp/l2probe | tee $OUT/l2_warm_probe_c2.jsonl
