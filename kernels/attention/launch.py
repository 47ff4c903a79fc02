"""What every attention launcher shares: the log2-domain constants, and the result where nothing needs
computing (no rows, or no keys: zeros and LSE +inf)."""

from __future__ import annotations

import math

import torch

from gpubench.kernels.attention.validate import Dims

LOG2E = 1.4426950408889634  # the kernels take exp2(x * log2(e)) for exp(x)
LN2 = 0.6931471805599453


def qk_scale(head_dim: int) -> float:
    """The scale of Q K^T in the log2 domain: log2(e) / sqrt(head_dim)."""
    return LOG2E / math.sqrt(head_dim)


def empty_result(q, d: Dims):
    """(O, LSE) where there is nothing to compute, else None."""
    if d.batch * d.heads * d.seq_q == 0 or d.seq_k == 0:
        o = torch.zeros_like(q)
        lse = torch.full((d.batch, d.heads, d.seq_q), math.inf, dtype=torch.float32, device=q.device)
        return o, lse
    return None
