"""SDPA cuDNN dense decode over contexts (session 17 probe): one line per shape, microseconds, timed as
bench/sdpa_baseline.py times (CUDA events, L2 flushed before each call, median of 50)."""
import sys
sys.path.insert(0, "bench")
from torch.nn.attention import SDPBackend
import sdpa_baseline as s

for kv in (8, 32):
    for context in (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072):
        us = s.sdpa_us(1, 32, kv, 128, context, SDPBackend.CUDNN_ATTENTION)
        print(f"cudnn kv {kv} context {context} {us:.1f}")
