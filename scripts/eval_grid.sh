#!/usr/bin/env bash
# The evaluation grid of docs/results.md (bundled model) and docs/results_smollm2.md (SmolLM2), run with
# `adamas jobs` (many runs in one process: GPU runs overlap on their own streams, CPU runs take one
# core each) and `adamas sweep --task passkey` (one prefill per prompt, every policy decoded from it).
# Every run writes one JSON (ppl: plus a CSV curve) under $OUT_DIR; finished runs are skipped, so the
# script resumes.
#
# Usage: scripts/eval_grid.sh STAGE...     stages: calib ppl ablation passkey recall   (default: all)
#   calib     (tiny only) L1 calibration quantiles chosen on validation text (SOTU), never on the books
#   ppl       PG19-protocol perplexity, PPL_TOKENS tokens of each held-out book, every policy x budget
#   ablation  issue 8: Hadamard on/off, 1/2/3-bit codes, L1/L2/Hamming/asymmetric at budgets 64 and 256
#   passkey   passkey retrieval, PASSKEY_TRIALS trials x 5 depths at each of PASSKEY_LENGTHS
#   passkey_ablation  issue 8: the same passkey prompts at the first of PASSKEY_LENGTHS for the study's
#             selector options (no Hadamard, 1/3-bit, L2, Hamming), one sweep per option on $DEVICE
#             (cuda: PASSKEY_ABLATION_PAR sweeps at a time; cpu: CPU_PAR / 2 sweeps of 2 threads each)
#   recall    attention mass and oracle recall per layer and KV head, budgets 16..1024
# Environment:
#   KIND        tiny | smollm2                      (default tiny)
#   MODEL       checkpoint dir or .gguf             (default models/adamas-tiny-8k; smollm2: the fetch cache)
#   ADAMAS      CLI binary                          (default build/adamas)
#   DEVICE      cuda | cpu for the supported runs   (default cuda)
#   GPU_PAR     concurrent GPU runs                 (default 8)
#   CPU_PAR     concurrent CPU runs (1 thread each) (default: cores - 2)
#   OUT_DIR     results                             (default docs/results or docs/results_smollm2)
#   PPL_TOKENS  tokens per book                     (default 8192)
#   BUDGETS     (default "16 32 64 128 256 512 1024")
#   PASSKEY_LENGTHS, PASSKEY_TRIALS                 (tiny: "8192 16384"; smollm2: "4096 8192"; 20 trials)
#   PASSKEY_SWEEPS  which selector sweeps           (default "paper cal asym")
set -euo pipefail
cd "$(dirname "$0")/.."

KIND="${KIND:-tiny}"
ADAMAS="${ADAMAS:-build/adamas}"
DEVICE="${DEVICE:-cuda}"
GPU_PAR="${GPU_PAR:-8}"
CPU_PAR="${CPU_PAR:-$(( $(nproc) > 3 ? $(nproc) - 2 : 1 ))}"
PPL_TOKENS="${PPL_TOKENS:-8192}"
BUDGETS="${BUDGETS:-16 32 64 128 256 512 1024}"
PASSKEY_TRIALS="${PASSKEY_TRIALS:-20}"
PAPER="-10,0,10"
VALID=data/validation/sotu_validation.txt
BOOKS="${BOOKS:-austen_persuasion austen_northanger_abbey}"
if [[ "$KIND" == tiny ]]; then
  MODEL="${MODEL:-models/adamas-tiny-8k}"
  OUT_DIR="${OUT_DIR:-docs/results}"
  CAL_AFTER=512                      # the code books are fitted once 512 prompt tokens are cached
  PASSKEY_LENGTHS="${PASSKEY_LENGTHS:-8192 16384}"
  CAL_Q_ASYM="0.25,0.5,0.75"
else
  MODEL="${MODEL:-${ADAMAS_SMOLLM2_CACHE:-$HOME/.cache/adamas/smollm2}/SmolLM2-135M-Instruct.Q4_1.gguf}"
  OUT_DIR="${OUT_DIR:-docs/results_smollm2}"
  CAL_AFTER=128
  PASSKEY_LENGTHS="${PASSKEY_LENGTHS:-4096 8192}"
  CAL_Q_ASYM="0.1,0.5,0.9"           # chosen on validation text in the first SmolLM2 study
fi
COMMON="--model $MODEL --no-progress"
[[ "$KIND" == smollm2 ]] && COMMON="$COMMON --weights bf16"

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

gpu_jobs=$(mktemp); cpu_jobs=$(mktemp)
trap 'rm -f "$gpu_jobs" "$cpu_jobs"' EXIT
# job WHERE NAME SUBCOMMAND ARGS... : queue one run (WHERE: gpu = $DEVICE, cpu = CPU-only options).
job() {
  local where="$1" name="$2"; shift 2
  [[ -s "$name.json" ]] && return 0
  mkdir -p "$(dirname "$name")"
  if [[ "$where" == gpu ]]; then
    echo "$* --device $DEVICE --out $name.json" >> "$gpu_jobs"
  else
    echo "$* --device cpu --threads 1 --out $name.json" >> "$cpu_jobs"
  fi
}
# ppl WHERE NAME TEXT TOKENS ARGS... : PG19-protocol perplexity, cumulative curve every 16 tokens.
ppl() {
  local where="$1" name="$2" text="$3" tokens="$4"; shift 4
  job "$where" "$name" ppl $COMMON --text "$text" --max-tokens "$tokens" --csv "$name.csv" --csv-every 16 "$@"
}
run_queued() {
  local pids=() rc=0
  if [[ -s "$gpu_jobs" ]]; then
    log "$(wc -l < "$gpu_jobs") $DEVICE run(s), $GPU_PAR at a time"
    "$ADAMAS" jobs --file "$gpu_jobs" --parallel "$GPU_PAR" & pids+=($!)
  fi
  if [[ -s "$cpu_jobs" ]]; then
    log "$(wc -l < "$cpu_jobs") cpu run(s), $CPU_PAR at a time"
    "$ADAMAS" jobs --file "$cpu_jobs" --parallel "$CPU_PAR" --threads-per-job 1 & pids+=($!)
  fi
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  : > "$gpu_jobs"; : > "$cpu_jobs"
  [[ $rc -eq 0 ]] || log "some runs failed (see above)"
}

cal_q() {
  if [[ "$KIND" == smollm2 ]]; then echo "0.25,0.5,0.75"; return; fi
  cat "$OUT_DIR/calib/choice.txt" 2>/dev/null || echo "0.25,0.5,0.75"
}

stage_calib() {
  [[ "$KIND" == tiny ]] || { log "calib: SmolLM2 keeps the quantiles its first study chose on validation text"; return; }
  local d="$OUT_DIR/calib" n="${CALIB_TOKENS:-4096}"
  ppl gpu "$d/full" $VALID $n --policy full
  for b in 64 256; do
    ppl gpu "$d/oracle_b$b" $VALID $n --policy oracle --budget $b
    ppl gpu "$d/quest_b$b" $VALID $n --policy quest --budget $b
    ppl gpu "$d/adamas_paper_b$b" $VALID $n --policy adamas --budget $b --thresholds=$PAPER
    for q in 0.25,0.5,0.75 0.1,0.5,0.9 0.02,0.5,0.98; do
      ppl gpu "$d/adamas_q${q//,/_}_b$b" $VALID $n --policy adamas --budget $b --calibrate-after $CAL_AFTER \
        --calibration-quantiles $q
    done
    # The estimators at the same 2 bits, for the choice of the default estimator.
    ppl gpu "$d/adamas_asymmetric_b$b" $VALID $n --policy adamas --budget $b --estimator asymmetric \
      --calibrate-after $CAL_AFTER --calibration-quantiles 0.25,0.5,0.75
    for e in l2 hamming; do
      ppl gpu "$d/adamas_${e}_b$b" $VALID $n --policy adamas --budget $b --estimator $e --calibrate-after $CAL_AFTER \
        --calibration-quantiles 0.25,0.5,0.75
    done
  done
  run_queued
  # The rule: the quantiles whose perplexity is closest to full attention's (mean |log ppl - log ppl_full|
  # over budgets 64 and 256), not the lowest: a selector that goes below full attention has changed the
  # model's computation rather than approximated it.
  python3 scripts/choose_quantiles.py "$d" > "$d/choice.txt"
  log "calibration quantiles chosen on validation: $(cat "$d/choice.txt")"
}

stage_ppl() {
  local q; q="$(cal_q)"
  for book in $BOOKS; do
    local d="$OUT_DIR/ppl/$book" text="data/heldout/$book.txt"
    ppl gpu "$d/full" "$text" "$PPL_TOKENS" --policy full
    for b in $BUDGETS; do
      ppl gpu "$d/streaming_b$b" "$text" "$PPL_TOKENS" --policy streaming --budget $b
      ppl gpu "$d/quest_b$b" "$text" "$PPL_TOKENS" --policy quest --budget $b
      ppl gpu "$d/adamas_paper_b$b" "$text" "$PPL_TOKENS" --policy adamas --budget $b --thresholds=$PAPER
      ppl gpu "$d/adamas_cal_b$b" "$text" "$PPL_TOKENS" --policy adamas --budget $b --calibrate-after $CAL_AFTER \
        --calibration-quantiles "$q"
      ppl gpu "$d/adamas_asym_b$b" "$text" "$PPL_TOKENS" --policy adamas --budget $b --estimator asymmetric \
        --calibrate-after $CAL_AFTER --calibration-quantiles "$CAL_Q_ASYM"
      ppl gpu "$d/oracle_b$b" "$text" "$PPL_TOKENS" --policy oracle --budget $b
    done
  done
  run_queued
}

stage_ablation() {
  # Both books, PPL_TOKENS tokens, budgets 64 and 256: no Hadamard, 1/3-bit codes, L2, Hamming (the
  # CUDA backend runs every code book and estimator since the fourth session); full, quest, oracle,
  # paper and asymmetric rows are the ppl stage's. ABLATION_PART=cpu runs the option rows on the CPU
  # instead (one thread each, CPU_PAR at a time: so a background CPU batch leaves the GPU alone),
  # ABLATION_PART=gpu only the equal-mass 2-bit row.
  local cal="--calibrate-after $CAL_AFTER" part="${ABLATION_PART:-all}" where=gpu
  [[ "$part" == cpu ]] && where=cpu
  for book in $BOOKS; do
    local d="$OUT_DIR/ablation/$book" text="data/heldout/$book.txt"
    for b in 64 256; do
      [[ "$part" == cpu ]] || ppl gpu "$d/bits2_eq_b$b" "$text" "$PPL_TOKENS" --policy adamas --budget $b $cal
      [[ "$part" == gpu ]] && continue
      ppl $where "$d/nohad_paper_b$b" "$text" "$PPL_TOKENS" --policy adamas --budget $b --no-hadamard --thresholds=$PAPER
      ppl $where "$d/nohad_cal_b$b" "$text" "$PPL_TOKENS" --policy adamas --budget $b --no-hadamard $cal
      ppl $where "$d/bits1_b$b" "$text" "$PPL_TOKENS" --policy adamas --budget $b --code-bits 1 $cal
      ppl $where "$d/bits3_b$b" "$text" "$PPL_TOKENS" --policy adamas --budget $b --code-bits 3 $cal
      ppl $where "$d/l2_b$b" "$text" "$PPL_TOKENS" --policy adamas --budget $b --estimator l2 $cal
      ppl $where "$d/hamming_b$b" "$text" "$PPL_TOKENS" --policy adamas --budget $b --estimator hamming $cal
    done
  done
  run_queued
}

# One sweep per selector configuration; each prompt is prefilled once and decoded under every
# (policy, budget). Filler: held-out Persuasion (the needle and question are the runtime's format).
stage_passkey() {
  local d="$OUT_DIR/passkey" q; q="$(cal_q)"
  local budgets; budgets="$(echo $BUDGETS | tr ' ' ',')"
  mkdir -p "$d"
  for len in $PASSKEY_LENGTHS; do
    local common="$COMMON --device $DEVICE --task passkey --length $len --trials $PASSKEY_TRIALS --depths 0,25,50,75,100
      --filler data/heldout/austen_persuasion.txt --budgets $budgets"
    local -a runs=("paper:--policies full,streaming,quest,adamas,oracle --thresholds=$PAPER"
                   "cal:--policies adamas --calibrate-after $CAL_AFTER --calibration-quantiles $q"
                   "asym:--policies adamas --estimator asymmetric --calibrate-after $CAL_AFTER --calibration-quantiles $CAL_Q_ASYM")
    for r in "${runs[@]}"; do
      [[ " ${PASSKEY_SWEEPS:-paper cal asym} " == *" ${r%%:*} "* ]] || continue
      local f="$d/len${len}_${r%%:*}.csv"
      [[ -s "$f" ]] && continue
      log "passkey $len ${r%%:*}"
      # shellcheck disable=SC2086
      "$ADAMAS" sweep $common ${r#*:} --csv "$f.partial" --svg "$d/len${len}_${r%%:*}.svg" \
        --title "passkey $KIND $len tokens (${r%%:*})" && mv "$f.partial" "$f" || log "passkey $len ${r%%:*} failed"
    done
  done
}

stage_passkey_ablation() {
  local d="$OUT_DIR/passkey_ablation" len="${PASSKEY_LENGTHS%% *}" cal="--calibrate-after $CAL_AFTER"
  local budgets; budgets="$(echo $BUDGETS | tr ' ' ',')"
  mkdir -p "$d"
  local -a runs=("nohad_paper:--no-hadamard --thresholds=$PAPER" "nohad_cal:--no-hadamard $cal" "bits1:--code-bits 1 $cal"
                 "bits3:--code-bits 3 $cal" "l2:--estimator l2 $cal" "hamming:--estimator hamming $cal")
  # On the GPU (DEVICE=cuda) PASSKEY_ABLATION_PAR sweeps share it (default 3); on the CPU, CPU_PAR / 2
  # sweeps of 2 threads each.
  local par=$(( CPU_PAR / 2 > 0 ? CPU_PAR / 2 : 1 )) running=0 device_args="--device cpu --threads 2"
  if [[ "$DEVICE" == cuda ]]; then par=${PASSKEY_ABLATION_PAR:-3}; device_args="--device cuda"; fi
  for r in "${runs[@]}"; do
    local f="$d/len${len}_${r%%:*}.csv"
    [[ -s "$f" ]] && continue
    log "passkey ablation $len ${r%%:*} ($DEVICE)"
    # shellcheck disable=SC2086
    ( "$ADAMAS" sweep $COMMON $device_args --task passkey --length $len --trials $PASSKEY_TRIALS \
        --depths 0,25,50,75,100 --filler data/heldout/austen_persuasion.txt --budgets $budgets --policies adamas ${r#*:} \
        --csv "$f.partial" --title "passkey $KIND $len tokens (${r%%:*})" && mv "$f.partial" "$f" \
        || log "passkey ablation ${r%%:*} failed" ) &
    running=$((running + 1))
    if (( running >= par )); then wait -n || true; running=$((running - 1)); fi
  done
  wait
}

stage_recall() {
  local d="$OUT_DIR/recall" q; q="$(cal_q)"
  local text=data/heldout/austen_persuasion.txt n="${RECALL_TOKENS:-4096}" stride=16
  [[ "$KIND" == smollm2 ]] && { text=data/heldout/austen_northanger_abbey.txt; n=2048; stride=8; }
  local rargs="--text $text --max-tokens $n --stride $stride --budgets 16,32,64,128,256,512,1024"
  job cpu "$d/paper" recall $COMMON $rargs --policies streaming,quest,adamas,oracle --thresholds=$PAPER --csv "$d/paper.csv"
  job cpu "$d/cal" recall $COMMON $rargs --policies adamas --calibrate-after $CAL_AFTER --calibration-quantiles "$q" \
    --csv "$d/cal.csv"
  job cpu "$d/asymmetric" recall $COMMON $rargs --policies adamas --estimator asymmetric --calibrate-after $CAL_AFTER \
    --calibration-quantiles "$CAL_Q_ASYM" --csv "$d/asymmetric.csv"
  job cpu "$d/hamming" recall $COMMON $rargs --policies adamas --estimator hamming --calibrate-after $CAL_AFTER \
    --csv "$d/hamming.csv"
  # The rest of the study's options (issue 8), as in the ablation stage.
  local -a options=("nohad_paper:--no-hadamard --thresholds=$PAPER" "nohad_cal:--no-hadamard --calibrate-after $CAL_AFTER"
                    "bits1:--code-bits 1 --calibrate-after $CAL_AFTER" "bits3:--code-bits 3 --calibrate-after $CAL_AFTER"
                    "l2:--estimator l2 --calibrate-after $CAL_AFTER")
  for o in "${options[@]}"; do
    # shellcheck disable=SC2086
    job cpu "$d/${o%%:*}" recall $COMMON $rargs --policies adamas ${o#*:} --csv "$d/${o%%:*}.csv"
  done
  run_queued
}

[[ $# -gt 0 ]] || set -- calib ppl ablation passkey recall
for stage in "$@"; do
  start=$(date +%s)
  log "stage $stage ($KIND)"
  "stage_$stage"
  log "stage $stage: $(( $(date +%s) - start )) s"
done
