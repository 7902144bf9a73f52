#!/usr/bin/env bash
# session 22 call 6 (nvidia-h200), the library as committed (the binary of call 5): the end-to-end sweep
# (both shapes, batch 1/4/16, contexts 8K/32K/128K, full and adamas at budgets 64/256/1024) and the
# decoder tests, by bench/run_e2e_suite.sh. The bundled model did not travel (the carry's size), so the
# suite's perplexity part reports an error.
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
mkdir -p /tmp/o/e2e
export CUDA_VISIBLE_DEVICES=0
bash bench/run_e2e_suite.sh /tmp/bin /tmp/o/e2e > /tmp/o/suite.log 2>&1
tail -30 /tmp/o/suite.log
tar czf $OUT/c6.tgz -C /tmp/o .
