#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, address + undefined-behaviour sanitizers) and runs each for
# a short time from the seeds in fuzz/seeds/. A crash, a sanitizer report or an exception other than
# adamas::Error fails the run. usage: fuzz/run_fuzzers.sh [SECONDS_EACH] (default 20)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
seconds=${1:-20}
out=${ADAMAS_FUZZ_DIR:-build/fuzz}
mkdir -p "$out"
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fopenmp -Iinclude -Isrc)
build() {  # name, sources...
  local name=$1
  shift
  [ "$out/$name" -nt "fuzz/$name.cpp" ] || clang++ "${flags[@]}" "fuzz/$name.cpp" "$@" -o "$out/$name"
}
build fuzz_safetensors src/model/safetensors.cpp src/core/dtype.cpp
build fuzz_config src/model/model_config.cpp src/core/dtype.cpp
build fuzz_gguf src/model/gguf.cpp src/model/gguf_reader.cpp src/model/dequantize.cpp src/model/bpe_tokenizer.cpp \
  src/model/model_config.cpp src/core/dtype.cpp
for name in fuzz_safetensors fuzz_config fuzz_gguf; do
  seeds=fuzz/seeds/${name#fuzz_}
  corpus="$out/corpus_${name#fuzz_}"
  mkdir -p "$corpus"
  [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  echo "fuzzing $name for ${seconds}s"
  "$out/$name" -max_total_time="$seconds" -max_len=65536 -print_final_stats=0 "$corpus" > "$out/$name.log" 2>&1 ||
    { tail -40 "$out/$name.log"; echo "$name: FAILED" >&2; exit 1; }
  grep -E "^#[0-9]+ +DONE|Done [0-9]+ runs" "$out/$name.log" | tail -1
done
