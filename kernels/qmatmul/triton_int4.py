"""Triton int4 weight-only GEMMs: out = x @ dequantise(w).T, with x [M, K] fp16/bf16 and w packed int4.

Weights arrive as kernels/qmatmul/quant.py packs them: [N, K/2] bytes (low nibble k = 2j, high nibble
k = 2j + 1, offset binary) and group scales [K/group, N] in x's dtype. Dequantisation happens in
registers: a tile of bytes [BLOCK_K/2, BLOCK_N] gives the even-k and odd-k weights as small integers
(exact in fp16/bf16), which meet the even and odd columns of the x tile (loaded contiguously, then split
in registers) in two tensor-core dots; the fp32 partial sum of the K tile is then multiplied by the
tile's group scale. So BLOCK_K never spans two groups: the launcher cuts BLOCK_K down to divide the
group (a per-channel group, group == K, is one group for every tile), and the arithmetic is exact up to
fp32 accumulation and the final rounding.

tiled:   one program per output tile (grouped launch order), for large M.
split_k: the small-batch schedule (M <= 16 is memory-bound): 16-row tiles, the K range of each output
         tile split over SPLIT_K programs that write fp32 partial sums, which a second kernel adds and
         rounds. N / BLOCK_N x SPLIT_K programs keep every SM streaming weights.
"""

from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl

from gpubench.kernels.qmatmul import config
from gpubench.kernels.qmatmul import validate as _validate
from gpubench.kernels.qmatmul.choose import best
from gpubench.kernels.tiles import Tile
from gpubench.kernels.triton_tiles import tile_coords as _tile_coords

MIN_BLOCK_K = 32  # each half-tile dot needs an inner size of at least 16
SUM_BLOCK = 1024  # outputs per program of the split-K sum


@triton.jit
def _int4_kernel(
    x_ptr, w_ptr, s_ptr, out_ptr, M, N, K, group, stride_xm, stride_wn, stride_sg, stride_om,
    k_per_split, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
):  # fmt: skip
    """One output tile over K range program_id(1) of the split: fp32 partials (split) or the output."""
    pid_m, pid_n = _tile_coords(tl.program_id(0), tl.cdiv(M, BLOCK_M), tl.cdiv(N, BLOCK_N), GROUP_M)
    rows = pid_m.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = pid_n.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    rows_in = tl.where(rows < M, rows, 0)
    cols_in = tl.where(cols < N, cols, 0)
    half = tl.arange(0, BLOCK_K // 2)
    ks = tl.arange(0, BLOCK_K)
    k_start = tl.program_id(1) * k_per_split
    k_end = tl.minimum(k_start + k_per_split, K)  # K, k_start and k_per_split are even
    x_rows = x_ptr + rows_in[:, None] * stride_xm
    w_cols = w_ptr + cols_in[None, :] * stride_wn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(k_start, k_end, BLOCK_K):
        j = k0 // 2 + half  # byte j holds k = 2j (low nibble) and 2j + 1 (high nibble)
        packed = tl.load(w_cols + j[:, None], mask=j[:, None] < k_end // 2, other=0x88)  # 0x88: two zeros
        lo = ((packed & 0xF).to(tl.int8) - 8).to(x_ptr.dtype.element_ty)  # [BLOCK_K/2, BLOCK_N]
        hi = ((packed >> 4).to(tl.int8) - 8).to(x_ptr.dtype.element_ty)
        xt = tl.load(x_rows + (k0 + ks)[None, :], mask=(k0 + ks)[None, :] < k_end, other=0.0)
        x_even, x_odd = tl.split(tl.reshape(xt, (BLOCK_M, BLOCK_K // 2, 2)))  # columns 2j and 2j + 1
        part = tl.dot(x_even, lo) + tl.dot(x_odd, hi)
        scale = tl.load(s_ptr + (k0 // group) * stride_sg + cols_in)
        acc += part * scale.to(tl.float32)[None, :]
    o_ptrs = out_ptr + tl.program_id(1).to(tl.int64) * M * N + rows[:, None] * stride_om + cols[None, :]
    tl.store(o_ptrs, acc.to(out_ptr.dtype.element_ty), mask=(rows[:, None] < M) & (cols[None, :] < N))


@triton.jit
def _sum_splits_kernel(part_ptr, out_ptr, MN, SPLIT_K: tl.constexpr, BLOCK: tl.constexpr):
    """out = sum over the SPLIT_K fp32 partial outputs, rounded once to out's dtype."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < MN
    total = tl.zeros((BLOCK,), dtype=tl.float32)
    for s in range(SPLIT_K):
        total += tl.load(part_ptr + s * MN + offs, mask=ok, other=0.0)
    tl.store(out_ptr + offs, total.to(out_ptr.dtype.element_ty), mask=ok)


def block_k_for(block_k: int, group: int, K: int) -> int | None:
    """The largest power-of-two fraction of `block_k` that keeps each K tile inside one group (None when
    even MIN_BLOCK_K does not divide the group)."""
    if group >= K:
        return block_k  # per-channel: one group
    bk = block_k
    while bk >= MIN_BLOCK_K and group % bk:
        bk //= 2
    return bk if bk >= MIN_BLOCK_K else None


def group_problem(group: int, K: int) -> str | None:
    """Why the kernels cannot take this group size (None when they can)."""
    if group < K and group % MIN_BLOCK_K:
        return f"the Triton int4 kernels need a group that is a multiple of {MIN_BLOCK_K} (or per-channel)"
    return None


def split_plan(t: Tile, K: int, group: int) -> tuple[int, int, int]:
    """(BLOCK_K, K per split, splits) of tile `t` for this K and group: BLOCK_K cut to the group, K split
    in whole K tiles, no empty splits."""
    bk = block_k_for(t.block_k, group, K)
    k_per_split = triton.cdiv(triton.cdiv(K, bk), t.split_k) * bk
    return bk, k_per_split, triton.cdiv(K, k_per_split)


def _launch(x, w_packed, w_scales, group, t: Tile) -> torch.Tensor:
    M, K = x.shape
    N = w_packed.shape[0]
    bk, k_per_split, split_k = split_plan(t, K, group)
    out = torch.empty((M, N), dtype=x.dtype, device=x.device)
    part = out if split_k == 1 else torch.empty((split_k, M, N), dtype=torch.float32, device=x.device)
    grid = (triton.cdiv(M, t.block_m) * triton.cdiv(N, t.block_n), split_k)
    _int4_kernel[grid](
        x, w_packed, w_scales, part, M, N, K, group, x.stride(0), w_packed.stride(0), w_scales.stride(0),
        N, k_per_split, BLOCK_M=t.block_m, BLOCK_N=t.block_n, BLOCK_K=bk, GROUP_M=t.group_m,
        num_warps=t.num_warps, num_stages=t.num_stages,
    )  # fmt: skip
    if split_k > 1:
        grid = (triton.cdiv(M * N, SUM_BLOCK),)
        _sum_splits_kernel[grid](part, out, M * N, SPLIT_K=split_k, BLOCK=SUM_BLOCK)
    return out


def _check(x, w_packed, w_scales, group):
    M, N, K = _validate.int4(x, w_packed, w_scales, group)
    problem = group_problem(group, K)
    if problem:
        raise ValueError(problem)
    return M, N, K, _validate.empty_result(M, N, K, x.dtype, x.device)


def _best(x, w_packed, w_scales, group, tiles: tuple[Tile, ...]) -> torch.Tensor:
    """The fastest of `tiles` for these sizes (kernels/qmatmul/choose.py)."""
    key = ("int4", x.shape[0], w_packed.shape[0], x.shape[1], group, x.dtype, x.device)
    return best(lambda t: _launch(x, w_packed, w_scales, group, t), tiles, key, x.device.type == "cuda")


def _on(device):
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def int4_matmul(x, w_packed, w_scales, group: int) -> torch.Tensor:
    """x @ dequantise(w).T with the tiled schedule (large M)."""
    M, N, K, early = _check(x, w_packed, w_scales, group)
    if early is not None:
        return early
    with _on(x.device):
        return _best(x, w_packed, w_scales, group, config.int4_tiled_tiles(x.device))


def int4_matmul_splitk(x, w_packed, w_scales, group: int) -> torch.Tensor:
    """x @ dequantise(w).T with the split-K schedule (small M)."""
    M, N, K, early = _check(x, w_packed, w_scales, group)
    if early is not None:
        return early
    with _on(x.device):
        return _best(x, w_packed, w_scales, group, config.int4_splitk_tiles(x.device))
