"""The torch.compile baseline of attention: flex_attention, which torch.compile lowers to inductor's own
flash-style kernel (a decode kernel where the queries are few), with the suite's bottom-right causal mask as
a block mask and grouped-query attention through enable_gqa.

The block mask of a (seq_q, seq_k) is built once, outside the compiled call, and kept: building it runs
torch ops of its own, which are no part of the attention being timed.
"""

from __future__ import annotations

import functools

from gpubench.kernels import compiled
from gpubench.kernels.attention.support import bf16_needs_sm80


def _flex(q, k, v, block_mask, gqa):  # compiled by torch_compile
    from torch.nn.attention.flex_attention import flex_attention

    return flex_attention(q, k, v, block_mask=block_mask, enable_gqa=gqa)


@functools.cache
def block_mask(seq_q: int, seq_k: int, device: str):
    """Bottom-right causal: query i sees keys j <= i + seq_k - seq_q (kernels/attention/__init__.py)."""
    from torch.nn.attention.flex_attention import create_block_mask

    shift = seq_k - seq_q

    def causal(b, h, q_idx, kv_idx):
        return kv_idx <= q_idx + shift

    return create_block_mask(causal, None, None, seq_q, seq_k, device=device)


def supported(device, shape, dtype):
    if shape["seq_k"] == 0 or shape["seq_q"] == 0:
        return "flex_attention takes no empty sequence"
    return bf16_needs_sm80(device, dtype)


CORE = compiled.Compiled(_flex)


def flex_attention(q, k, v, causal):
    """The `torch_compile` variant's launcher on the workload's inputs."""
    from gpubench.kernels.attention.validate import validate

    d = validate(q, k, v, causal)
    mask = block_mask(d.seq_q, d.seq_k, str(q.device)) if d.causal else None
    return CORE(q, k, v, mask, d.heads != d.kv_heads)


VARIANT = compiled.variant(CORE, "flex_attention with a causal block mask", supported, flex_attention)
