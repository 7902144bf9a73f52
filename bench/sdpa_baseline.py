"""PyTorch SDPA dense decode (cuDNN and Flash backends, fp16), and FlashInfer's where it is installed, on the
shapes adamas_cuda_bench ran, timed the same way (CUDA events, warm-up, L2 flushed before every timed call,
median), plus the device-to-device copy bandwidth; writes one markdown report next to the adamas numbers."""
import argparse
import datetime
import json
import subprocess
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

import os

# How the L2 is emptied before each timed call: "write" (a fill, dirty lines: PyTorch's and
# Triton's habit) or "read" (a read: clean lines). The same variable drives adamas_cuda_bench.
FLUSH = os.environ.get("ADAMAS_BENCH_FLUSH", "write")

# FlashInfer's dense decode (the Adamas paper's dense baseline), optional: ADAMAS_BENCH_FLASHINFER=0 skips it,
# =tc takes its tensor-core decode; without the package (or where a call raises) its column reads n/a.
# scripts/prune_flashinfer_wheel.py says how the package travels to a GPU machine that cannot download.
FLASHINFER = os.environ.get("ADAMAS_BENCH_FLASHINFER", "1")
flashinfer, flashinfer_missing = None, "skipped (ADAMAS_BENCH_FLASHINFER=0)"
if FLASHINFER != "0":
    try:
        import flashinfer
    except Exception as error:  # not installed, or it cannot load here
        flashinfer_missing = f"cannot import flashinfer: {error}".splitlines()[0]


def median_us(fn, iters=50, warmup=5):
    flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for i in range(warmup + iters):
        if FLUSH == "read":  # clean lines in the L2 (see adamas_cuda_bench: ADAMAS_BENCH_FLUSH)
            flush.view(torch.int32).max()
        else:
            flush.fill_(i & 0xFF)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        if i >= warmup:
            times.append(start.elapsed_time(stop) * 1000.0)
    times.sort()
    return times[len(times) // 2]


def copy_gb_per_s():
    a = torch.empty(2 << 30, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    us = median_us(lambda: b.copy_(a), iters=10, warmup=2)
    return 2 * a.numel() / (us * 1e-6) / 1e9


def sdpa_us(batch, q_heads, kv_heads, d, context, backend):
    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(batch, q_heads, 1, d, device="cuda", dtype=torch.float16, generator=g)
    k = torch.randn(batch, kv_heads, context, d, device="cuda", dtype=torch.float16, generator=g)
    v = torch.randn(batch, kv_heads, context, d, device="cuda", dtype=torch.float16, generator=g)
    gqa = q_heads != kv_heads
    try:
        with sdpa_kernel(backend):
            fn = lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=gqa)
            fn()
            torch.cuda.synchronize()
            return median_us(fn)
    except Exception as error:  # a backend that cannot run this shape
        print(f"sdpa {backend} batch {batch} heads {q_heads}/{kv_heads} context {context}: {error}".splitlines()[0])
        return None


def flashinfer_decode(batch, q_heads, kv_heads, d, context, page=16):
    """FlashInfer's batch decode over `batch` sequences of `context` tokens in a paged fp16 cache laid out as
    ours, [pages][Hkv][page][d] (its HND), planned once; returns the call and q, K, V."""
    pages = -(-context // page)  # a sequence's
    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(batch, q_heads, d, device="cuda", dtype=torch.float16, generator=g)
    k, v = (torch.randn(batch * pages, kv_heads, page, d, device="cuda", dtype=torch.float16, generator=g)
            for _ in "kv")
    i32 = dict(dtype=torch.int32, device="cuda")
    wrapper = flashinfer.BatchDecodeWithPagedKVCacheWrapper(
        torch.zeros(128 << 20, dtype=torch.uint8, device="cuda"), "HND", use_tensor_cores=FLASHINFER == "tc")
    # plan builds the kernels of a configuration (dtypes, d) with nvcc at its first use, into ~/.cache/flashinfer
    wrapper.plan(torch.arange(batch + 1, **i32) * pages, torch.arange(batch * pages, **i32),
                 torch.full((batch,), context - (pages - 1) * page, **i32), q_heads, kv_heads, d, page,
                 pos_encoding_mode="NONE", q_data_type=torch.float16, kv_data_type=torch.float16)
    return (lambda: wrapper.run(q, (k, v))), q, k, v


def flashinfer_us(batch, q_heads, kv_heads, d, context):
    if flashinfer is None:
        return None
    try:
        fn = flashinfer_decode(batch, q_heads, kv_heads, d, context)[0]
        fn()
        torch.cuda.synchronize()
        return median_us(fn)
    except Exception as error:  # a shape or a build it cannot do
        print(f"flashinfer batch {batch} heads {q_heads}/{kv_heads} context {context}: {error}".splitlines()[0])
        return None


def flashinfer_smoke(context=32768, d=128):
    """FlashInfer's decode at batch 1, d 128, 32K: its output against SDPA's (math) and its time next to cuDNN's."""
    if flashinfer is None:
        print("flashinfer:", flashinfer_missing)
        return
    for kv_heads in (32, 8):
        fn, q, k, v = flashinfer_decode(1, 32, kv_heads, d, context)
        as_sdpa = lambda x: x.view(1, -1, kv_heads, 16, d).transpose(1, 2).reshape(1, kv_heads, -1, d)[:, :, :context]
        with sdpa_kernel(SDPBackend.MATH):
            ref = F.scaled_dot_product_attention(q.unsqueeze(2), as_sdpa(k), as_sdpa(v), enable_gqa=kv_heads != 32)
        error = (fn().float() - ref.squeeze(2).float()).abs().max().item()
        start = time.perf_counter()  # the host's time a call: hidden behind median_us's flush while it is shorter
        for _ in range(20):
            fn()
        host = (time.perf_counter() - start) / 20 * 1e6
        print(f"flashinfer {flashinfer.__version__} decode batch 1 heads 32/{kv_heads} d {d} context {context}: "
              f"{median_us(fn):.1f} us (SDPA cuDNN "
              f"{sdpa_us(1, 32, kv_heads, d, context, SDPBackend.CUDNN_ATTENTION)} us), host {host:.0f} us a call, "
              f"max |out - SDPA math| {error:.2e}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--adamas")
    parser.add_argument("--out")
    parser.add_argument("--command", default="bench/run_gpu_bench.sh")
    parser.add_argument("--flashinfer-smoke", action="store_true", help="FlashInfer's decode at 32K, batch 1, only")
    args = parser.parse_args()
    if args.flashinfer_smoke:
        return flashinfer_smoke()
    if not (args.adamas and args.out):
        parser.error("--adamas and --out are required")
    rows, scans, adamas_copy = [], [], None
    for line in open(args.adamas):
        line = line.strip()
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if "copy_gb_per_s" in record:
            adamas_copy = record["copy_gb_per_s"]
        elif "step_probe" in record:
            scans.append(record)
        else:
            rows.append(record)
    torch_copy = copy_gb_per_s()
    copy = adamas_copy or torch_copy
    shapes = sorted({(r["batch"], r["q_heads"], r["kv_heads"], r["head_dim"], r["context"]) for r in rows})
    sdpa, fi = {}, {}
    if flashinfer is None:
        print("flashinfer:", flashinfer_missing, "(its column reads n/a)")
    for shape in shapes:
        sdpa[shape] = {name: sdpa_us(*shape, backend) for name, backend in
                       (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION))}
        fi[shape] = flashinfer_us(*shape)
        print("sdpa", shape, sdpa[shape], "flashinfer", fi[shape])
    gpu = rows[0]["gpu"] if rows else torch.cuda.get_device_name()
    try:
        # ADAMAS_COMMIT names the build's commit where the checkout's HEAD may not be it (binaries
        # built elsewhere and carried, as on the device machine).
        commit = os.environ.get("ADAMAS_COMMIT") or subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    fmt = lambda x: "n/a" if x is None else f"{x:.1f}"
    out = [f"# Adamas decode step on {gpu}", "",
           f"- date: {datetime.date.today()}, commit: {commit or 'n/a'}, torch {torch.__version__}",
           f"- command: `{args.command}`",
           f"- device-to-device copy (read + written): {adamas_copy or 0:.0f} GB/s (CUDA), {torch_copy:.0f} GB/s (torch)",
           "- times: microseconds, medians of 50 CUDA-graph replays (ours) / calls (SDPA, FlashInfer), L2 flushed before each by a " + ("read" if FLUSH == "read" else "write (memset)") + " of 2x its size (ours) or 256 MiB (SDPA, FlashInfer); "
           "fp16 K/V, d = 128, page 16, random keys (std 8), thresholds (-10, 0, 10)",
           "- FlashInfer: " + (f"{flashinfer.__version__}, BatchDecodeWithPagedKVCacheWrapper, HND pages of 16 "
                               f"({'tensor' if FLASHINFER == 'tc' else 'CUDA'}-core decode)" if flashinfer else flashinfer_missing),
           "- est GB/s: code bytes read by the estimate pass / its time (% of the copy bandwidth)",
           "", "| batch | heads q/kv | context | budget | SDPA cuDNN | SDPA Flash | FlashInfer | our dense | adamas est | sel | "
           "attend | adamas total | vs best SDPA | vs best dense (SDPA or FlashInfer) | vs our dense | est GB/s (% copy) | "
           "quest | streaming | oracle |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    by_key = {}
    for r in rows:
        by_key[(r["batch"], r["q_heads"], r["kv_heads"], r["head_dim"], r["context"], r["budget"], r["policy"])] = r
    for (b, hq, hk, d, n, budget) in sorted({k[:6] for k in by_key}):
        get = lambda p: by_key.get((b, hq, hk, d, n, budget, p))
        full, adamas = get("full"), get("adamas")
        if adamas is None:
            continue
        s = sdpa[(b, hq, hk, d, n)]
        best = min([x for x in s.values() if x is not None], default=None)
        dense = min([x for x in (best, fi[(b, hq, hk, d, n)]) if x is not None], default=None)
        code_bytes = b * hk * n * d / 4
        est_gbs = code_bytes / (adamas["estimate_us"] * 1e-6) / 1e9 if adamas["estimate_us"] > 0 else 0
        other = lambda p: fmt(get(p)["total_us"]) if get(p) else "n/a"
        out.append(f"| {b} | {hq}/{hk} | {n} | {budget} | {fmt(s['cudnn'])} | {fmt(s['flash'])} | "
                   f"{fmt(fi[(b, hq, hk, d, n)])} | "
                   f"{fmt(full['total_us'] if full else None)} | {adamas['estimate_us']:.1f} | {adamas['select_us']:.1f} | "
                   f"{adamas['attend_us']:.1f} | {adamas['total_us']:.1f} | "
                   f"{(best / adamas['total_us']) if best else 0:.1f}x | "
                   f"{(dense / adamas['total_us']) if dense else 0:.1f}x | "
                   f"{(full['total_us'] / adamas['total_us']) if full else 0:.1f}x | "
                   f"{est_gbs:.0f} ({100 * est_gbs / copy:.0f}%) | {other('quest')} | {other('streaming')} | {other('oracle')} |")
    out += ["", "Our dense kernel against cuDNN (same run):", "",
            "| batch | heads q/kv | context | SDPA cuDNN | FlashInfer | our dense attend | ratio | K/V GB/s |",
            "|---|---|---|---|---|---|---|---|"]
    for shape in shapes:
        b, hq, hk, d, n = shape
        full = next((r for r in rows if (r["batch"], r["q_heads"], r["kv_heads"], r["head_dim"], r["context"]) == shape
                     and r["policy"] == "full"), None)
        if full and sdpa[shape]["cudnn"]:
            kv = b * hk * n * d * 2 * 2
            out.append(f"| {b} | {hq}/{hk} | {n} | {sdpa[shape]['cudnn']:.1f} | {fmt(fi[shape])} | {full['attend_us']:.1f} | "
                       f"{full['attend_us'] / sdpa[shape]['cudnn']:.2f} | {kv / (full['attend_us'] * 1e-6) / 1e9:.0f} |")
    if scans:
        out += ["", "The one-launch step's estimate phase (same run): the adamas step with `ADAMAS_STEP_PROBE=1`, "
                "whose blocks end after their scan (launch, set-up and the L1 scan of every code; no selection or "
                "attention), against the code bytes it reads:", "",
                "| batch | heads q/kv | context | budget | step to the scan's end | code GB/s (% copy) | whole step |",
                "|---|---|---|---|---|---|---|"]
        for r in sorted(scans, key=lambda r: (r["batch"], -r["kv_heads"], r["context"])):
            whole = by_key.get((r["batch"], r["q_heads"], r["kv_heads"], r["head_dim"], r["context"], r["budget"], "adamas"))
            code_bytes = r["batch"] * r["kv_heads"] * r["context"] * r["head_dim"] / 4
            gbs = code_bytes / (r["total_us"] * 1e-6) / 1e9
            out.append(f"| {r['batch']} | {r['q_heads']}/{r['kv_heads']} | {r['context']} | {r['budget']} | "
                       f"{r['total_us']:.1f} | {gbs:.0f} ({100 * gbs / copy:.0f}%) | "
                       f"{fmt(whole['total_us'] if whole else None)} |")
    text = "\n".join(out) + "\n"
    open(args.out, "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
