#!/usr/bin/env bash
# GPU machine: chooses between the trained candidates /tmp/tiny_A and /tmp/tiny_B on VALIDATION data
# only (State of the Union addresses, never the held-out books): passkey accuracy with full attention
# at 8192 tokens (validation filler, 4 trials x 5 depths), then validation perplexity with full
# attention. Prints the chosen directory; writes $2/pick.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
ADAMAS="$1"; out="$2"
# Wait for both trainings (eval.json is their last file), at most PICK_WAIT seconds.
for _ in $(seq 1 "${PICK_WAIT:-300}"); do
  [[ -s /tmp/tiny_A/eval.json && -s /tmp/tiny_B/eval.json ]] && break
  pgrep -f train_model.py > /dev/null || break
  sleep 1
done
best="" ; summary="{"
for tag in A B; do
  dir=/tmp/tiny_$tag
  [[ -s "$dir/config.json" ]] || continue
  pk=$("$ADAMAS" passkey --model "$dir" --device cuda --policy full --length 8192 --trials 4 --depths 0,25,50,75,100 \
       --filler data/validation/sotu_validation.txt --no-progress --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])')
  full=$("$ADAMAS" ppl --model "$dir" --device cuda --policy full --text data/validation/sotu_validation.txt \
       --max-tokens 4096 --no-progress --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])')
  win=$("$ADAMAS" ppl --model "$dir" --device cuda --policy streaming --budget 256 --text data/validation/sotu_validation.txt \
       --max-tokens 4096 --no-progress --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])')
  echo "candidate $tag: validation passkey@8K $pk, ppl full $full, ppl streaming-256 $win" >&2
  summary="$summary\"$tag\": {\"passkey_8k_validation\": $pk, \"ppl_full_validation\": $full, \"ppl_stream256_validation\": $win},"
  if [[ -z "$best" ]] || python3 -c "import sys; a=($pk,-$full); b=($best_pk,-$best_full); sys.exit(0 if a>b else 1)"; then
    best=$tag; best_pk=$pk; best_full=$full
  fi
done
[[ -n "$best" ]] || { echo "no trained candidate found" >&2; exit 1; }
echo "${summary}\"chosen\": \"$best\"}" > "$out/pick.json"
echo "/tmp/tiny_$best"
