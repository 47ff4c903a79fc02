"""The CUDA C int4 weight-only GEMM (int4_gemm.cu) launched through CuPy: mma.sync m16n8k16 on fp16/bf16,
the weights dequantised in registers.

The launcher takes (x, w_packed, w_scales, group) like kernels/qmatmul/triton_int4.py: x [M, K] fp16/bf16,
w_packed [N, K/2] uint8 and w_scales [K/group, N] in x's dtype (kernels/qmatmul/quant.py's format), on a
CUDA device. `plan` gives the kernel and its launch from the sizes alone (no CUDA needed), so the host
emulation (tests/support/cuda_host) launches exactly the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gpubench import dtypes
from gpubench.kernels import cuda_loader as _cuda
from gpubench.kernels.qmatmul import config

SOURCE = _cuda.source_path(__file__, "int4_gemm.cu")
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Launch:
    source: Path
    kernel: str
    grid: tuple[int, ...]
    block: tuple[int, ...]
    group_m: int


def problem(K: int, group: int, aligned: bool = True) -> str | None:
    """Why the kernel cannot take these operands (None when it can)."""
    step = config.INT4_MMA_TILE[2]
    if K % step:
        return f"the mma.sync int4 kernel steps 32 k at a time: K must be a multiple of {step}, got K={K}"
    if group < K and group % step:
        return f"the mma.sync int4 kernel needs a group that is a multiple of {step} (or per-channel)"
    if not aligned:
        return "the mma.sync int4 kernel needs x and w_packed at 16-byte aligned addresses"
    return None


def plan(suffix: str, M: int, N: int, K: int, group: int, *, aligned: bool = True) -> Launch:
    """Kernel and geometry for activations `suffix` (fp16, bf16)."""
    if suffix not in ("fp16", "bf16"):
        raise ValueError(f"the int4 kernel takes fp16 or bf16 activations, got {suffix!r}")
    if why := problem(K, group, aligned):
        raise ValueError(why)
    bm, bn, _ = config.INT4_MMA_TILE
    grid = (-(-M // bm) * -(-N // bn),)
    return Launch(SOURCE, f"gemm_int4_mma_{suffix}", grid, (config.INT4_MMA_THREADS,), config.CUDA_GROUP_M)


def int4_mma(x, w_packed, w_scales, group: int):
    """x @ dequantise(w).T through tensor cores, the weights dequantised in registers."""
    import numpy as np
    import torch

    from gpubench.kernels.checks import require_cuda
    from gpubench.kernels.qmatmul import validate

    for name, t in (("x", x), ("w_packed", w_packed), ("w_scales", w_scales)):
        require_cuda(name, t)
    M, N, K = validate.int4(x, w_packed, w_scales, group)
    for name, n in (("M", M), ("N", N), ("K", K)):
        if n > _INT32_MAX:
            raise ValueError(f"{name}={n} does not fit the kernel's 32-bit size arguments")
    early = validate.empty_result(M, N, K, x.dtype, x.device)
    if early is not None:
        return early
    out = torch.empty((M, N), dtype=x.dtype, device=x.device)
    aligned = x.data_ptr() % 16 == 0 and w_packed.data_ptr() % 16 == 0
    p = plan(dtypes.kernel_suffix(x.dtype), M, N, K, group, aligned=aligned)
    args = (x, w_packed, w_scales, out, *map(np.int32, (M, N, K, group, p.group_m)))
    _cuda.launch(_cuda.get_function(p.source, p.kernel), p.grid, p.block, args)
    return out
