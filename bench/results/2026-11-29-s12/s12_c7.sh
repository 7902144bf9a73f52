#!/usr/bin/env bash
# session 12 call 7: the refused-configuration tests after a test-only refactor (small_asymmetric_plan)
set -u
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
OMP_NUM_THREADS=4 timeout 60 /tmp/bin/adamas_cuda_tests --gtest_filter='AsymmetricPartTest.*:DeviceCalibrationTest.*:KernelVariantsTest.*' 2>&1 | tail -15 | tee $OUT/tests_c7.log
