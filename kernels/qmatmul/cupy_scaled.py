"""CUDA C scaled GEMMs launched through CuPy: int8 W8A8 (int8_gemm.cu: dp4a, and mma.sync m16n8k32 s8) and
fp8 e4m3 (fp8_gemm.cu: mma.sync m16n8k32 e4m3, sm_89+); both mma kernels are the 8-bit pipeline of
kernels/cuda_include/gpubench/byte_mma.cuh.

Each launcher takes (a, a_scale, b, b_scale, out_dtype) like kernels/qmatmul/triton_scaled.py: a [M, K]
and b [N, K] int8 (or float8_e4m3fn), row-major, on a CUDA device; fp32 scales (1,) or one per row;
out_dtype fp16, bf16, or (int8) int32, the raw accumulator. `plan` picks the instantiation and the launch
geometry from the sizes alone (no CUDA needed), so the host emulation (tests/support/cuda_host) launches
exactly the same way.
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
FP8_SOURCE = _cuda.source_path(__file__, "fp8_gemm.cu")
MMA_HEADER = _cuda.INCLUDE_DIR / "gpubench" / "byte_mma.cuh"  # the mma kernels' tile constants
# The outputs the kernels are instantiated for: fp16, bf16, and int32 (int8's raw accumulator).
OUT_SUFFIXES = tuple(dtypes.get(name).suffix for name in ("fp16", "bf16", "int32"))
KINDS = ("dp4a", "mma", "fp8")  # int8 dp4a, int8 mma.sync, fp8 e4m3 mma.sync
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
    """Why the mma kernels (int8 and fp8) cannot take these operands (None when they can)."""
    if K % 16:
        return f"the mma.sync kernel copies 16-byte chunks: K must be a multiple of 16, got K={K}"
    if not aligned:
        return "the mma.sync kernel needs a and b at 16-byte aligned addresses"
    return None


def plan(kind: str, suffix: str, M: int, N: int, K: int, *, aligned: bool = True) -> Launch:
    """Kernel and geometry for `kind` (KINDS) and output `suffix` (fp16, bf16; i32 for int8)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kernel kind {kind!r}; expected one of {', '.join(KINDS)}")
    if suffix not in OUT_SUFFIXES or (kind == "fp8" and suffix == "i32"):
        known = OUT_SUFFIXES[:2] if kind == "fp8" else OUT_SUFFIXES
        raise ValueError(f"unknown output {suffix!r} for {kind}; expected one of {sorted(known)}")
    if kind == "dp4a":
        (bm, bn, _), threads = config.DP4A_TILE, config.DP4A_THREADS
    else:
        problem = mma_problem(K, aligned)
        if problem:
            raise ValueError(problem)
        (bm, bn, _), threads = config.MMA_TILE, config.MMA_THREADS
    grid = (_cdiv(M, bm) * _cdiv(N, bn),)
    if kind == "fp8":
        return Launch(FP8_SOURCE, f"gemm_fp8_mma_{suffix}", grid, (threads,), config.CUDA_GROUP_M)
    return Launch(SOURCE, f"gemm_int8_{kind}_{suffix}", grid, (threads,), config.CUDA_GROUP_M)


def fp8_problem(device) -> str | None:
    """Why the fp8 mma.sync kernel cannot run on `device` (None when it can)."""
    if getattr(device, "type", "cpu") == "cuda":
        cap = torch.cuda.get_device_capability(device)
        if cap < (8, 9):
            return f"mma.sync with e4m3 operands needs sm_89 or newer; this GPU is sm_{cap[0]}{cap[1]}"
    return None


def _run(kind: str, a, a_scale, b, b_scale, out_dtype) -> torch.Tensor:
    for name, t in (("a", a), ("a_scale", a_scale), ("b", b), ("b_scale", b_scale)):
        require_cuda(name, t)
    if kind == "fp8" and (problem := fp8_problem(a.device)):
        raise ValueError(problem)
    operand = torch.float8_e4m3fn if kind == "fp8" else torch.int8
    s = _validate.scaled(a, a_scale, b, b_scale, out_dtype, operand)
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
    """Tensor cores through mma.sync.m16n8k32 s8 (K a multiple of 16, 16-byte aligned operands)."""
    return _run("mma", a, a_scale, b, b_scale, out_dtype)


def fp8_mma(a, a_scale, b, b_scale, out_dtype=torch.bfloat16) -> torch.Tensor:
    """Tensor cores through mma.sync.m16n8k32 e4m3 (sm_89+; K a multiple of 16, 16-byte aligned)."""
    return _run("fp8", a, a_scale, b, b_scale, out_dtype)
