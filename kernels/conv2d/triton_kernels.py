"""Triton implicit-GEMM convolution on channels_last (NHWC) tensors, with an optional fused bias + ReLU.

The GEMM is never materialised: row m of A is output pixel (n, p, q), column k of A is the tap (r, s) and
input channel c it multiplies, read straight from x at (n, p stride - padding + r dilation, q stride -
padding + s dilation, c), zero outside the input (the padding); B is the weights, [K][R][S][C/groups], so
that a K tile of B is contiguous in memory. One program computes a BLOCK_M x BLOCK_N tile of one group's
output (grid axis 1: the group), in the grouped launch order of kernels/gemm.

Two loops over the reduction, chosen per launch (FLAT):
  by tap:  for each (r, s), the channels in BLOCK_K steps: the pixel's bounds are checked once per tap and
           the channels load as contiguous vectors. For C / groups >= BLOCK_K (every layer past a stem).
  flat:    the reduction (r, s, c) in BLOCK_K steps, each entry's tap decoded on the fly: a stem with 1 or 3
           channels (ESPCN's, AlexNet's conv1) fills whole K tiles instead of wasting most of each.
The epilogue adds the bias and clamps at zero where asked (Conv + bias + ReLU in one pass: the output is
written once instead of three times), then rounds once to the output dtype.
"""

from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl

from gpubench.kernels.conv2d import config
from gpubench.kernels.conv2d.validate import Geometry, empty_output, validate
from gpubench.kernels.qmatmul.choose import best
from gpubench.kernels.tiles import Tile
from gpubench.kernels.triton_tiles import tile_coords as _tile_coords

INT32_LIMIT = 2**31


@triton.jit
def _conv_kernel(
    x_ptr, w_ptr, b_ptr, out_ptr, H, W, C, K, P, Q, R, S, Cg, Kg, M, stride, padding, dilation,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
    FLAT: tl.constexpr, HAS_BIAS: tl.constexpr, RELU: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    """Offsets are int32 (the launcher checks that every tensor has fewer than 2^31 elements): 64-bit
    pointer tiles double the registers a tile of addresses takes, and the kernel spilled with them."""
    pid_m, pid_n = _tile_coords(tl.program_id(0), tl.cdiv(M, BLOCK_M), tl.cdiv(Kg, BLOCK_N), GROUP_M)
    group = tl.program_id(1)
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = rows < M
    col_ok = cols < Kg
    m = tl.where(row_ok, rows, 0)
    ih0 = (m // Q) % P * stride - padding
    iw0 = m % Q * stride - padding
    x_row = m // (P * Q) * (H * W * C) + group * Cg  # pixel (n, 0, 0) of each row, this group's channel 0
    kout = group * Kg + tl.where(col_ok, cols, 0)
    w_col = kout * (R * S * Cg)  # filter kout's tap (0, 0), channel 0
    ks = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    if FLAT:  # the reduction (r, s, c) in BLOCK_K steps, each entry's tap decoded
        for k0 in range(0, R * S * Cg, BLOCK_K):
            k = k0 + ks
            k_ok = k < R * S * Cg
            c = k % Cg
            ih = ih0[:, None] + (k // (S * Cg) * dilation)[None, :]
            iw = iw0[:, None] + (k // Cg % S * dilation)[None, :]
            ok = row_ok[:, None] & k_ok[None, :] & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            a = tl.load(x_ptr + (x_row[:, None] + (ih * W + iw) * C + c[None, :]), mask=ok, other=0.0)
            b_ok = k_ok[:, None] & col_ok[None, :]
            b = tl.load(w_ptr + (w_col[None, :] + k[:, None]), mask=b_ok, other=0.0)
            acc = tl.dot(a, b, acc, input_precision=PRECISION)
    else:  # tap by tap, BLOCK_K channels at a time: one flat loop over (tap, channel step)
        steps = tl.cdiv(Cg, BLOCK_K)
        for it in range(0, R * S * steps):
            tap = it // steps
            c = it % steps * BLOCK_K + ks
            c_ok = c < Cg
            ih = ih0 + tap // S * dilation
            iw = iw0 + tap % S * dilation
            ok = row_ok & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            pix = x_row + tl.where(ok, ih * W + iw, 0) * C
            a = tl.load(x_ptr + (pix[:, None] + c[None, :]), mask=ok[:, None] & c_ok[None, :], other=0.0)
            b_ok = c_ok[:, None] & col_ok[None, :]
            b = tl.load(w_ptr + (w_col[None, :] + (tap * Cg + c)[:, None]), mask=b_ok, other=0.0)
            acc = tl.dot(a, b, acc, input_precision=PRECISION)
    if HAS_BIAS:
        acc += tl.load(b_ptr + kout).to(tl.float32)[None, :]
    if RELU:
        acc = tl.maximum(acc, 0.0)
    out = out_ptr + (rows[:, None] * K + (group * Kg + cols)[None, :])
    tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=row_ok[:, None] & col_ok[None, :])


def flat(t: Tile, g: Geometry) -> bool:
    """The flat reduction loop where one tap has fewer channels than a K tile (the stems)."""
    return g.Cg < t.block_k


def _launch(x, w, bias, out, g: Geometry, relu: bool, t: Tile) -> torch.Tensor:
    precision = "ieee" if x.dtype == torch.float32 else "tf32"  # only fp32 dots read it: IEEE fp32
    grid = (triton.cdiv(g.M, t.block_m) * triton.cdiv(g.Kg, t.block_n), g.groups)
    _conv_kernel[grid](
        x, w, bias if bias is not None else w, out, g.H, g.W, g.C, g.K, g.P, g.Q, g.R, g.S, g.Cg, g.Kg, g.M,
        g.stride, g.padding, g.dilation, FLAT=flat(t, g), HAS_BIAS=bias is not None, RELU=relu,
        PRECISION=precision, **t.launch_kwargs(),
    )  # fmt: skip
    return out


def _run(x, w, bias, stride, padding, dilation, groups, relu: bool) -> torch.Tensor:
    g = validate(x, w, bias, stride, padding, dilation, groups)
    for name, n in (("x", x.numel()), ("w", w.numel()), ("the output", g.M * g.K)):
        if n >= INT32_LIMIT:
            raise ValueError(f"{name} has {n} elements: the Triton kernel's int32 offsets hold under 2^31")
    out = empty_output(x, g)
    if g.M == 0 or g.K == 0:
        return out
    tiles = config.tiles(x.device, "fp32" if x.dtype == torch.float32 else "half")
    key = ("conv2d", g, relu, bias is not None, x.dtype, x.device)
    on = torch.cuda.device(x.device) if x.device.type == "cuda" else contextlib.nullcontext()
    with on:
        return best(lambda t: _launch(x, w, bias, out, g, relu, t), tiles, key, x.device.type == "cuda")


def conv2d(x, w, stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1) -> torch.Tensor:
    """The convolution alone (no bias)."""
    return _run(x, w, None, stride, padding, dilation, groups, relu=False)


def conv2d_bias_relu(x, w, bias, stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1):
    """relu(conv(x, w) + bias) in one kernel: the fused epilogue."""
    if bias is None:
        raise ValueError("bias is required: conv2d_bias_relu adds it in its epilogue")
    return _run(x, w, bias, stride, padding, dilation, groups, relu=True)
