"""Triton fused softmax over the last dimension of a 2-D tensor, fp32 math, output in the input dtype.

single pass (the row fits on chip, BLOCK = next_power_of_2(cols) <= config.single_pass_max_cols):
    each program loads a [ROWS, BLOCK] tile (short rows are packed several per program), takes the row
    max, exp(x - max), the row sum and writes exp(x - max) / sum: x is read from DRAM once.
two-pass online (longer rows, one row per program):
    pass 1 walks the row in chunks keeping a running max m and a sum rescaled whenever m grows
    (acc = acc * exp(m_old - m_new) + exp(x - m_new)); pass 2 writes exp(x - m) / sum. x is read twice
    (the second read mostly from L2), out written once.
Stability: the max is subtracted before exp, so inputs of +-1e4 do not overflow. -inf entries give
exp(-inf) = 0; a row of -inf only gives NaN (0/0), and a row holding +inf gives NaN, as torch does.

Byte accounting (compulsory DRAM traffic, per call), as in Triton's tutorial 02:
    read x:    rows * cols * itemsize
    write out: rows * cols * itemsize
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from gpubench.kernels.softmax.config import SoftmaxConfig, config_for
from gpubench.kernels.softmax.validate import validate


@triton.jit
def _softmax_single_kernel(x_ptr, out_ptr, n_rows, n_cols, ROWS: tl.constexpr, BLOCK: tl.constexpr):
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    cols = tl.arange(0, BLOCK)
    mask = (rows < n_rows)[:, None] & (cols < n_cols)[None, :]
    offs = rows.to(tl.int64)[:, None] * n_cols + cols[None, :]
    # Load, upcast, then mask to -inf (the interpreter keeps bf16 as raw bits, so no bf16 `other`).
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    x = tl.where(mask, x, float("-inf"))
    m = tl.max(x, axis=1)
    e = tl.exp(x - m[:, None])
    s = tl.sum(e, axis=1)
    y = e * (1.0 / s)[:, None]
    tl.store(out_ptr + offs, y.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _softmax_online_kernel(x_ptr, out_ptr, n_cols, n_chunks, CHUNK: tl.constexpr):
    base = tl.program_id(0).to(tl.int64) * n_cols
    cols = tl.arange(0, CHUNK)
    m = tl.full([], float("-inf"), tl.float32)  # running row max
    acc = tl.zeros([CHUNK], dtype=tl.float32)  # per-lane sums of exp(x - m), rescaled as m grows
    for c in range(0, n_chunks):
        idx = c * CHUNK + cols
        mask = idx < n_cols
        x = tl.load(x_ptr + base + idx, mask=mask, other=0.0).to(tl.float32)
        x = tl.where(mask, x, float("-inf"))
        m_new = tl.maximum(m, tl.max(x, axis=0))
        # While every value seen is -inf, subtract 0 instead of -inf: exp(-inf - -inf) would be NaN.
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        acc = acc * tl.exp(m - m_safe) + tl.exp(x - m_safe)
        m = m_new
    inv = 1.0 / tl.sum(acc, axis=0)  # a fully -inf row: 1/0 = inf, and exp(-inf - -inf) = NaN below
    for c in range(0, n_chunks):
        idx = c * CHUNK + cols
        mask = idx < n_cols
        x = tl.load(x_ptr + base + idx, mask=mask, other=0.0).to(tl.float32)
        tl.store(out_ptr + base + idx, (tl.exp(x - m) * inv).to(out_ptr.dtype.element_ty), mask=mask)


def plan(n_cols: int, cfg: SoftmaxConfig) -> dict:
    """The launch the config picks for rows of `n_cols` columns (also used by the tests)."""
    block = triton.next_power_of_2(max(n_cols, 1))
    if block <= cfg.single_pass_max_cols:
        rows = max(1, cfg.tile_elems // block)
        return {"path": "single", "BLOCK": block, "ROWS": rows, "num_warps": cfg.warps_for(rows * block)}
    chunk = cfg.online_chunk
    return {
        "path": "online",
        "CHUNK": chunk,
        "n_chunks": triton.cdiv(n_cols, chunk),
        "num_warps": cfg.online_warps,
    }


def softmax_with_config(x: torch.Tensor, cfg: SoftmaxConfig) -> torch.Tensor:
    """Softmax over the last dimension with an explicit config (tests force either path with it)."""
    validate(x)
    out = torch.empty_like(x)
    n_rows, n_cols = x.shape
    if out.numel() == 0:
        return out
    p = plan(n_cols, cfg)
    if p["path"] == "single":
        grid = (triton.cdiv(n_rows, p["ROWS"]),)
        _softmax_single_kernel[grid](
            x, out, n_rows, n_cols, ROWS=p["ROWS"], BLOCK=p["BLOCK"], num_warps=p["num_warps"]
        )
    else:
        _softmax_online_kernel[(n_rows,)](
            x, out, n_cols, p["n_chunks"], CHUNK=p["CHUNK"], num_warps=p["num_warps"]
        )
    return out


def softmax(x: torch.Tensor) -> torch.Tensor:
    """Fused softmax over the last dimension of a 2-D contiguous fp32/fp16/bf16 tensor."""
    validate(x)
    return softmax_with_config(x, config_for(x.device))
