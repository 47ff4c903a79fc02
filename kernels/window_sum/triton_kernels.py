"""Triton window sums, fp32 accumulation.

naive:   each output sums its 2r+1 inputs with masked loads (zero padding).
blocked: a lane owns ITEMS consecutive outputs; it sums the first window once, then gets the others
         from a prefix sum of (x[i + r] - x[i - r - 1]) along its row, so a window costs
         (2r + 1) / ITEMS + 2 loads instead of 2r + 1.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from gpubench.kernels.window_sum._validate import validate
from gpubench.kernels.window_sum.config import config_for


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
def _blocked_kernel(x_ptr, out_ptr, n, radius, window, LANES: tl.constexpr, ITEMS: tl.constexpr):
    lane = tl.arange(0, LANES)
    k = tl.arange(0, ITEMS)
    first = tl.program_id(0).to(tl.int64) * (LANES * ITEMS) + lane * ITEMS
    acc = tl.zeros([LANES], dtype=tl.float32)
    for d in range(0, window):  # window = 2r + 1, passed in: the interpreter cannot range over 2 * r + 1
        j = first + d - radius
        acc += tl.load(x_ptr + j, mask=(first < n) & (j >= 0) & (j < n), other=0.0).to(tl.float32)
    idx = first[:, None] + k[None, :]
    enter = idx + radius
    leave = idx - radius - 1
    inc = tl.load(x_ptr + enter, mask=(enter < n) & (idx < n), other=0.0).to(tl.float32)
    inc -= tl.load(x_ptr + leave, mask=(leave >= 0) & (idx < n), other=0.0).to(tl.float32)
    inc = tl.where(k[None, :] == 0, 0.0, inc)
    out = acc[:, None] + tl.cumsum(inc, axis=1)
    tl.store(out_ptr + idx, out.to(out_ptr.dtype.element_ty), mask=idx < n)


def window_sum_naive(x: torch.Tensor, radius: int) -> torch.Tensor:
    r = validate(x, radius)
    out = torch.empty_like(x)
    n = x.numel()
    if n == 0:
        return out
    cfg = config_for(x.device)
    _naive_kernel[(triton.cdiv(n, cfg.triton_naive_block),)](
        x, out, n, r, 2 * r + 1, BLOCK=cfg.triton_naive_block, num_warps=cfg.triton_warps
    )
    return out


def window_sum_blocked(x: torch.Tensor, radius: int) -> torch.Tensor:
    r = validate(x, radius)
    out = torch.empty_like(x)
    n = x.numel()
    if n == 0:
        return out
    cfg = config_for(x.device)
    per_program = cfg.triton_lanes * cfg.triton_items
    _blocked_kernel[(triton.cdiv(n, per_program),)](
        x, out, n, r, 2 * r + 1, LANES=cfg.triton_lanes, ITEMS=cfg.triton_items, num_warps=cfg.triton_warps
    )
    return out
