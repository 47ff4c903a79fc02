"""Triton LayerNorm over the last dimension of a 2-D tensor: forward and backward, statistics in fp32.

Forward, one row per program:
    single pass (next_power_of_2(cols) <= config.single_pass_max_cols): the row is loaded once, then
        mean, var = mean((x - mean)^2) (two passes over registers, no cancellation) and
        y = (x - mean) * rstd * w + b, rstd = 1 / sqrt(var + eps);
    chunked (longer rows): pass 1 walks the row in chunks, each chunk's (count, mean, M2) merged into the
        running ones by Chan's parallel Welford update; pass 2 writes y. x is read twice.
    Optionally saves mean and rstd (fp32, one per row) for the backward.
Backward, from the saved mean and rstd (xhat = (x - mean) * rstd, g = w * dy), on chip up to
config.bwd_single_pass_max_cols columns, else two walks over each row's chunks:
    dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) per row;
    dw = sum over rows of dy * xhat, db = sum over rows of dy: each program owns a contiguous group of
    rows and writes its fp32 partial sums to one row of a [programs, cols] buffer (no atomics); a second
    small kernel sums the buffer's rows into dw and db.

Byte accounting (compulsory DRAM traffic):
    forward:  read x (rows*cols), weight, bias (cols each); write y (rows*cols)
    backward: read dy, x (rows*cols each), weight (cols), mean, rstd (rows fp32 each);
              write dx (rows*cols), dw, db (cols each). The fp32 partial-sum buffers (programs*cols,
              written then read) are extra traffic of this design, not compulsory.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from gpubench.kernels.layernorm.config import NormConfig, config_for
from gpubench.kernels.layernorm.validate import (
    validate_layernorm,
    validate_param,
    validate_rowwise,
    validate_stat,
    validate_x,
)


@triton.jit
def _fwd_single_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr, mean_ptr, rstd_ptr, n_cols, eps, BLOCK: tl.constexpr, SAVE_STATS: tl.constexpr
):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=0.0).to(tl.float32)
    mean = tl.sum(x, axis=0) / n_cols
    xc = tl.where(mask, x - mean, 0.0)
    rstd = tl.rsqrt(tl.sum(xc * xc, axis=0) / n_cols + eps)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(y_ptr + row * n_cols + cols, (xc * rstd * w + b).to(y_ptr.dtype.element_ty), mask=mask)
    if SAVE_STATS:
        tl.store(mean_ptr + row, mean)
        tl.store(rstd_ptr + row, rstd)


@triton.jit
def _fwd_chunked_kernel(
    x_ptr,
    w_ptr,
    b_ptr,
    y_ptr,
    mean_ptr,
    rstd_ptr,
    n_cols,
    n_chunks,
    eps,
    CHUNK: tl.constexpr,
    SAVE_STATS: tl.constexpr,
):
    base = tl.program_id(0).to(tl.int64) * n_cols
    offs = tl.arange(0, CHUNK)
    count = tl.zeros([], dtype=tl.float32)
    mean = tl.zeros([], dtype=tl.float32)
    m2 = tl.zeros([], dtype=tl.float32)  # sum of squared deviations from the running mean
    for c in range(0, n_chunks):
        idx = c * CHUNK + offs
        mask = idx < n_cols
        x = tl.load(x_ptr + base + idx, mask=mask, other=0.0).to(tl.float32)
        cnt = tl.sum(mask.to(tl.float32), axis=0)
        cmean = tl.sum(x, axis=0) / cnt
        d = tl.where(mask, x - cmean, 0.0)
        total = count + cnt
        delta = cmean - mean
        mean = mean + delta * (cnt / total)
        m2 = m2 + tl.sum(d * d, axis=0) + delta * delta * (count * cnt / total)
        count = total
    rstd = tl.rsqrt(m2 / n_cols + eps)
    for c in range(0, n_chunks):
        idx = c * CHUNK + offs
        mask = idx < n_cols
        x = tl.load(x_ptr + base + idx, mask=mask, other=0.0).to(tl.float32)
        w = tl.load(w_ptr + idx, mask=mask, other=0.0).to(tl.float32)
        b = tl.load(b_ptr + idx, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_ptr + base + idx, ((x - mean) * rstd * w + b).to(y_ptr.dtype.element_ty), mask=mask)
    if SAVE_STATS:
        tl.store(mean_ptr + tl.program_id(0), mean)
        tl.store(rstd_ptr + tl.program_id(0), rstd)


@triton.jit
def _bwd_single_kernel(
    dy_ptr,
    x_ptr,
    w_ptr,
    mean_ptr,
    rstd_ptr,
    dx_ptr,
    pw_ptr,
    pb_ptr,
    n_rows,
    n_cols,
    rows_per_program,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    cmask = cols < n_cols
    w = tl.load(w_ptr + cols, mask=cmask, other=0.0).to(tl.float32)
    dw = tl.zeros([BLOCK], dtype=tl.float32)
    db = tl.zeros([BLOCK], dtype=tl.float32)
    for i in range(0, rows_per_program):
        row = pid * rows_per_program + i
        # Whether this row exists, as a block: newer Triton interpreters refuse a block mask combined
        # with a scalar one ("mask has unsupported dtype"); the compiler folds `cols * 0` away.
        live = (cols * 0 + row) < n_rows
        mask = cmask & live
        off = row.to(tl.int64) * n_cols + cols
        x = tl.load(x_ptr + off, mask=mask, other=0.0).to(tl.float32)
        dy = tl.load(dy_ptr + off, mask=mask, other=0.0).to(tl.float32)
        # A past-the-end row reads the last row's statistics (never used: every load and store of that row
        # is masked by `live`); an in-bounds index needs no scalar mask, which newer interpreters refuse.
        stat = tl.minimum(row, n_rows - 1)
        mean = tl.load(mean_ptr + stat)
        rstd = tl.load(rstd_ptr + stat)
        xhat = tl.where(mask, (x - mean) * rstd, 0.0)
        g = w * dy
        c1 = tl.sum(xhat * g, axis=0) / n_cols
        c2 = tl.sum(g, axis=0) / n_cols
        dx = (g - (xhat * c1 + c2)) * rstd
        tl.store(dx_ptr + off, dx.to(dx_ptr.dtype.element_ty), mask=mask)
        dw += dy * xhat
        db += dy
    tl.store(pw_ptr + pid.to(tl.int64) * n_cols + cols, dw, mask=cmask)
    tl.store(pb_ptr + pid.to(tl.int64) * n_cols + cols, db, mask=cmask)


@triton.jit
def _bwd_chunked_kernel(
    dy_ptr,
    x_ptr,
    w_ptr,
    mean_ptr,
    rstd_ptr,
    dx_ptr,
    pw_ptr,
    pb_ptr,
    n_rows,
    n_cols,
    rows_per_program,
    n_chunks,
    CHUNK: tl.constexpr,
):
    # Rows too long for one block: two walks over each row's chunks (the sums, then dx); the program's
    # partial dw/db row lives in the (zero-initialised) buffer and is updated chunk by chunk.
    pid = tl.program_id(0)
    offs = tl.arange(0, CHUNK)
    prow = pid.to(tl.int64) * n_cols
    for i in range(0, rows_per_program):
        row = pid * rows_per_program + i
        live = (offs * 0 + row) < n_rows  # a block, as in _bwd_single_kernel
        base = row.to(tl.int64) * n_cols
        # A past-the-end row reads the last row's statistics (never used: every load and store of that row
        # is masked by `live`); an in-bounds index needs no scalar mask, which newer interpreters refuse.
        stat = tl.minimum(row, n_rows - 1)
        mean = tl.load(mean_ptr + stat)
        rstd = tl.load(rstd_ptr + stat)
        s1 = tl.zeros([CHUNK], dtype=tl.float32)
        s2 = tl.zeros([CHUNK], dtype=tl.float32)
        for c in range(0, n_chunks):
            idx = c * CHUNK + offs
            mask = (idx < n_cols) & live
            x = tl.load(x_ptr + base + idx, mask=mask, other=0.0).to(tl.float32)
            dy = tl.load(dy_ptr + base + idx, mask=mask, other=0.0).to(tl.float32)
            w = tl.load(w_ptr + idx, mask=mask, other=0.0).to(tl.float32)
            xhat = tl.where(mask, (x - mean) * rstd, 0.0)
            s1 += xhat * w * dy
            s2 += w * dy
        c1 = tl.sum(s1, axis=0) / n_cols
        c2 = tl.sum(s2, axis=0) / n_cols
        for c in range(0, n_chunks):
            idx = c * CHUNK + offs
            cmask = idx < n_cols
            mask = cmask & live
            x = tl.load(x_ptr + base + idx, mask=mask, other=0.0).to(tl.float32)
            dy = tl.load(dy_ptr + base + idx, mask=mask, other=0.0).to(tl.float32)
            w = tl.load(w_ptr + idx, mask=mask, other=0.0).to(tl.float32)
            xhat = tl.where(mask, (x - mean) * rstd, 0.0)
            dx = (w * dy - (xhat * c1 + c2)) * rstd
            tl.store(dx_ptr + base + idx, dx.to(dx_ptr.dtype.element_ty), mask=mask)
            pw = tl.load(pw_ptr + prow + idx, mask=cmask, other=0.0)
            pb = tl.load(pb_ptr + prow + idx, mask=cmask, other=0.0)
            tl.store(pw_ptr + prow + idx, pw + dy * xhat, mask=cmask)
            tl.store(pb_ptr + prow + idx, pb + dy, mask=cmask)


@triton.jit
def _sum_partials_kernel(
    pw_ptr, pb_ptr, dw_ptr, db_ptr, n_parts, n_cols, n_iters, BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr
):
    cols = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cmask = cols < n_cols
    acc_w = tl.zeros([BLOCK_P, BLOCK_N], dtype=tl.float32)
    acc_b = tl.zeros([BLOCK_P, BLOCK_N], dtype=tl.float32)
    for i in range(0, n_iters):
        parts = i * BLOCK_P + tl.arange(0, BLOCK_P)
        mask = (parts < n_parts)[:, None] & cmask[None, :]
        offs = parts.to(tl.int64)[:, None] * n_cols + cols[None, :]
        acc_w += tl.load(pw_ptr + offs, mask=mask, other=0.0)
        acc_b += tl.load(pb_ptr + offs, mask=mask, other=0.0)
    tl.store(dw_ptr + cols, tl.sum(acc_w, axis=0).to(dw_ptr.dtype.element_ty), mask=cmask)
    tl.store(db_ptr + cols, tl.sum(acc_b, axis=0).to(db_ptr.dtype.element_ty), mask=cmask)


def _forward(x, weight, bias, eps, cfg: NormConfig, save_stats: bool):
    n_rows, n_cols = x.shape
    y = torch.empty_like(x)
    if save_stats:
        mean = torch.empty(n_rows, device=x.device, dtype=torch.float32)
        rstd = torch.empty(n_rows, device=x.device, dtype=torch.float32)
    else:
        mean = rstd = y  # never written: SAVE_STATS is a constexpr
    if x.numel() == 0:
        if save_stats:
            mean.fill_(float("nan"))  # statistics of an empty row (only reachable with cols == 0)
            rstd.fill_(float("nan"))
        return y, mean, rstd
    block = triton.next_power_of_2(n_cols)
    if block <= cfg.single_pass_max_cols:
        _fwd_single_kernel[(n_rows,)](
            x, weight, bias, y, mean, rstd, n_cols, eps,
            BLOCK=block, SAVE_STATS=save_stats, num_warps=cfg.warps_for(block),
        )  # fmt: skip
    else:
        _fwd_chunked_kernel[(n_rows,)](
            x, weight, bias, y, mean, rstd, n_cols, triton.cdiv(n_cols, cfg.chunk), eps,
            CHUNK=cfg.chunk, SAVE_STATS=save_stats, num_warps=cfg.warps_for(cfg.chunk),
        )  # fmt: skip
    return y, mean, rstd


def layernorm_with_config(x, weight, bias, eps, cfg: NormConfig, save_stats: bool = False):
    """Forward with an explicit config (tests force either path); returns (y, mean, rstd) when
    save_stats, else y."""
    eps = validate_layernorm(x, weight, bias, eps)
    y, mean, rstd = _forward(x, weight, bias, eps, cfg, save_stats)
    return (y, mean, rstd) if save_stats else y


def layernorm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last dimension (biased variance)."""
    eps = validate_layernorm(x, weight, bias, eps)
    return _forward(x, weight, bias, eps, config_for(x.device), False)[0]


def layernorm_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5):
    """The forward that also saves the statistics: (y, mean, rstd), mean and rstd fp32 of shape [rows]."""
    eps = validate_layernorm(x, weight, bias, eps)
    return _forward(x, weight, bias, eps, config_for(x.device), True)


def _programs(n_rows: int, device, cfg: NormConfig) -> int:
    if device.type == "cuda":
        sms = torch.cuda.get_device_properties(device).multi_processor_count
        target = sms * cfg.bwd_programs_per_sm
    else:
        target = cfg.bwd_cpu_programs
    return max(1, min(n_rows, target))


def layernorm_backward_with_config(dy, x, weight, mean, rstd, cfg: NormConfig):
    validate_x(x)
    validate_rowwise("dy", dy, x)
    validate_param("weight", weight, x)
    validate_stat("mean", mean, x)
    validate_stat("rstd", rstd, x)
    n_rows, n_cols = x.shape
    dx = torch.empty_like(x)
    dw = torch.empty_like(weight)
    db = torch.empty_like(weight)
    if n_cols == 0:
        return dx, dw, db
    if n_rows == 0:
        return dx, dw.zero_(), db.zero_()
    rows_per_program = triton.cdiv(n_rows, _programs(n_rows, x.device, cfg))
    programs = triton.cdiv(n_rows, rows_per_program)  # no program without rows
    block = triton.next_power_of_2(n_cols)
    if block <= cfg.bwd_single_pass_max_cols:
        pw = torch.empty((programs, n_cols), device=x.device, dtype=torch.float32)
        pb = torch.empty_like(pw)
        _bwd_single_kernel[(programs,)](
            dy, x, weight, mean, rstd, dx, pw, pb, n_rows, n_cols, rows_per_program,
            BLOCK=block, num_warps=cfg.bwd_warps_for(block),
        )  # fmt: skip
    else:
        pw = torch.zeros((programs, n_cols), device=x.device, dtype=torch.float32)
        pb = torch.zeros_like(pw)
        _bwd_chunked_kernel[(programs,)](
            dy, x, weight, mean, rstd, dx, pw, pb, n_rows, n_cols, rows_per_program,
            triton.cdiv(n_cols, cfg.bwd_chunk), CHUNK=cfg.bwd_chunk,
            num_warps=cfg.bwd_warps_for(cfg.bwd_chunk),
        )  # fmt: skip
    _sum_partials_kernel[(triton.cdiv(n_cols, cfg.reduce_cols),)](
        pw, pb, dw, db, programs, n_cols, triton.cdiv(programs, cfg.reduce_rows),
        BLOCK_P=cfg.reduce_rows, BLOCK_N=cfg.reduce_cols, num_warps=4,
    )  # fmt: skip
    return dx, dw, db


def layernorm_backward(dy, x, weight, mean, rstd):
    """(dx, dw, db) of y = layernorm(x, weight, bias) given dy and the forward's fp32 mean and rstd.

    dx has x's dtype, dw and db the weight's; the row statistics are [rows] (or [rows, 1]) fp32.
    """
    return layernorm_backward_with_config(dy, x, weight, mean, rstd, config_for(x.device))
