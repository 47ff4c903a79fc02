"""Triton window sums, fp32 accumulation. Neither kernel subtracts: a value reaches exactly the outputs
whose window holds it (a NaN or inf included), and a huge value elsewhere leaves an output's error alone.

naive:   each output sums its 2r+1 inputs with masked loads (zero padding).
blocked: the program's outputs form a [ROWS, SEG] tile, each row a run of SEG consecutive outputs with
         SEG a power of two <= 2r. For output k of a row starting at f, the window [f + k - r, f + k + r]
         splits into the suffix from k of A = x[f - r, f - r + SEG), the middle x[f - r + SEG, f + r)
         (2r - SEG values, the same for the whole row) and the prefix up to k of B = x[f + r, f + r +
         SEG): two coalesced tile loads, a reverse and a forward cumsum along the rows, and for SEG < 2r
         a row sum of the middle (under one load per output, since 2r - SEG < SEG below the cap). A
         register gather is not needed, which the van Herk / Gil-Werman form with blocks aligned to the
         array would ask for. Radius 0 is a copy and runs the naive kernel.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from gpubench.kernels.window_sum.config import config_for
from gpubench.kernels.window_sum.validate import validate


@triton.jit
def _naive_kernel(x_ptr, out_ptr, n, radius, window, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    live = offs < n
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for d in range(0, window):  # window = 2r + 1, passed in: the interpreter cannot range over 2 * r + 1
        j = offs + d - radius
        acc += tl.load(x_ptr + j, mask=live & (j >= 0) & (j < n), other=0.0).to(tl.float32)
    tl.store(out_ptr + offs, acc.to(out_ptr.dtype.element_ty), mask=live)


@triton.jit
def _blocked_kernel(x_ptr, out_ptr, n, radius, middle, ROWS: tl.constexpr, SEG: tl.constexpr):
    k = tl.arange(0, SEG)
    first = tl.program_id(0).to(tl.int64) * (ROWS * SEG) + tl.arange(0, ROWS) * SEG
    idx = first[:, None] + k[None, :]  # the outputs
    lo = idx - radius
    a = tl.load(x_ptr + lo, mask=(lo >= 0) & (lo < n), other=0.0).to(tl.float32)
    hi = idx + radius
    b = tl.load(x_ptr + hi, mask=hi < n, other=0.0).to(tl.float32)
    mid = tl.zeros([ROWS], dtype=tl.float32)
    for c in range(0, middle, SEG):  # middle = 2r - SEG values from x[f - r + SEG]: one pass below the cap
        j = lo + SEG + c
        live = (k[None, :] + c < middle) & (j >= 0) & (j < n)
        mid += tl.sum(tl.load(x_ptr + j, mask=live, other=0.0).to(tl.float32), axis=1)
    out = tl.cumsum(a, axis=1, reverse=True) + mid[:, None] + tl.cumsum(b, axis=1)
    tl.store(out_ptr + idx, out.to(out_ptr.dtype.element_ty), mask=idx < n)


def _launch_naive(x, out, r, cfg):
    n = x.numel()
    _naive_kernel[(triton.cdiv(n, cfg.triton_naive_block),)](
        x, out, n, r, 2 * r + 1, BLOCK=cfg.triton_naive_block, num_warps=cfg.triton_warps
    )


def window_sum_naive(x: torch.Tensor, radius: int) -> torch.Tensor:
    r = validate(x, radius)
    out = torch.empty_like(x)
    if x.numel():
        _launch_naive(x, out, r, config_for(x.device))
    return out


def window_sum_blocked(x: torch.Tensor, radius: int) -> torch.Tensor:
    r = validate(x, radius)
    out = torch.empty_like(x)
    n = x.numel()
    if n == 0:
        return out
    cfg = config_for(x.device)
    if r == 0:
        _launch_naive(x, out, r, cfg)
        return out
    seg = cfg.triton_seg(r)
    rows = cfg.triton_tile // seg
    _blocked_kernel[(triton.cdiv(n, cfg.triton_tile),)](
        x, out, n, r, 2 * r - seg, ROWS=rows, SEG=seg, num_warps=cfg.triton_warps
    )
    return out
