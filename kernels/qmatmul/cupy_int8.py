"""CUDA C int8 W8A8 GEMMs launched through CuPy (source: int8_gemm.cu): dp4a and mma.sync m16n8k32.

Each launcher takes (a, a_scale, b, b_scale, out_dtype) like kernels/qmatmul/triton_scaled.py: a [M, K]
and b [N, K] int8, row-major, on a CUDA device; fp32 scales (1,) or one per row; out_dtype fp16, bf16 or
int32 (the raw accumulator). `plan` picks the instantiation and the launch geometry from the sizes alone
(no CUDA needed), so the host emulation (tests/support/cuda_host) launches exactly the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gpubench import dtypes
from gpubench.kernels import cuda_loader as _cuda
from gpubench.kernels.checks import require_cuda
from gpubench.kernels.qmatmul import config
from gpubench.kernels.qmatmul import validate as _validate

SOURCE = _cuda.source_path(__file__, "int8_gemm.cu")
# The outputs int8_gemm.cu is instantiated for: fp16, bf16, and int32 (the raw accumulator).
OUT_SUFFIXES = tuple(dtypes.get(name).suffix for name in ("fp16", "bf16", "int32"))
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Launch:
    source: Path
    kernel: str  # extern "C" name in `source`
    grid: tuple[int, ...]
    block: tuple[int, ...]
    group_m: int


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def mma_problem(K: int, aligned: bool = True) -> str | None:
    """Why the mma kernel cannot take these operands (None when it can)."""
    if K % 16:
        return f"the mma.sync kernel copies 16-byte chunks: K must be a multiple of 16, got K={K}"
    if not aligned:
        return "the mma.sync kernel needs a and b at 16-byte aligned addresses"
    return None


def plan(kind: str, suffix: str, M: int, N: int, K: int, *, aligned: bool = True) -> Launch:
    """Kernel and geometry for `kind` ("dp4a" or "mma") and output `suffix` (fp16, bf16, i32)."""
    if suffix not in OUT_SUFFIXES:
        raise ValueError(f"unknown output {suffix!r}; expected one of {sorted(OUT_SUFFIXES)}")
    if kind == "dp4a":
        bm, bn, _ = config.DP4A_TILE
        threads = config.DP4A_THREADS
    elif kind == "mma":
        problem = mma_problem(K, aligned)
        if problem:
            raise ValueError(problem)
        bm, bn, _ = config.MMA_TILE
        threads = config.MMA_THREADS
    else:
        raise ValueError(f"unknown kernel kind {kind!r}; expected 'dp4a' or 'mma'")
    grid = (_cdiv(M, bm) * _cdiv(N, bn),)
    return Launch(SOURCE, f"gemm_int8_{kind}_{suffix}", grid, (threads,), config.CUDA_GROUP_M)


def _run(kind: str, a, a_scale, b, b_scale, out_dtype) -> torch.Tensor:
    for name, t in (("a", a), ("a_scale", a_scale), ("b", b), ("b_scale", b_scale)):
        require_cuda(name, t)
    s = _validate.scaled(a, a_scale, b, b_scale, out_dtype, torch.int8)
    for name, n in (("M", s.M), ("N", s.N), ("K", s.K)):
        if n > _INT32_MAX:
            raise ValueError(f"{name}={n} does not fit the kernels' 32-bit size arguments")
    early = _validate.empty_result(s.M, s.N, s.K, out_dtype, a.device)
    if early is not None:
        return early
    c = torch.empty((s.M, s.N), dtype=out_dtype, device=a.device)
    aligned = a.data_ptr() % 16 == 0 and b.data_ptr() % 16 == 0
    p = plan(kind, dtypes.kernel_suffix(out_dtype), s.M, s.N, s.K, aligned=aligned)
    args = (a, b, a_scale, b_scale, c, *map(np.int32, (s.M, s.N, s.K, s.a_rows, s.b_rows, p.group_m)))
    _cuda.launch(_cuda.get_function(p.source, p.kernel), p.grid, p.block, args)
    return c


def int8_dp4a(a, a_scale, b, b_scale, out_dtype=torch.bfloat16) -> torch.Tensor:
    """The simple version: dp4a on shared-memory tiles, any sizes and alignment."""
    return _run("dp4a", a, a_scale, b, b_scale, out_dtype)


def int8_mma(a, a_scale, b, b_scale, out_dtype=torch.bfloat16) -> torch.Tensor:
    """Tensor cores through mma.sync.m16n8k32 (K a multiple of 16, 16-byte aligned operands)."""
    return _run("mma", a, a_scale, b, b_scale, out_dtype)
