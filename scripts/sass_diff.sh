#!/usr/bin/env bash
# Which kernels a change recompiled: for each kernel of two builds of one object or library whose
# mangled name matches PATTERN, its instruction count in each and whether its SASS is the same
# (addresses and encodings dropped, so a kernel that only moved compares equal). The step kernels'
# speed hangs on how ptxas lays out their scan loops (bench/results/2026-12-01-s28: a change to the
# compaction after the scan moved the loops), so check a change's build against the committed one
# before spending device time; a kernel reported "same" needs no new measurement.
#
# usage: scripts/sass_diff.sh OLD NEW [PATTERN]
#   OLD, NEW: two builds of one object file or library (e.g. a copy of
#             build-gpu/CMakeFiles/adamas.dir/src/cuda/grid_step.cu.o taken before the change)
#   PATTERN:  a grep -E pattern over mangled names (default: every kernel)
# Needs cuobjdump on PATH (scan_loop_sass.sh's header says where to get it).
set -euo pipefail
old=${1:?usage: scripts/sass_diff.sh OLD NEW [PATTERN]}
new=${2:?usage: scripts/sass_diff.sh OLD NEW [PATTERN]}
pattern=${3:-.}
command -v cuobjdump > /dev/null || { echo "sass_diff.sh: cuobjdump must be on PATH" >&2; exit 1; }
for f in "$old" "$new"; do [ -f "$f" ] || { echo "sass_diff.sh: no file $f" >&2; exit 1; }; done
# "key name" a kernel: the key drops the anonymous namespace's hash, which depends on the source
# file's path (two checkouts name the same kernel differently).
names() {
  cuobjdump -res-usage "$1" 2>/dev/null | awk '/Function/ {sub(/:$/, "", $2); print $2}' | grep -E "$pattern" | sort -u |
    sed -E 's/^(.*)$/\1 \1/; s/^([^ ]*)_GLOBAL__N__[0-9a-f]+_[0-9]+_[A-Za-z0-9_]+_[0-9a-f]{8}/\1_GLOBAL__N_/' | sort || true
}
# One instruction a line, without its address and encoding.
sass_of() { cuobjdump -sass -fun "$2" "$1" 2>/dev/null | sed -n 's|^\s*/\*[0-9a-f]\{4,\}\*/\s*\(.*\);.*|\1|p' | sed 's/ *$//'; }
old_names=$(names "$old")
new_names=$(names "$new")
only_old=$(join -v1 <(echo "$old_names") <(echo "$new_names") | grep . || true)
only_new=$(join -v2 <(echo "$old_names") <(echo "$new_names") | grep . || true)
same=0 changed=0
while read -r key old_name new_name; do
  [ -n "$key" ] || continue
  a=$(sass_of "$old" "$old_name")
  b=$(sass_of "$new" "$new_name")
  label=$(c++filt <<< "$old_name" | sed 's/adamas::cuda:://g; s/(anonymous namespace):://g; s/(.*//')
  if [ "$a" == "$b" ]; then
    same=$((same + 1))
  else
    changed=$((changed + 1))
    echo "changed  $(wc -l <<< "$a") -> $(wc -l <<< "$b") instructions  $label"
  fi
done < <(join <(echo "$old_names") <(echo "$new_names"))
[ -z "$only_old" ] || echo "only in $old: $(wc -l <<< "$only_old") kernels"
[ -z "$only_new" ] || echo "only in $new: $(wc -l <<< "$only_new") kernels"
echo "$same kernels the same, $changed changed"
