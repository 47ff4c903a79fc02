"""torch.autograd wrapper of the Triton flash attention (the kernel modules hold no autograd).

    o = flash_attention(q, k, v, causal)   # q [batch, heads, seq_q, d], k/v [batch, kv_heads, seq_k, d]

The forward saves O and the row log-sum-exp; the backward runs the Triton dQ/dK/dV kernels on them.
"""

from __future__ import annotations

import torch

from gpubench.kernels.attention.triton_bwd import backward
from gpubench.kernels.attention.triton_fwd import forward


class FlashAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal=False):
        o, lse = forward(q, k, v, causal)
        ctx.save_for_backward(q, k, v, o, lse)
        ctx.causal = causal
        return o

    @staticmethod
    def backward(ctx, do):
        q, k, v, o, lse = ctx.saved_tensors
        dq, dk, dv = backward(do.contiguous(), q, k, v, o, lse, ctx.causal)
        return dq, dk, dv, None


def flash_attention(q, k, v, causal: bool = False):
    """Functional form of FlashAttention.apply."""
    return FlashAttention.apply(q, k, v, causal)
