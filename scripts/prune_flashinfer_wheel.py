#!/usr/bin/env python3
"""FlashInfer's wheel cut down to what its dense decode needs, so it travels to the GPU machine.

bench/sdpa_baseline.py times FlashInfer's decode (BatchDecodeWithPagedKVCacheWrapper) next to PyTorch
SDPA when the flashinfer package imports. The GPU machine cannot download, and a device call carries at
most 64 MiB, so the wheel (33.7 MB for 0.7.0.post1) goes there pruned to 13.6 MB. What the decode
module and the tensor-core path's prefill modules include at their JIT build was listed with nvcc -M
under flashinfer's own flags: its include/ headers, the top-level csrc sources, libcudacxx (cccl); cub,
thrust and spdlog are kept as cheap insurance. Every Python module is kept, so imports still work.

Usage, on the dev machine (repo root; .whl/ is ignored through .git/info/exclude):
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \\
      --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 -d /tmp/fi \\
      flashinfer-python==0.7.0.post1 apache-tvm-ffi==0.1.15.post2
  scripts/prune_flashinfer_wheel.py /tmp/fi/flashinfer_python-0.7.0.post1-py3-none-any.whl .whl
  cp /tmp/fi/apache_tvm_ffi-*.whl .whl/
On the GPU machine (call with carry [".whl"]; bench/results/2026-12-02-s35/s35_c5.sh did this):
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site CUDA_HOME=/usr/local/cuda FLASHINFER_CUDA_ARCH_LIST=9.0a FLASHINFER_WORKSPACE_BASE=/tmp/fiws
"""
import base64
import hashlib
import os
import sys
import zipfile

DATA = "flashinfer/data/"
KEEP_TREES = [DATA + "include/", DATA + "cccl/libcudacxx/include/", DATA + "cccl/cub/cub/",
              DATA + "cccl/thrust/thrust/", DATA + "spdlog/include/"]
# arch.h: read by flashinfer's compilation_context (cutlass_supports_sm107); the rest of cutlass is unused.
KEEP_FILES = {DATA + "build_backend.py", DATA + "build_utils.py", DATA + "cutlass/include/cutlass/arch/arch.h"}


def keep(name, record):
    if name.endswith("/") or name == record:
        return False  # folders; RECORD is written anew
    if not name.startswith(DATA) or name in KEEP_FILES or any(name.startswith(t) for t in KEEP_TREES):
        return True
    csrc = DATA + "csrc/"
    return name.startswith(csrc) and "/" not in name[len(csrc):]  # the top-level sources, not the subfolders


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: prune_flashinfer_wheel.py WHEEL OUT_DIR")
    source, out_dir = sys.argv[1], sys.argv[2]
    if not zipfile.is_zipfile(source):
        sys.exit(f"{source}: not a wheel (no zip archive there)")
    with zipfile.ZipFile(source) as wheel:
        names = wheel.namelist()
        dist_info = next((n.split("/")[0] + "/" for n in names if n.split("/")[0].endswith(".dist-info")), None)
        if dist_info is None or not any(n.startswith(DATA) for n in names):
            sys.exit(f"{source}: not a flashinfer wheel (no dist-info or no {DATA})")
        record_name = dist_info + "RECORD"
        kept = [i for i in wheel.infolist() if keep(i.filename, record_name)]
        kept.sort(key=lambda i: i.filename.startswith(dist_info))  # dist-info last, as wheels have it
        os.makedirs(out_dir, exist_ok=True)
        target = os.path.join(out_dir, os.path.basename(source))
        record = []
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as out:
            for info in kept:
                data = wheel.read(info.filename)
                out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                record.append(f"{info.filename},sha256={digest},{len(data)}")
            record.append(record_name + ",,")
            out.writestr(record_name, "\n".join(record) + "\n")
    print(f"{target}: kept {len(kept)} of {len(names)} files, {os.path.getsize(target) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
