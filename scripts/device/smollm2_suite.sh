#!/usr/bin/env bash
# GPU machine: SmolLM2-135M-Instruct (Q4_1 GGUF) on the H200. The GGUF (94 MiB) is larger than what one
# call may carry, so earlier calls leave its pieces in /tmp/gguf_parts (split -b 49000000, sha256 beside).
# Runs: generate on CUDA and CPU; parity with transformers (GGUF loaded by transformers + gguf on the GPU,
# fp32, no TF32) for our CUDA and CPU runtimes; the evaluation grid (scripts/eval_grid.sh, KIND=smollm2):
# ppl and passkey on the GPU here, the CPU-only ablation rows and recall in the background (setsid),
# collected by a later call from /tmp/res_smollm2.
# usage: scripts/device/smollm2_suite.sh BIN_DIR OUT_DIR     (BIN_DIR: unpacked .cuda-run/bin.tar.xz)
# SEED=1 copies the results already in docs/results_smollm2 into the result directory first, so the grid
# runs only what is missing. The suite copies what it reads to /tmp/smolwork first, so it may run in
# the background (setsid) while later calls replace the working tree.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=$(readlink -f "$1"); OUT=$2; mkdir -p "$OUT"
if [[ "$(pwd)" != /tmp/smolwork ]]; then
  rm -rf /tmp/smolwork; mkdir -p /tmp/smolwork
  cp -r scripts data docs .whl /tmp/smolwork/ 2>/dev/null
  cd /tmp/smolwork
fi
export LD_LIBRARY_PATH=$BIN:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
G=/tmp/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
mkdir -p /tmp/smollm2
[[ -s $G ]] || cat /tmp/gguf_parts/part0* > $G
(cd /tmp/smollm2 && echo "$(cut -d' ' -f1 /tmp/gguf_parts/sha256)  $(basename $G)" | sha256sum -c) || { el "GGUF checksum failed"; exit 1; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site
# A private copy of the scripts and texts: background runs must not read files the next call replaces.
W=/tmp/evalwork; rm -rf $W; mkdir -p $W; cp -r scripts data $W/
RES=/tmp/res_smollm2; mkdir -p $RES
if [[ "${SEED:-0}" == 1 ]]; then
  D=docs/results_smollm2
  for b in austen_persuasion austen_northanger_abbey; do
    mkdir -p $RES/ppl/$b; cp -n $D/ppl8k/$b/* $RES/ppl/$b/ 2>/dev/null
  done
  mkdir -p $RES/ablation/austen_persuasion $RES/passkey
  cp -n $D/ablation8k/* $RES/ablation/austen_persuasion/
  cp -n $D/passkey/len4096_paper.csv $RES/passkey/
  mkdir -p $RES/recall
  for f in json csv; do
    cp -n $D/recall/paper.$f $RES/recall/paper.$f; cp -n $D/recall/calibrated.$f $RES/recall/cal.$f
    cp -n $D/recall/calasym.$f $RES/recall/asymmetric.$f
  done
fi
if [[ "${BACKGROUND_CPU:-1}" == 1 ]]; then
  # CPU-only rows in the background: the ablation's and recall's (BG_BOOKS), and the passkey ablation.
  KIND=smollm2 MODEL=$G ADAMAS=$BIN/adamas OUT_DIR=$RES CPU_PAR=${CPU_PAR:-9} DEVICE=cuda BOOKS="${BG_BOOKS:-austen_persuasion austen_northanger_abbey}" \
    ABLATION_PART=cpu setsid nohup bash $W/scripts/eval_grid.sh ablation recall > /tmp/smollm2_bg.log 2>&1 < /dev/null &
  if [[ "${PASSKEY_ABLATION_PAR:-0}" -gt 0 ]]; then
    KIND=smollm2 MODEL=$G ADAMAS=$BIN/adamas OUT_DIR=$RES CPU_PAR=$PASSKEY_ABLATION_PAR DEVICE=cuda \
      setsid nohup bash $W/scripts/eval_grid.sh passkey_ablation > /tmp/smollm2_bg_passkey.log 2>&1 < /dev/null &
  fi
fi
el "== generate"
P="The old house at the end of the lane had been empty for years, until one autumn morning"
timeout 60 $BIN/adamas generate --model $G --device cuda --prompt "$P" --max-new 80 --no-progress > $OUT/generate_cuda.txt 2>&1; el "cuda exit $?"
timeout 60 $BIN/adamas generate --model $G --device cpu --threads 4 --prompt "$P" --max-new 80 --no-progress > $OUT/generate_cpu.txt 2>&1; el "cpu exit $?"
cat $OUT/generate_cuda.txt | head -c 1500; echo
el "== parity (ours cuda vs transformers on the GPU)"
timeout 120 python3 scripts/gguf_parity.py --adamas $BIN/adamas --gguf $G --tokens 4096 --threads 4 --device cuda \
  --json $OUT/gguf_parity_cuda.json > $OUT/gguf_parity_cuda.log 2>&1; el "exit $?"; grep -E "PASS|FAIL|rel err" $OUT/gguf_parity_cuda.log | head -4
el "== evals on the GPU"
cd $W && KIND=smollm2 MODEL=$G ADAMAS=$BIN/adamas OUT_DIR=$RES GPU_PAR=${GPU_PAR:-8} DEVICE=cuda \
  ABLATION_PART=gpu timeout ${EVAL_SECONDS:-330} bash scripts/eval_grid.sh ppl ablation passkey > $OUT/eval_gpu.log 2>&1; el "evals exit $?"; cd - > /dev/null
tail -5 $OUT/eval_gpu.log
[[ "${CPU_PARITY_SECONDS:-90}" -gt 0 ]] || { tar cJf $OUT/res_smollm2.tar.xz -C /tmp res_smollm2; el "done"; exit 0; }
el "== parity (ours cpu vs transformers on the GPU)"
timeout ${CPU_PARITY_SECONDS:-90} python3 scripts/gguf_parity.py --adamas $BIN/adamas --gguf $G --tokens 4096 --threads 6 --device cpu \
  --modes prefill --json $OUT/gguf_parity_cpu.json > $OUT/gguf_parity_cpu.log 2>&1; el "exit $?"; grep -E "PASS|FAIL|rel err" $OUT/gguf_parity_cpu.log | head -4
tail -3 /tmp/smollm2_bg.log
tar cJf $OUT/res_smollm2.tar.xz -C /tmp res_smollm2 smollm2_bg.log smollm2_bg_passkey.log 2>/dev/null
el "done"
