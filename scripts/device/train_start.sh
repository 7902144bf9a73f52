#!/usr/bin/env bash
# GPU machine: starts the bundled model's training in the background (setsid: it outlives the call
# that starts it, so the machine's other work runs meanwhile). Two recipes side by side on one H200,
# each 600 s of wall clock; scripts/device/pick_model.sh chooses between them on validation text.
#   A: seed 1234, curriculum 256:0.12,1024:0.3,4096:0.5,8192:1.0 (the script's default)
#   B: seed 4321, curriculum 256:0.2,1024:0.4,4096:0.6,8192:1.0 (more time where induction forms)
# Both with the script's defaults of the third session: BOS before text samples, half of the random
# copy segments from small alphabets (--small-alphabet 0.5). Run 3 was the same without those two.
# Inputs: .train-carry/tokens/*.bin (scripts/prepare_corpus.py's output). Logs: /tmp/train_{A,B}.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=/tmp/adamas_train
mkdir -p "$work/data/tokens"
tar xJf .train-carry/tokens.tar.xz -C "$work/data"
cp -r scripts "$work/"
cp -r data/heldout data/validation "$work/data/"
cp models/adamas-tiny-8k/tokenizer.model "$work/tokenizer.model"
launch() {
  local tag="$1"; shift
  setsid nohup python3 "$work/scripts/train_model.py" --data "$work/data" --tokenizer "$work/tokenizer.model" \
    --out "/tmp/tiny_$tag" --time-budget "${TRAIN_SECONDS:-600}" --eval "$@" > "/tmp/train_$tag.log" 2>&1 < /dev/null &
}
export PYTHONUNBUFFERED=1
launch A --seed 1234 --curriculum 256:0.12,1024:0.3,4096:0.5,8192:1.0
launch B --seed 4321 --curriculum 256:0.2,1024:0.4,4096:0.6,8192:1.0
sleep 45
tail -n 3 /tmp/train_A.log /tmp/train_B.log
nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv
