"""Argument checks shared by every GEMM launcher, and the TF32 switch of torch's matmuls."""

from __future__ import annotations

import contextlib

import torch

from gpubench.kernels.checks import (
    require_contiguous,
    require_dtype,
    require_ndim,
    require_same,
    require_tensor,
)
from gpubench.kernels.workload import torch_dtypes

DTYPES = torch_dtypes("fp32", "fp16", "bf16")


def validate(a, b, allow_tf32) -> tuple[int, int, int]:
    """Check C = A @ B's arguments (A is MxK, B is KxN, both row-major); return (M, N, K)."""
    require_tensor("a", a)
    require_tensor("b", b)
    require_ndim("a", a, 2)
    require_ndim("b", b, 2)
    require_same(("a", "b"), (a, b), shape=False)
    require_dtype("a", a, DTYPES)
    if a.shape[1] != b.shape[0]:
        raise ValueError(
            f"inner dimensions differ: a is {tuple(a.shape)} (M x K) but b is {tuple(b.shape)} (K x N)"
        )
    require_contiguous("a", a)
    require_contiguous("b", b)
    if not isinstance(allow_tf32, bool):
        raise TypeError(f"allow_tf32 must be a bool, got {type(allow_tf32).__name__}")
    if allow_tf32 and a.dtype != torch.float32:
        raise ValueError(f"allow_tf32=True applies to float32 inputs only, got {a.dtype}")
    return a.shape[0], b.shape[1], a.shape[1]


def empty_result(a, M: int, N: int, K: int):
    """The output for a degenerate size (an empty C, or K == 0 where C is all zeros), else None."""
    if M == 0 or N == 0:
        return torch.empty((M, N), dtype=a.dtype, device=a.device)
    if K == 0:
        return torch.zeros((M, N), dtype=a.dtype, device=a.device)
    return None


@contextlib.contextmanager
def matmul_tf32(allowed: bool):
    """torch matmuls (cuBLAS) with TF32 allowed or not for fp32 inputs; the previous setting is restored.

    Uses the legacy `torch.backends.cuda.matmul.allow_tf32` flag. torch >= 2.9 refuses to read that
    flag once the new `fp32_precision` API has been used in the process; then the new API is used.
    """
    m = torch.backends.cuda.matmul
    try:
        previous = m.allow_tf32
        legacy = True
    except RuntimeError:
        previous = m.fp32_precision
        legacy = False
    if legacy:
        m.allow_tf32 = bool(allowed)
    else:
        m.fp32_precision = "tf32" if allowed else "ieee"
    try:
        yield
    finally:
        if legacy:
            m.allow_tf32 = previous
        else:
            m.fp32_precision = previous
