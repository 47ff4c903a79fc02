"""Triton vector add: one program per block of elements, computed in fp32."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from gpubench.kernels.checks import require_contiguous, require_dtype, require_same, require_tensor
from gpubench.kernels.vector_add.config import config_for

DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@triton.jit
def _add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)  # int64 offsets: n may exceed 2**31
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask).to(tl.float32)
    y = tl.load(y_ptr + offs, mask=mask).to(tl.float32)
    tl.store(out_ptr + offs, (x + y).to(out_ptr.dtype.element_ty), mask=mask)


def vector_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    require_tensor("x", x)
    require_tensor("y", y)
    require_same(("x", "y"), (x, y))
    require_dtype("x", x, DTYPES)
    require_contiguous("x", x)
    require_contiguous("y", y)
    out = torch.empty_like(x)
    n = x.numel()
    if n == 0:
        return out
    cfg = config_for(x.device)
    grid = (triton.cdiv(n, cfg.triton_block),)
    _add_kernel[grid](x, y, out, n, BLOCK=cfg.triton_block, num_warps=cfg.triton_warps)
    return out
