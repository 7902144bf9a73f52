"""Two SDPA cuDNN calls at GQA 32/8, 32K (for ncu: which kernels, what grid)."""
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
q = torch.randn(1, 32, 1, 128, device="cuda", dtype=torch.float16)
k = torch.randn(1, 8, 32768, 128, device="cuda", dtype=torch.float16)
v = torch.randn(1, 8, 32768, 128, device="cuda", dtype=torch.float16)
with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
    for _ in range(3):
        F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
torch.cuda.synchronize()
