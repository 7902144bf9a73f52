#!/usr/bin/env bash
# session 5: SmolLM2 passkey at 4K for every option of the study (issue 8), on the H200
set -u
mkdir -p /tmp/gguf_parts && cp .gguf-parts/part02 /tmp/gguf_parts/
cat /tmp/gguf_parts/part00 /tmp/gguf_parts/part01 /tmp/gguf_parts/part02 > /tmp/smol.gguf
sha256sum /tmp/smol.gguf; cat .gguf-parts/sha256
tar xJf .cuda-run/bin.tar.xz -C /tmp
export LD_LIBRARY_PATH=/tmp/bin:/usr/local/cuda/lib64
t0=$(date +%s)
KIND=smollm2 DEVICE=cuda MODEL=/tmp/smol.gguf ADAMAS=/tmp/bin/adamas OUT_DIR=$OUT/smol PASSKEY_ABLATION_PAR=6 \
  timeout 540 bash scripts/eval_grid.sh passkey_ablation
echo "rc $? after $(( $(date +%s) - t0 )) s"
ls -la $OUT/smol/passkey_ablation/
for f in $OUT/smol/passkey_ablation/*.csv*; do echo $f; cut -d, -f1-6 $f | head -12; done
