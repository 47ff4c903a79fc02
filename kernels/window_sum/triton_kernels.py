"""Triton window sums, fp32 accumulation. Neither kernel subtracts: a value reaches exactly the outputs
whose window holds it (a NaN or inf included), and a huge value elsewhere leaves an output's error alone.

naive:   each output sums its 2r+1 inputs with masked loads (zero padding).
blocked: the program's outputs form a [ROWS, SEG] tile, each row a run of SEG consecutive outputs with
         SEG a power of two <= 2r. For output k of a row starting at f, the window [f + k - r, f + k + r]
         splits into the suffix from k of A = x[f - r, f - r + SEG), the middle x[f - r + SEG, f + r)
         (2r - SEG values, the same for the whole row) and the prefix up to k of B = x[f + r, f + r +
         SEG): a reverse and a forward cumsum along the rows, and for SEG < 2r a row sum of the middle
         (under one tile per output, since 2r - SEG < SEG below the cap). Radius 0 is a copy and runs the
         naive kernel. A, B and the middle start r (or r - SEG) away from the outputs, which is rarely a
         16-byte boundary: each is loaded from the 16-byte boundary below its start as aligned rows of
         2 x VEC elements (VEC = 16 bytes of x) and moved into place in registers (tl.gather by the
         remainder), so the loads are 16-byte vectors for any radius.
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
def _runs(x_ptr, start, shift, n, ROWS: tl.constexpr, SEG: tl.constexpr, VEC: tl.constexpr):
    """x[start + shift + t] for t in [0, ROWS * SEG) as [ROWS, SEG] fp32 (zero outside [0, n)), where start
    is a multiple of VEC and 0 <= shift < VEC: aligned [G, 2 VEC] rows, the VEC wanted of each picked."""
    G: tl.constexpr = ROWS * SEG // VEC
    idx = start + tl.arange(0, G)[:, None] * VEC + tl.arange(0, 2 * VEC)[None, :]
    z = tl.load(x_ptr + idx, mask=(idx >= 0) & (idx < n), other=0.0).to(tl.float32)
    pick = tl.zeros((G, VEC), dtype=tl.int32) + tl.arange(0, VEC)[None, :] + shift
    return tl.reshape(tl.gather(z, pick, axis=1), (ROWS, SEG))


@triton.jit
def _blocked_kernel(x_ptr, out_ptr, n, a_vecs, a_shift, b_vecs, b_shift, m_vecs, m_shift, middle,
                    ROWS: tl.constexpr, SEG: tl.constexpr, VEC: tl.constexpr):  # fmt: skip
    """Offsets from the program's first output: A at -r, B at +r, the middle at SEG - r, each passed as
    VECs (a multiple of VEC: Triton sees the loads' alignment) and the remainder."""
    first = tl.program_id(0).to(tl.int64) * (ROWS * SEG)
    a = _runs(x_ptr, first + a_vecs * VEC, a_shift, n, ROWS, SEG, VEC)
    b = _runs(x_ptr, first + b_vecs * VEC, b_shift, n, ROWS, SEG, VEC)
    k = tl.arange(0, SEG)
    mid = tl.zeros([ROWS], dtype=tl.float32)
    # middle = 2r - SEG values: one pass below the cap (always, when SEG < VEC). The step, max(SEG, VEC),
    # keeps each pass's start a multiple of VEC that Triton can see.
    for c in range(0, middle, SEG * ((VEC + SEG - 1) // SEG)):
        m = _runs(x_ptr, first + m_vecs * VEC + c, m_shift, n, ROWS, SEG, VEC)
        mid += tl.sum(tl.where(k[None, :] + c < middle, m, 0.0), axis=1)
    out = tl.cumsum(a, axis=1, reverse=True) + mid[:, None] + tl.cumsum(b, axis=1)
    idx = first + tl.arange(0, ROWS)[:, None] * SEG + k[None, :]
    tl.store(out_ptr + idx, out.to(out_ptr.dtype.element_ty), mask=idx < n)


def blocked_launches(cfg, itemsize: int) -> list[dict]:
    """The constexprs of every blocked launch the config can pick for x of `itemsize` bytes (one per run
    length SEG)."""
    segs = sorted({cfg.triton_seg(r) for r in range(1, cfg.triton_max_seg)})
    return [{"ROWS": cfg.triton_tile // seg, "SEG": seg, "VEC": 16 // itemsize} for seg in segs]


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
    vec = 16 // x.element_size()
    offsets = [v for off in (-r, r, seg - r) for v in (off // vec, off % vec)]  # floor: VECs, remainder
    rows = cfg.triton_tile // seg
    _blocked_kernel[(triton.cdiv(n, cfg.triton_tile),)](
        x, out, n, *offsets, 2 * r - seg, ROWS=rows, SEG=seg, VEC=vec, num_warps=cfg.triton_warps
    )
    return out
