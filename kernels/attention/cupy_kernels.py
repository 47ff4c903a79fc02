"""The CUDA C attention forward (attention.cu) launched through CuPy.

`plan` picks the instantiation and the launch geometry from the sizes alone (no CUDA needed), so the
host emulation in the tests launches exactly as the GPU does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gpubench.dtypes import kernel_suffix
from gpubench.kernels import cuda_loader as _cuda
from gpubench.kernels.attention import config
from gpubench.kernels.attention.launch import empty_result, qk_scale
from gpubench.kernels.attention.validate import validate
from gpubench.kernels.checks import require_cuda

SOURCE = _cuda.source_path(__file__, "attention.cu")
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Launch:
    kernel: str
    grid: tuple[int]
    block: tuple[int]
    m_tiles: int
    qk_scale: float  # log2(e) / sqrt(head_dim): the kernel works in the log2 domain


def plan(suffix: str, batch: int, heads: int, seq_q: int, head_dim: int) -> Launch:
    problem = config.cuda_head_dim_problem(head_dim)
    if problem:
        raise ValueError(problem)
    m_tiles = -(-seq_q // config.CUDA_BLOCK_M)
    blocks = m_tiles * batch * heads
    if blocks > _INT32_MAX:
        raise ValueError(f"{blocks} blocks exceed the CUDA grid's x limit")
    return Launch(f"attention_simt_{suffix}_d{head_dim}", (blocks,), (config.CUDA_THREADS,), m_tiles,
                  qk_scale(head_dim))  # fmt: skip


def forward(q, k, v, causal):
    """(O, LSE) of the CUDA C kernel; LSE fp32 [batch, heads, seq_q] in natural log."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        require_cuda(name, t)
    d = validate(q, k, v, causal)
    p = plan(kernel_suffix(q.dtype), d.batch, d.heads, d.seq_q, d.head_dim)
    for name, n in (("seq_q", d.seq_q), ("seq_k", d.seq_k), ("heads", d.heads)):
        if n > _INT32_MAX:
            raise ValueError(f"{name}={n} does not fit the kernel's 32-bit size arguments")
    done = empty_result(q, d)
    if done is not None:
        return done
    o = torch.empty_like(q)
    lse = torch.empty((d.batch, d.heads, d.seq_q), dtype=torch.float32, device=q.device)
    args = (q, k, v, o, lse, np.int32(d.heads), np.int32(d.group), np.int32(d.seq_q), np.int32(d.seq_k),
            np.int32(p.m_tiles), np.int32(d.causal), np.float32(p.qk_scale))  # fmt: skip
    _cuda.launch(_cuda.get_function(SOURCE, p.kernel), p.grid, p.block, args)
    return o, lse


def attention(q, k, v, causal):
    """The `cuda` variant: the output only."""
    return forward(q, k, v, causal)[0]
