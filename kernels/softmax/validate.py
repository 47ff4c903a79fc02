"""Argument checks shared by every softmax launcher."""

from __future__ import annotations

from gpubench.kernels.checks import require_contiguous, require_dtype, require_ndim, require_tensor
from gpubench.kernels.workload import torch_dtypes

DTYPES = torch_dtypes("fp32", "fp16", "bf16")


def validate(x) -> None:
    """x: a 2-D contiguous fp32/fp16/bf16 tensor; softmax runs over its last dimension."""
    require_tensor("x", x)
    require_ndim("x", x, 2)
    require_dtype("x", x, DTYPES)
    require_contiguous("x", x)
