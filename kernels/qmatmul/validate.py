"""Argument checks shared by the quantised-matmul launchers: clear errors instead of wrong answers."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gpubench.kernels.checks import (
    require_contiguous,
    require_dtype,
    require_ndim,
    require_same,
    require_tensor,
)
from gpubench.kernels.qmatmul import quant
from gpubench.kernels.workload import torch_dtypes

OUT_DTYPES = torch_dtypes("fp16", "bf16")
ACT_DTYPES = torch_dtypes("fp16", "bf16")


@dataclass(frozen=True)
class Scaled:
    """A checked scaled GEMM out = (a * a_scale) @ (b * b_scale).T: sizes and the scales' granularity."""

    M: int
    N: int
    K: int
    a_rows: bool  # one scale per row of a (per token), else one for the tensor
    b_rows: bool  # one scale per row of b (per output column), else one for the tensor


def scaled(a, a_scale, b, b_scale, out_dtype, operand_dtype) -> Scaled:
    """Check a [M, K] and b [N, K] of `operand_dtype` (int8 or float8_e4m3fn), both row-major, their fp32
    scales ((1,) or one per row), and the output dtype (fp16/bf16; int32 for int8's raw accumulator)."""
    for name, t in (("a", a), ("b", b)):
        require_tensor(name, t)
        require_ndim(name, t, 2)
        require_dtype(name, t, (operand_dtype,))
        require_contiguous(name, t)
    require_same(("a", "b", "a_scale", "b_scale"), (a, b, a_scale, b_scale), shape=False, dtype=False)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"inner dimensions differ: a is {tuple(a.shape)} (M x K) but b is {tuple(b.shape)} (N x K)"
        )
    allowed = OUT_DTYPES + (torch_dtypes("int32") if operand_dtype == torch.int8 else ())
    if out_dtype not in allowed:
        names = ", ".join(str(d).replace("torch.", "") for d in allowed)
        raise TypeError(f"out_dtype must be one of {names}, got {out_dtype}")
    a_gran = quant.check_scales("a_scale", a_scale, a.shape[0])
    b_gran = quant.check_scales("b_scale", b_scale, b.shape[0])
    return Scaled(a.shape[0], b.shape[0], a.shape[1], a_gran == "row", b_gran == "row")


def int4(x, w_packed, w_scales, group) -> tuple[int, int, int]:
    """Check x [M, K] (fp16/bf16), packed weights [N, K/2] uint8 and scales [K/group, N] in x's dtype;
    return (M, N, K)."""
    require_tensor("x", x)
    require_ndim("x", x, 2)
    require_dtype("x", x, ACT_DTYPES)
    require_contiguous("x", x)
    require_tensor("w_packed", w_packed)
    require_ndim("w_packed", w_packed, 2)
    require_dtype("w_packed", w_packed, (torch.uint8,))
    require_contiguous("w_packed", w_packed)
    require_same(("x", "w_packed", "w_scales"), (x, w_packed, w_scales), shape=False, dtype=False)
    M, K = x.shape
    N = w_packed.shape[0]
    if K % 2:
        raise ValueError(f"int4 weights pack two values a byte: K must be even, got K={K}")
    if w_packed.shape[1] * 2 != K:
        want = (N, K // 2)
        raise ValueError(f"w_packed is {tuple(w_packed.shape)}: expected (N, K/2) = {want} for K={K}")
    quant.check_int4_scales("w_scales", w_scales, K, N, group, x.dtype)
    require_contiguous("w_scales", w_scales)
    return M, N, K


def empty_result(M: int, N: int, K: int, dtype, device):
    """The output for a degenerate size (an empty C, or K == 0 where C is all zeros), else None."""
    if M == 0 or N == 0:
        return torch.empty((M, N), dtype=dtype, device=device)
    if K == 0:
        return torch.zeros((M, N), dtype=dtype, device=device)
    return None
