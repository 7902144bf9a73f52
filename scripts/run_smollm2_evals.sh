#!/usr/bin/env bash
# SmolLM2-135M-Instruct (Q4_1 GGUF) evaluations with the CPU runtime, all policies side by side.
# Results land in docs/results_smollm2/ (JSON per run, perplexity curves as CSV); docs/results_smollm2.md
# is written by hand from them (docs/results_smollm2/make_tables.py prints the tables, writes the SVGs).
#
# Usage: scripts/run_smollm2_evals.sh STAGE...      stages: calib ppl passkey recall   (default: all)
# CPU cost on the shared 2-core VM at 1 thread: calib ~4 min, ppl ~21 min, passkey (1K) ~6 min, recall ~3 min.
# Environment:
#   ADAMAS      CLI binary            (default build-smol/adamas)
#   GGUF        model                 (default: scripts/fetch_smollm2.sh's cache path)
#   THREADS     CPU threads           (default 1: the 2-core machine is shared)
#   PPL_TOKENS  tokens per book       (default 2048; the issue's protocol is 8192, see the results page)
#   CAL_AFTER   --calibrate-after N   (default 128)
#   CAL_Q       quantiles for calibrated Adamas with the paper's L1 estimator (default 0.25,0.5,0.75:
#               the best L1 set of the calib stage)
#   CAL_Q_ASYM  quantiles for calibrated Adamas with the asymmetric estimator (default 0.1,0.5,0.9: the
#               best of the calib stage)
#   PASSKEY_LEN, PASSKEY_TRIALS, PASSKEY_DEPTHS, PASSKEY_BUDGET, PASSKEY_POLICIES: see stage_passkey
#   PPL_BUDGETS budgets for the ppl stage (default "16 64 256"); PPL_L1_BUDGETS: those where calibrated
#               L1 also runs (default "64")
# Every run uses bf16 weights in memory (dequantized from Q4_1; 1.5x faster decode than f32 on this CPU)
# and the default f16 KV cache; parity (scripts/gguf_parity.py) is the fp32 check.
set -euo pipefail
cd "$(dirname "$0")/.."

ADAMAS="${ADAMAS:-build-smol/adamas}"
GGUF="${GGUF:-${ADAMAS_SMOLLM2_CACHE:-$HOME/.cache/adamas/smollm2}/SmolLM2-135M-Instruct.Q4_1.gguf}"
THREADS="${THREADS:-1}"
PPL_TOKENS="${PPL_TOKENS:-1536}"
CAL_Q="${CAL_Q:-0.25,0.5,0.75}"
CAL_Q_ASYM="${CAL_Q_ASYM:-0.1,0.5,0.9}"
PPL_BUDGETS="${PPL_BUDGETS:-16 64 256}"
PPL_L1_BUDGETS="${PPL_L1_BUDGETS:-64}"
CAL_AFTER="${CAL_AFTER:-128}"
OUT=docs/results_smollm2
COMMON=(--model "$GGUF" --threads "$THREADS" --weights bf16 --no-progress)
PAPER="-10,0,10"
mkdir -p "$OUT"/{calib,ppl,passkey,recall}

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# ppl_run OUTNAME TEXT TOKENS ARGS... : one PG19-protocol run -> OUTNAME.json (+ .csv curve)
ppl_run() {
  local name="$1" text="$2" tokens="$3"; shift 3
  if [[ -s "$name.json" ]]; then log "skip $name (done)"; return; fi
  log "ppl $name: $*"
  "$ADAMAS" ppl "${COMMON[@]}" --text "$text" --max-tokens "$tokens" --json --csv "$name.csv" "$@" > "$name.json.partial"
  mv "$name.json.partial" "$name.json"
}

# Quantiles for the calibrated code books, chosen on the validation text (State of the Union
# addresses), never on the held-out books: budget 64, 1024 tokens, calibrated after CAL_AFTER tokens.
stage_calib() {
  local text=data/validation/sotu_validation.txt n=1024 b=64 d="$OUT/calib"
  ppl_run "$d/full" "$text" $n --policy full
  ppl_run "$d/oracle_b$b" "$text" $n --policy oracle --budget $b
  ppl_run "$d/adamas_paper_b$b" "$text" $n --policy adamas --budget $b --thresholds=$PAPER
  for q in 0.25,0.5,0.75 0.1,0.5,0.9 0.05,0.5,0.95 0.02,0.5,0.98; do
    ppl_run "$d/adamas_q${q//,/_}_b$b" "$text" $n --policy adamas --budget $b \
      --calibrate-after "$CAL_AFTER" --calibration-quantiles "$q"
  done
}

cal_quantiles() { echo "$CAL_Q"; }

# PG19 protocol: every token of the first PPL_TOKENS tokens of each held-out book predicted by a
# decode step with the policy.
stage_ppl() {
  local q; q="$(cal_quantiles)"
  for book in austen_persuasion austen_northanger_abbey; do
    local text="data/heldout/$book.txt" d="$OUT/ppl/$book"
    mkdir -p "$d"
    ppl_run "$d/full" "$text" "$PPL_TOKENS" --policy full
    for b in $PPL_BUDGETS; do
      ppl_run "$d/streaming_b$b" "$text" "$PPL_TOKENS" --policy streaming --budget $b
      ppl_run "$d/quest_b$b" "$text" "$PPL_TOKENS" --policy quest --budget $b
      ppl_run "$d/adamas_paper_b$b" "$text" "$PPL_TOKENS" --policy adamas --budget $b --thresholds=$PAPER
      ppl_run "$d/adamas_calasym_b$b" "$text" "$PPL_TOKENS" --policy adamas --budget $b \
        --calibrate-after "$CAL_AFTER" --calibration-quantiles "$CAL_Q_ASYM" --estimator asymmetric
      ppl_run "$d/oracle_b$b" "$text" "$PPL_TOKENS" --policy oracle --budget $b
    done
    for b in $PPL_L1_BUDGETS; do
      ppl_run "$d/adamas_cal_b$b" "$text" "$PPL_TOKENS" --policy adamas --budget $b \
        --calibrate-after "$CAL_AFTER" --calibration-quantiles "$q"
    done
  done
}

# Passkey: prompt tokens PASSKEY_LEN, filler from the held-out book, the answer decoded greedily with
# the policy (prefill is dense). Full attention first. What was run: PASSKEY_LEN=4096 PASSKEY_TRIALS=1
# PASSKEY_POLICIES=full (0/3: the model does not retrieve at 4K, so no sparse runs there; the chat
# template variant is docs/results_smollm2/passkey_chat.py), then the defaults below (1K, 6 trials).
stage_passkey() {
  local len="${PASSKEY_LEN:-1024}" trials="${PASSKEY_TRIALS:-2}" depths="${PASSKEY_DEPTHS:-0,50,100}"
  local b="${PASSKEY_BUDGET:-64}" d="$OUT/passkey" q; q="$(cal_quantiles)"
  local -a runs=("full:--policy full"
                 "streaming_b$b:--policy streaming --budget $b"
                 "quest_b$b:--policy quest --budget $b"
                 "adamas_paper_b$b:--policy adamas --budget $b --thresholds=$PAPER"
                 "adamas_cal_b$b:--policy adamas --budget $b --calibrate-after $CAL_AFTER --calibration-quantiles $q"
                 "oracle_b$b:--policy oracle --budget $b")
  for r in "${runs[@]}"; do
    local name="${r%%:*}" args="${r#*:}" f="$d/len${len}_${r%%:*}.json"
    [[ -n "${PASSKEY_POLICIES:-}" && ",$PASSKEY_POLICIES," != *",${name%%_*},"* ]] && continue
    if [[ -s "$f" ]]; then log "skip $f"; continue; fi
    log "passkey $len $name"
    # shellcheck disable=SC2086
    "$ADAMAS" passkey "${COMMON[@]}" --length "$len" --trials "$trials" --depths "$depths" \
      --filler data/heldout/austen_persuasion.txt --json $args > "$f.partial"
    mv "$f.partial" "$f"
  done
}

# Attention recall per layer and KV head: a 2048-token excerpt of a held-out book, dense decode,
# every selector scored against the exact attention at each scored step.
stage_recall() {
  local d="$OUT/recall" q; q="$(cal_quantiles)"
  local text=data/heldout/austen_northanger_abbey.txt stride="${RECALL_STRIDE:-8}"
  local -a args=("${COMMON[@]}" --text $text --max-tokens 2048 --budgets 16,64,256,1024 --stride "$stride")
  [[ -s "$d/paper.json" ]] || { log "recall (paper thresholds)";
    "$ADAMAS" recall "${args[@]}" --policies streaming,quest,adamas,oracle --thresholds=$PAPER \
      --csv "$d/paper.csv" --json > "$d/paper.json"; }
  [[ -s "$d/calasym.json" ]] || { log "recall (calibrated, asymmetric)";
    "$ADAMAS" recall "${args[@]}" --policies adamas --calibrate-after "$CAL_AFTER" \
      --calibration-quantiles "$CAL_Q_ASYM" --estimator asymmetric --csv "$d/calasym.csv" --json > "$d/calasym.json"; }
  [[ -s "$d/calibrated.json" ]] || { log "recall (calibrated, L1)";
    "$ADAMAS" recall "${args[@]}" --policies adamas --calibrate-after "$CAL_AFTER" --calibration-quantiles "$q" \
      --csv "$d/calibrated.csv" --json > "$d/calibrated.json"; }
}

stages=("$@")
[[ ${#stages[@]} -gt 0 ]] || stages=(calib ppl passkey recall)
for s in "${stages[@]}"; do
  start=$(date +%s)
  "stage_$s"
  log "stage $s: $(( $(date +%s) - start )) s"
done
