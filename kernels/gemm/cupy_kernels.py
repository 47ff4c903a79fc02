"""CUDA C GEMMs launched through CuPy (sources: gemm_simple.cu, gemm_simt.cu, gemm_mma.cu).

Each launcher takes (a, b, allow_tf32) like every gemm variant: A is MxK, B is KxN, both row-major and
contiguous, on a CUDA device. None of these kernels uses TF32: with allow_tf32=True they still compute
in IEEE fp32, which is within the TF32 tolerance. `plan` picks the kernel instantiation and the launch
geometry from the sizes alone (no CUDA needed), so a host emulation can launch exactly the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gpubench.dtypes import kernel_suffix
from gpubench.kernels import cuda_loader as _cuda
from gpubench.kernels.checks import require_cuda, require_dtype
from gpubench.kernels.gemm import config
from gpubench.kernels.gemm.validate import empty_result, validate
from gpubench.kernels.workload import torch_dtypes

SIMPLE = _cuda.source_path(__file__, "gemm_simple.cu")
SIMT = _cuda.source_path(__file__, "gemm_simt.cu")
MMA = _cuda.source_path(__file__, "gemm_mma.cu")
_INT32_MAX = 2**31 - 1
_GRID_YZ_MAX = 65535


@dataclass(frozen=True)
class Launch:
    source: Path
    kernel: str  # extern "C" name in `source`
    grid: tuple[int, ...]
    block: tuple[int, ...]
    group_m: int | None  # the trailing int argument of the grouped-order kernels (SIMT and mma)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def plan(kind: str, suffix: str, M: int, N: int, K: int, *, aligned: bool = True) -> Launch:
    """Kernel and geometry for `kind` (naive, smem, simt, mma) on storage type `suffix` (fp32, fp16, bf16).

    `aligned`: the operands start at 16-byte aligned addresses (allows the vectorized instantiations).
    """
    if kind == "naive":
        bx, by = config.NAIVE_BLOCK
        grid = (_cdiv(N, bx), _cdiv(M, by))
        if grid[1] > _GRID_YZ_MAX:
            raise ValueError(f"M={M} exceeds the naive kernel's grid limit ({_GRID_YZ_MAX * by} rows)")
        return Launch(SIMPLE, f"gemm_naive_{suffix}", grid, (bx, by), None)
    if kind == "smem":
        t = config.SMEM_TILE
        grid = (_cdiv(N, t), _cdiv(M, t))
        if grid[1] > _GRID_YZ_MAX:
            raise ValueError(f"M={M} exceeds the shared-memory kernel's grid limit ({_GRID_YZ_MAX * t} rows)")
        return Launch(SIMPLE, f"gemm_smem_{suffix}", grid, (t, t), None)
    if kind == "simt":
        if suffix != "fp32":
            raise ValueError(f"the SIMT kernel is fp32 only, got {suffix}")
        bm, bn, _ = config.SIMT_TILE
        form = "vec4" if N % 4 == 0 and aligned else "scalar"
        grid = (_cdiv(M, bm) * _cdiv(N, bn),)
        return Launch(SIMT, f"gemm_simt_fp32_{form}", grid, (config.SIMT_THREADS,), config.CUDA_GROUP_M)
    if kind == "mma":
        if suffix not in ("fp16", "bf16"):
            raise ValueError(f"the mma kernel is fp16/bf16 only, got {suffix}")
        bm, bn, _ = config.MMA_TILE
        form = "aligned" if K % 8 == 0 and N % 8 == 0 and aligned else "any"
        grid = (_cdiv(M, bm) * _cdiv(N, bn),)
        return Launch(MMA, f"gemm_mma_{suffix}_{form}", grid, (config.MMA_THREADS,), config.CUDA_GROUP_M)
    raise ValueError(f"unknown kernel kind {kind!r}")


def _run(kind: str, a, b, allow_tf32) -> torch.Tensor:
    require_cuda("a", a)
    require_cuda("b", b)
    M, N, K = validate(a, b, allow_tf32)
    for name, n in (("M", M), ("N", N), ("K", K)):
        if n > _INT32_MAX:
            raise ValueError(f"{name}={n} does not fit the kernels' 32-bit size arguments")
    early = empty_result(a, M, N, K)
    if early is not None:
        return early
    c = torch.empty((M, N), dtype=a.dtype, device=a.device)
    aligned = all(t.data_ptr() % 16 == 0 for t in (a, b, c))
    p = plan(kind, kernel_suffix(a.dtype), M, N, K, aligned=aligned)
    args = [a, b, c, np.int32(M), np.int32(N), np.int32(K)]
    if p.group_m is not None:
        args.append(np.int32(p.group_m))
    _cuda.launch(_cuda.get_function(p.source, p.kernel), p.grid, p.block, tuple(args))
    return c


def gemm_naive(a: torch.Tensor, b: torch.Tensor, allow_tf32: bool = False) -> torch.Tensor:
    """One thread per output element (fp32, fp16, bf16 storage; fp32 accumulation)."""
    return _run("naive", a, b, allow_tf32)


def gemm_smem(a: torch.Tensor, b: torch.Tensor, allow_tf32: bool = False) -> torch.Tensor:
    """32x32 shared-memory tiles, one output per thread."""
    return _run("smem", a, b, allow_tf32)


def gemm_simt(a: torch.Tensor, b: torch.Tensor, allow_tf32: bool = False) -> torch.Tensor:
    """Register-blocked SIMT SGEMM (fp32 only, no tensor cores)."""
    require_cuda("a", a)
    require_dtype("a", a, torch_dtypes("fp32"))
    return _run("simt", a, b, allow_tf32)


def gemm_mma(a: torch.Tensor, b: torch.Tensor, allow_tf32: bool = False) -> torch.Tensor:
    """Tensor cores through mma.sync.m16n8k16 (fp16 and bf16)."""
    require_cuda("a", a)
    require_dtype("a", a, torch_dtypes("fp16", "bf16"))
    return _run("mma", a, b, allow_tf32)
