#!/usr/bin/env bash
# Session 35, call 5. fin = main's kernels at 6339dcb (stage_row reordered); bench/sdpa_baseline.py with
# FlashInfer (0.7.0.post1, carried as wheels, its decode kernel built by its JIT here). The table of
# record, the GPU suite, compute-sanitizer over the steps, Llama-3-8B end to end.
set -u
source bench/device_ab_lib.sh
ab_setup c5
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
export CUDA_HOME=/usr/local/cuda FLASHINFER_CUDA_ARCH_LIST=9.0a FLASHINFER_WORKSPACE_BASE=/tmp/fiws MAX_JOBS=16
timeout 240 python3 bench/sdpa_baseline.py --flashinfer-smoke 2>&1 | tail -4 | tee $O/flashinfer_smoke.txt
el smoke
run_as fin env ADAMAS_COMMIT=${COMMIT:-0ec38d4} ITERS=50 timeout 300 bash bench/run_gpu_bench.sh /tmp/fin $O/table > $O/table.log 2>&1; tail -2 $O/table.log
grep "| 1 | 32/32 \|| 1 | 32/8 \|| 8 | 32/" $O/table/gpu_bench_*.md | head -24
el table
tar czf $OUT/c5_partial.tgz -C $O .
ab_sanitize fin 2>&1 | tee $O/sanitize_fin.txt
el sanitize
PARTS=tests LIMIT=200 bash bench/run_gpu_checks.sh /tmp/fin $O/checks 16 2>&1 | tee $O/checks.log | tail -3
el suite
for c in 32768 131072; do [ $(( $(date +%s) - AB_T0 )) -lt 540 ] && ab_e2e fin $c llama3-8b; done 2>&1 | tee $O/e2e.txt
el e2e
