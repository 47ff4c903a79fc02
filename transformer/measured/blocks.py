"""A LLaMA-style transformer block in plain torch, built from a model config with random weights.

The block runs the operators of transformer.operators in the same order and grouping (one QKV
GEMM, one gate-and-up GEMM), so the layer timed as one module, the layer profiled node by node and the
sum of its operators describe the same computation:

    x -> norm -> QKV -> rotary (Q, K) -> causal attention (SDPA, grouped KV heads) -> O -> + x
      -> norm -> gate_up -> silu(gate) * up -> down -> + x          (GELU MLP: fc1 -> gelu -> fc2)

Without a cache it is a prefill over its input. With one (`cache_context`) it is a step of `seq` new
tokens against a KV cache of `cache_context` keys: the new K and V are written into the cache's last
`seq` slots and attention reads all of it, bottom-right causal (the new tokens see every earlier key).
Nothing is downloaded: weights come from torch's default initialisation, on the device asked for.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LlamaBlock", "block_from_config", "block_inputs"]


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding, the rotate-half convention: pairs (i, i + d/2) turned by the position's angle."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def _rope_tables(
    start: int, seq: int, head_dim: int, base: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the angles of positions start .. start + seq - 1, [seq, head_dim / 2] each."""
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(start, start + seq, dtype=torch.float64)[:, None] * inv[None, :]
    return angles.cos().float(), angles.sin().float()


class LlamaBlock(nn.Module):
    """One pre-norm transformer layer over inputs of `seq` tokens. `cache_context`: a step of `seq` new
    tokens against a KV cache of that many keys (their own included) for `batch` sequences; else a
    prefill, causal over the input. The rotary tables hold exactly the input's positions, so the graph has
    no shape-dependent slicing (torch.fx traces it as it is)."""

    def __init__(
        self,
        hidden: int,
        heads: int,
        kv_heads: int,
        head_dim: int,
        ffn: int,
        *,
        seq: int,
        activation: str = "swiglu",
        norm: str = "rmsnorm",
        bias: bool = False,
        rope: bool = True,
        eps: float = 1e-5,
        cache_context: int | None = None,
        batch: int = 1,
    ):
        super().__init__()
        if heads % kv_heads:
            raise ValueError(f"heads ({heads}) must be a multiple of kv_heads ({kv_heads})")
        if rope and head_dim % 2:
            raise ValueError(f"rotary embedding needs an even head_dim, got {head_dim}")
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.q_dim, self.kv_dim, self.ffn, self.activation = (
            heads * head_dim,
            kv_heads * head_dim,
            ffn,
            activation,
        )
        make_norm = (
            (lambda: nn.RMSNorm(hidden, eps=eps))
            if norm == "rmsnorm"
            else (lambda: nn.LayerNorm(hidden, eps=eps))
        )
        self.attn_norm, self.mlp_norm = make_norm(), make_norm()
        self.qkv_proj = nn.Linear(hidden, self.q_dim + 2 * self.kv_dim, bias=bias)
        self.o_proj = nn.Linear(self.q_dim, hidden, bias=bias)
        if activation == "swiglu":
            self.gate_up_proj = nn.Linear(hidden, 2 * ffn, bias=bias)
            self.down_proj = nn.Linear(ffn, hidden, bias=bias)
        else:
            self.fc1, self.fc2 = nn.Linear(hidden, ffn, bias=bias), nn.Linear(ffn, hidden, bias=bias)
        self.cache_context, self.start = cache_context, 0
        if cache_context is not None:
            if not 1 <= seq <= cache_context:
                raise ValueError(f"seq must be in [1, cache_context={cache_context}], got {seq}")
            self.start = cache_context - seq  # the new tokens' first position
            shape = (batch, kv_heads, cache_context, head_dim)
            self.register_buffer("k_cache", torch.randn(shape), persistent=False)
            self.register_buffer("v_cache", torch.randn(shape), persistent=False)
            # Bottom-right causal: new token i sees keys j <= start + i. One new token sees every key.
            mask = torch.ones(seq, cache_context, dtype=torch.bool).tril(self.start)
            self.register_buffer("mask", mask if seq > 1 else None, persistent=False)
        self.rope = rope
        if rope:
            cos, sin = _rope_tables(self.start, seq, head_dim)
            self.register_buffer("cos", cos, persistent=False)
            self.register_buffer("sin", sin, persistent=False)

    def _attention(self, q, k, v):
        gqa = self.heads != self.kv_heads
        if self.cache_context is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
        self.k_cache[:, :, self.start :] = k
        self.v_cache[:, :, self.start :] = v
        return F.scaled_dot_product_attention(
            q, self.k_cache, self.v_cache, attn_mask=self.mask, enable_gqa=gqa
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        h = self.attn_norm(x)
        q, k, v = self.qkv_proj(h).split([self.q_dim, self.kv_dim, self.kv_dim], dim=-1)
        q = q.view(batch, seq, self.heads, self.head_dim).transpose(1, 2)
        k = k.view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        v = v.view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        if self.rope:
            q, k = rotate(q, self.cos, self.sin), rotate(k, self.cos, self.sin)
        o = self._attention(q, k, v)
        x = x + self.o_proj(o.transpose(1, 2).reshape(batch, seq, self.q_dim))
        h = self.mlp_norm(x)
        if self.activation == "swiglu":
            gate, up = self.gate_up_proj(h).chunk(2, dim=-1)
            return x + self.down_proj(F.silu(gate) * up)
        return x + self.fc2(F.gelu(self.fc1(h), approximate="tanh"))


def block_from_config(
    cfg,
    *,
    device="cpu",
    dtype=torch.float32,
    phase: str = "prefill",
    batch: int = 1,
    seq: int = 1,
    context: int | None = None,
) -> LlamaBlock:
    """One layer of `cfg` (a transformer ModelConfig), random weights made on `device`. Decode,
    or a prefill whose context exceeds its prompt, runs against a KV cache of `context` keys."""
    context = seq if context is None else context
    cached = phase == "decode" or context > seq
    with torch.device(device):
        block = LlamaBlock(
            cfg.hidden,
            cfg.heads,
            cfg.kv_heads,
            cfg.head_dim,
            cfg.ffn,
            seq=seq,
            activation=cfg.activation,
            norm=cfg.norm,
            bias=cfg.bias,
            rope=cfg.position == "rope",
            cache_context=context if cached else None,
            batch=batch,
        )
    return block.to(dtype).eval()


def block_inputs(cfg, *, device="cpu", dtype=torch.float32, batch: int = 1, seq: int = 1, seed: int = 0):
    """The block's input: random hidden states [batch, seq, hidden] (never zeros)."""
    g = torch.Generator(device=device).manual_seed(seed)
    return (torch.randn(batch, seq, cfg.hidden, generator=g, device=device, dtype=torch.float32).to(dtype),)
