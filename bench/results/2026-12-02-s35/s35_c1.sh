set -x
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv
nvcc -O3 -arch=sm_90a -o /tmp/icache bench/results/2026-12-02-s35/icache_probe.cu && /tmp/icache 2>&1 | tee $OUT/icache.txt
