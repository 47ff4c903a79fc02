"""y = alpha * x in Triton: the kernel, its launcher, and a deliberately wrong launch of it (it reads
x[i + 1]) that shows what gpubench's correctness check does with a broken kernel."""

import torch
import triton
import triton.language as tl

BLOCK = 1024


@triton.jit
def _scale_kernel(x_ptr, y_ptr, alpha, n, SHIFT: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    src = offs + SHIFT  # SHIFT = 1 is the bug: every element reads its neighbour
    x = tl.load(x_ptr + src, mask=src < n, other=0.0)
    tl.store(y_ptr + offs, x * alpha, mask=offs < n)


def _launch(x: torch.Tensor, alpha: float, shift: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 1 or not x.is_contiguous():
        raise ValueError("x must be a contiguous 1-D tensor")
    y = torch.empty_like(x)
    n = x.numel()
    if n:
        _scale_kernel[(triton.cdiv(n, BLOCK),)](x, y, alpha, n, SHIFT=shift, BLOCK=BLOCK)
    return y


def scale(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return _launch(x, alpha, 0)


def scale_shifted(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return _launch(x, alpha, 1)
