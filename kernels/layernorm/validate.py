"""Argument checks shared by the LayerNorm and RMSNorm launchers."""

from __future__ import annotations

import math
import numbers

from gpubench.kernels.checks import require_contiguous, require_dtype, require_ndim, require_tensor
from gpubench.kernels.workload import torch_dtypes

DTYPES = torch_dtypes("fp32", "fp16", "bf16")


def validate_eps(eps) -> float:
    """eps: a real number, finite and > 0; returned as a Python float."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be a float, got {type(eps).__name__}")
    eps = float(eps)
    if not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a finite float > 0, got {eps}")
    return eps


def validate_x(x, name: str = "x") -> None:
    require_tensor(name, x)
    require_ndim(name, x, 2)
    require_dtype(name, x, DTYPES)
    require_contiguous(name, x)


def validate_param(name: str, p, x) -> None:
    """A per-column parameter (weight, bias): shape [cols], x's dtype and device, contiguous."""
    require_tensor(name, p)
    if p.shape != (x.shape[1],):
        raise ValueError(
            f"{name} must have shape ({x.shape[1]},) to match x's {x.shape[1]} columns, got {tuple(p.shape)}"
        )
    if p.dtype != x.dtype:
        raise TypeError(f"{name} has dtype {p.dtype} but x has {x.dtype}")
    if p.device != x.device:
        raise ValueError(f"{name} is on {p.device} but x is on {x.device}")
    require_contiguous(name, p)


def validate_rowwise(name: str, t, x) -> None:
    """A tensor shaped like x (dy, out): same shape, dtype and device, contiguous."""
    require_tensor(name, t)
    if t.shape != x.shape:
        raise ValueError(f"{name} has shape {tuple(t.shape)} but x has {tuple(x.shape)}")
    if t.dtype != x.dtype:
        raise TypeError(f"{name} has dtype {t.dtype} but x has {x.dtype}")
    if t.device != x.device:
        raise ValueError(f"{name} is on {t.device} but x is on {x.device}")
    require_contiguous(name, t)


def validate_stat(name: str, t, x) -> None:
    """A per-row fp32 statistic (mean, rstd): rows elements ([rows] or [rows, 1]), on x's device."""
    require_tensor(name, t)
    if t.numel() != x.shape[0] or t.dim() not in (1, 2) or (t.dim() == 2 and t.shape[1] != 1):
        raise ValueError(f"{name} must have shape ({x.shape[0]},) or ({x.shape[0]}, 1), got {tuple(t.shape)}")
    require_dtype(name, t, torch_dtypes("fp32"))
    if t.device != x.device:
        raise ValueError(f"{name} is on {t.device} but x is on {x.device}")
    require_contiguous(name, t)


def validate_layernorm(x, weight, bias, eps) -> float:
    validate_x(x)
    validate_param("weight", weight, x)
    validate_param("bias", bias, x)
    return validate_eps(eps)


def validate_rmsnorm(x, weight, eps) -> float:
    validate_x(x)
    validate_param("weight", weight, x)
    return validate_eps(eps)
