"""Each operator of a layer as a plain torch call at its shape, with random inputs (never zeros): what the
layer runner times where no workload of the suite covers an operator, and the building blocks whose
FLOPs the CPU tests hold to the operator's count.

GEMM weights are [K, N] in the activations' dtype: the torch stand-in of a quantised GEMM runs it
unquantised, and says so. Attention is SDPA with grouped KV heads, bottom-right causal; the unfused
scores and context are batched GEMMs with the query heads grouped under their KV head (K and V are not
repeated per query head).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gpubench.transformer.measured.blocks import rotate
from gpubench.transformer.operators import Operator

__all__ = ["torch_op"]


def _randn(*shape, dtype, device, g):
    return torch.randn(*shape, generator=g, device=device, dtype=torch.float32).to(dtype)


def _causal_mask(sq: int, sk: int, device) -> torch.Tensor | None:
    if sq == 1:
        return None
    return torch.ones(sq, sk, dtype=torch.bool, device=device).tril(sk - sq)


def _attention(op: Operator, r):
    s = op.shape
    q = r(s["batch"], s["heads"], s["seq_q"], s["head_dim"])
    k, v = (r(s["batch"], s["kv_heads"], s["seq_k"], s["head_dim"]) for _ in range(2))
    gqa = s["heads"] != s["kv_heads"]
    if s["seq_q"] == s["seq_k"]:
        return lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa), (
            q,
            k,
            v,
        )
    mask = _causal_mask(s["seq_q"], s["seq_k"], q.device)
    return (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=gqa)), (
        q,
        k,
        v,
    )


def _grouped_bmm(op: Operator, r, heads: int, kv_heads: int):
    """S = Q K^T or O = P V as [batch, kv_heads, group * M, K] @ [batch, kv_heads, K, N]."""
    s = op.shape
    batch = s["batch"] // heads
    a = r(batch, kv_heads, heads // kv_heads * s["M"], s["K"])
    b = r(batch, kv_heads, s["K"], s["N"])
    return torch.matmul, (a, b)


def torch_op(op: Operator, *, heads: int, kv_heads: int, device="cpu", dtype=torch.float32, seed: int = 0):
    """(fn, inputs) computing `op` at its shape on `device`; `heads`/`kv_heads` are the model's."""
    g = torch.Generator(device=device).manual_seed(seed)
    r = lambda *shape: _randn(*shape, dtype=dtype, device=device, g=g)  # noqa: E731
    s = op.shape
    if op.kind == "gemm":
        a, w = r(s["M"], s["K"]), r(s["K"], s["N"])
        return torch.matmul, (a, w)
    if op.name == "attention":
        return _attention(op, r)
    if op.name in ("attn_scores", "attn_context"):
        return _grouped_bmm(op, r, heads, kv_heads)
    if op.kind == "norm":
        x, w = r(s["rows"], s["cols"]), r(s["cols"])
        if op.form == "layernorm":
            return (lambda x, w, b: F.layer_norm(x, (x.shape[-1],), w, b)), (x, w, r(s["cols"]))
        return (lambda x, w: F.rms_norm(x, (x.shape[-1],), w)), (x, w)
    if op.kind == "softmax":
        return (lambda x: torch.softmax(x, dim=-1)), (r(s["rows"], s["cols"]),)
    if op.name == "rope":
        half = s["head_dim"] // 2
        x, cos, sin = (
            r(s["tokens"], s["heads"], s["head_dim"]),
            r(s["tokens"], 1, half),
            r(s["tokens"], 1, half),
        )
        return rotate, (x, cos, sin)
    if op.name == "act":
        n = s["elements"]
        if op.form == "silu_mul":
            return (lambda g_, u: F.silu(g_) * u), (r(n), r(n))
        return (lambda x: F.gelu(x, approximate="tanh")), (r(n),)
    if op.kind == "elementwise":
        return torch.add, (r(s["elements"]), r(s["elements"]))
    raise NotImplementedError(f"no torch stand-in for {op.name} ({op.kind})")
