"""Argument checks shared by every attention launcher and baseline.

Layout: q is [batch, heads, seq_q, head_dim], k and v are [batch, kv_heads, seq_k, head_dim] (torch
SDPA's layout), contiguous, one dtype and one device; `heads` is a multiple of `kv_heads`.
"""

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
from gpubench.kernels.workload import torch_dtypes

DTYPES = torch_dtypes("fp32", "fp16", "bf16")
REFERENCE_DTYPES = (*DTYPES, *torch_dtypes("fp64"))  # the float64 reference takes float64 too


@dataclass(frozen=True)
class Dims:
    batch: int
    heads: int
    kv_heads: int
    seq_q: int
    seq_k: int
    head_dim: int
    causal: bool

    @property
    def group(self) -> int:
        """Query heads per kv head (1 for multi-head attention)."""
        return self.heads // self.kv_heads


def validate_causal(causal) -> bool:
    """causal: a bool, or the ints 0 and 1 (how the shape axis spells it)."""
    if isinstance(causal, bool):
        return causal
    if isinstance(causal, int) and causal in (0, 1):
        return bool(causal)
    raise TypeError(f"causal must be a bool (or 0/1), got {causal!r}")


def validate(q, k, v, causal, dtypes=DTYPES) -> Dims:
    """Check an attention call's arguments (q's dtype one of `dtypes`); return its sizes."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        require_tensor(name, t)
        require_ndim(name, t, 4)
    require_same(("q", "k", "v"), (q, k, v), shape=False)
    require_dtype("q", q, dtypes)
    batch, heads, seq_q, head_dim = q.shape
    if k.shape != v.shape:
        raise ValueError(
            f"k and v must have the same shape [batch, kv_heads, seq_k, head_dim]: k is {tuple(k.shape)}, "
            f"v is {tuple(v.shape)}"
        )
    kb, kv_heads, seq_k, kd = k.shape
    if kd != head_dim:
        raise ValueError(f"head_dim differs: q has {head_dim}, k and v have {kd}")
    if kb != batch:
        raise ValueError(f"batch differs: q has {batch}, k and v have {kb}")
    if kv_heads == 0 or heads % kv_heads:
        raise ValueError(f"heads ({heads}) must be a multiple of kv_heads ({kv_heads})")
    for name, t in (("q", q), ("k", k), ("v", v)):
        require_contiguous(name, t)
    return Dims(batch, heads, kv_heads, seq_q, seq_k, head_dim, validate_causal(causal))


def validate_like(name: str, t, like_name: str, like) -> None:
    """A tensor that must match `like` in shape, dtype and device (o and do against q), contiguous."""
    require_tensor(name, t)
    require_same((like_name, name), (like, t))
    require_contiguous(name, t)


def validate_lse(lse, dims: Dims, device) -> None:
    """The forward's log-sum-exp: fp32 [batch, heads, seq_q] on q's device."""
    require_tensor("lse", lse)
    want = (dims.batch, dims.heads, dims.seq_q)
    if tuple(lse.shape) != want:
        raise ValueError(f"lse must have shape {want}, got {tuple(lse.shape)}")
    if lse.dtype != torch.float32:
        raise TypeError(f"lse must be float32, got {lse.dtype}")
    if lse.device != device:
        raise ValueError(f"lse is on {lse.device} but q is on {device}")
    require_contiguous("lse", lse)
