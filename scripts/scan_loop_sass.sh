#!/usr/bin/env bash
# The grid step's scan loop as ptxas laid it out: for each kernel of an object file whose mangled name
# matches PATTERN, its registers and stack, and the opcode counts of its scan loop (the first
# backward branch whose body holds the codes' streaming loads, LDG.E.EF.128, and the L1's POPC).
# Compare a change's build against the committed one before a device call: the scan is
# bandwidth-bound, and a loop that lost its uniform registers scanned 13% slower
# (bench/results/2026-11-30-s22, section 3).
#
# usage: scripts/scan_loop_sass.sh OBJECT [PATTERN]
#   OBJECT: e.g. build-gpu/CMakeFiles/adamas.dir/src/cuda/grid_step.cu.o
#   PATTERN: a grep pattern over mangled names (default: the MHA and GQA fp16 kernels of 128 registers,
#            grid_step_kernelI6__halfLi128ELi1ELi2ELb0E and ...Li4ELi2ELb0E)
# Needs cuobjdump and nvdisasm on PATH. Where the CUDA toolkit lacks them:
#   pip download --no-deps nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm -d W && unzip -o 'W/*.whl' -d X
#   chmod +x X/nvidia/cu13/bin/*; export PATH=$PWD/X/nvidia/cu13/bin:$PATH
set -euo pipefail
object=${1:?usage: scripts/scan_loop_sass.sh OBJECT [PATTERN]}
pattern=${2:-'grid_step_kernelI6__halfLi128ELi[14]ELi2ELb0E'}
command -v cuobjdump > /dev/null && command -v nvdisasm > /dev/null || {
  echo "scan_loop_sass.sh: cuobjdump and nvdisasm must be on PATH (see the header)" >&2
  exit 1
}
usage=$(cuobjdump -res-usage "$object")
names=$(awk '/Function/ {sub(/:$/, "", $2); print $2}' <<< "$usage" | grep -E "$pattern" || true)
[ -n "$names" ] || { echo "scan_loop_sass.sh: no kernel of $object matches '$pattern'" >&2; exit 1; }
for name in $names; do
  resources=$(grep -A1 "Function $name:" <<< "$usage" | grep -o 'REG:[0-9]* STACK:[0-9]*')
  echo "$(c++filt <<< "$name" | sed 's/adamas::cuda:://; s/(anonymous namespace):://; s/(.*//') $resources"
  cuobjdump -sass -fun "$name" "$object" | python3 -c '
import re, sys
from collections import Counter
rows = []
for line in sys.stdin:
    m = re.match(r"\s+/\*([0-9a-f]{4,})\*/\s+(.*?);", line)
    if m:
        rows.append((int(m.group(1), 16), m.group(2)))
addresses = {a: i for i, (a, _) in enumerate(rows)}
for i, (a, text) in enumerate(rows):
    branch = re.search(r"BRA.*?0x([0-9a-f]+)", text)
    if branch:
        target = int(branch.group(1), 16)
        j = addresses.get(target)
        if target < a and j is not None:
            ops = Counter(t.split()[1] if t.startswith("@") else t.split()[0] for _, t in rows[j:i + 1])
            if ops["POPC"] > 0 and ops["LDG.E.EF.128"] > 0:
                print("  scan loop: %d instructions; " % (i - j) + " ".join("%s=%d" % kv for kv in sorted(ops.items())))
                break
else:
    print("  no scan loop found (a backward branch over LDG.E.EF.128 and POPC)")
'
done
