"""Argument checks shared by every window-sum launcher."""

from __future__ import annotations

from gpubench.kernels.checks import (
    require_contiguous,
    require_dtype,
    require_int,
    require_ndim,
    require_tensor,
)
from gpubench.kernels.workload import torch_dtypes

DTYPES = torch_dtypes("fp32", "fp16", "bf16")


def validate(x, radius) -> int:
    """Check the arguments; return the effective radius (a window wider than n sees only zeros past it)."""
    require_tensor("x", x)
    require_ndim("x", x, 1)
    require_dtype("x", x, DTYPES)
    require_contiguous("x", x)
    radius = require_int("radius", radius, minimum=0)
    return min(radius, max(x.numel() - 1, 0))
