#!/usr/bin/env bash
# GPU machine: the freshly trained bundled model (scripts/device/train_start.sh). Picks the candidate on
# validation data (pick_model.sh), checks parity with transformers (GPU, fp32) for our CUDA and CPU
# runtimes, and runs the evaluation grid (scripts/eval_grid.sh, KIND=tiny): calib, ppl, passkey on the
# GPU here, the CPU-only ablation rows and recall in the background (collected from /tmp/res_tiny later).
# Returns the chosen model's shards and a tarball of everything else.
# usage: scripts/device/tiny_suite.sh BIN_DIR OUT_DIR
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=$(readlink -f "$1"); OUT=$2; mkdir -p "$OUT"
export LD_LIBRARY_PATH=$BIN:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
for tag in A B; do tail -n 4 /tmp/train_$tag.log; done
M=/tmp/tiny_model; mkdir -p /tmp/tiny_meta
chosen=$(bash scripts/device/pick_model.sh $BIN/adamas /tmp/tiny_meta) || { el "no model"; exit 1; }
el "chosen $chosen"; cat /tmp/tiny_meta/pick.json
rm -rf $M; cp -r $chosen $M
cp models/adamas-tiny-8k/tokenizer.model models/adamas-tiny-8k/tokenizer.vocab $M/
W=/tmp/evalwork_tiny; rm -rf $W; mkdir -p $W; cp -r scripts data $W/
RES=/tmp/res_tiny; mkdir -p $RES
el "== HF parity (ours cuda, GPU transformers fp32, 8192 tokens)"
timeout 90 python3 scripts/hf_parity.py --adamas $BIN/adamas --model $M --tokens 8192 --device cuda \
  --json $OUT/hf_parity_cuda.json > $OUT/hf_parity_cuda.log 2>&1; el "exit $?"; grep -E "PASS|FAIL" $OUT/hf_parity_cuda.log
el "== evals: calib on the GPU first (the ablation/recall rows need its choice)"
cd $W && KIND=tiny MODEL=$M ADAMAS=$BIN/adamas OUT_DIR=$RES DEVICE=cuda GPU_PAR=${GPU_PAR:-8} \
  timeout 120 bash scripts/eval_grid.sh calib > $OUT/eval_calib.log 2>&1; el "calib exit $?"
KIND=tiny MODEL=$M ADAMAS=$BIN/adamas OUT_DIR=$RES CPU_PAR=${CPU_PAR:-9} DEVICE=cuda \
  ABLATION_PART=cpu setsid nohup bash $W/scripts/eval_grid.sh ablation recall > /tmp/tiny_bg.log 2>&1 < /dev/null &
if [[ "${PASSKEY_ABLATION_PAR:-0}" -gt 0 ]]; then
  KIND=tiny MODEL=$M ADAMAS=$BIN/adamas OUT_DIR=$RES CPU_PAR=$PASSKEY_ABLATION_PAR DEVICE=cuda \
    setsid nohup bash $W/scripts/eval_grid.sh passkey_ablation > /tmp/tiny_bg_passkey.log 2>&1 < /dev/null &
fi
KIND=tiny MODEL=$M ADAMAS=$BIN/adamas OUT_DIR=$RES DEVICE=cuda GPU_PAR=${GPU_PAR:-8} \
  ABLATION_PART=gpu timeout ${EVAL_SECONDS:-300} bash scripts/eval_grid.sh ppl ablation passkey > $OUT/eval_gpu.log 2>&1; el "evals exit $?"
cd - > /dev/null; tail -5 $OUT/eval_gpu.log
el "== HF parity (ours cpu)"
timeout ${CPU_PARITY_SECONDS:-60} python3 scripts/hf_parity.py --adamas $BIN/adamas --model $M --tokens 8192 --device cpu --threads 6 \
  --modes prefill --json $OUT/hf_parity_cpu.json > $OUT/hf_parity_cpu.log 2>&1; el "exit $?"; grep -E "PASS|FAIL" $OUT/hf_parity_cpu.log
for f in $M/model-0000*.safetensors; do cp $f $OUT/; done
tar cJf $OUT/tiny_rest.tar.xz -C /tmp tiny_model/config.json tiny_model/model.safetensors.index.json tiny_model/eval.json \
  tiny_model/loss_curve.csv tiny_model/train_log.txt tiny_meta res_tiny tiny_bg.log tiny_bg_passkey.log train_A.log train_B.log \
  tiny_A/loss_curve.csv tiny_B/loss_curve.csv tiny_A/eval.json tiny_B/eval.json 2>/dev/null
el "done"
