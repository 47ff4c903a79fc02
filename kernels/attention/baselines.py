"""torch baselines: naive attention that materialises the score matrix, and torch SDPA per backend.

naive: the memory-bound form, one torch kernel per step, each [rows, seq_k] intermediate in DRAM in the
storage dtype (K/V are not expanded for grouped-query attention: a kv head's query rows are one matrix):
    Q / sqrt(d)            read and write Q (Q-sized, small)
    S = Q K^T              write S
    causal: S[~mask] = -inf  read and write S
    P = softmax(S)         read S, write P (fp32 math inside, P in the storage dtype)
    O = P V                read P
so it moves S through DRAM four times (six when causal); gpubench.opcount counts the minimum of a
materialised form, S written and read once.

SDPA: torch.nn.functional.scaled_dot_product_attention restricted to one backend (math, efficient, flash,
cuDNN) with torch.nn.attention.sdpa_kernel. SDPA's `is_causal` is top-left aligned, so bottom-right
causal with seq_q != seq_k passes an explicit boolean mask (a single query row sees every key, so it
needs none); the flash backend takes no explicit mask and is skipped there. Whether a backend takes a
case is found by running it once at the real shape, dtype and mask (a tiny input of the same kind can
pass where the real sizes do not): torch's own refusal (its warnings) is the skip reason. Rows that see
no key are set to zero (FlashAttention's convention) whatever the backend gives there. The math backend
applies a boolean mask by adding -inf to the scores, so a NaN score at a masked key still makes its row
NaN.
"""

from __future__ import annotations

import functools
import math
import warnings

import torch
import torch.nn.functional as F

from gpubench.kernels.attention.reference import visible
from gpubench.kernels.attention.validate import Dims, validate

# Scores above this count are not materialised (8 GiB of 16-bit S, plus P and torch's temporaries); SDPA's
# math backend keeps its scores and probabilities in fp32, so half as many.
MAX_SCORES = 1 << 32
MATH_MAX_SCORES = 1 << 31


def materialised_problem(shape, limit: int = MAX_SCORES) -> str | None:
    n = shape["batch"] * shape["heads"] * shape["seq_q"] * shape["seq_k"]
    if n > limit:
        gi = f"{n / 2**30:g} Gi elements, limit {limit / 2**30:g} Gi"
        return f"the score matrix ({gi}) is too large to materialise"
    return None


def _zero_unseen(o, d: Dims):
    """Zero the rows that see no key (causal with seq_q > seq_k: the first seq_q - seq_k rows)."""
    if d.causal and d.seq_q > d.seq_k:
        o[:, :, : d.seq_q - d.seq_k] = 0
    return o


def naive(q, k, v, causal):
    """The `naive` variant (see the module docstring); S is rounded to the storage dtype."""
    d = validate(q, k, v, causal)
    if d.seq_k == 0:
        return torch.zeros_like(q)
    # Rows that see no key (causal, seq_q > seq_k: the first seq_q - seq_k of each head) are left out
    # rather than softmaxed to NaN: NaN rows can leak into their neighbours in a blocked CPU matmul.
    first = d.seq_q - d.seq_k if d.causal and d.seq_q > d.seq_k else 0
    n = d.seq_q - first
    qg = q.view(d.batch, d.kv_heads, d.group, d.seq_q, d.head_dim)[:, :, :, first:]
    qg = (qg * (1.0 / math.sqrt(d.head_dim))).reshape(d.batch, d.kv_heads, d.group * n, d.head_dim)
    s = torch.matmul(qg, k.transpose(-1, -2))
    if d.causal:
        qi = first + torch.arange(d.group * n, device=q.device) % n
        s.masked_fill_(~visible(d.seq_q, d.seq_k, q.device, qi), -math.inf)
    p = torch.softmax(s, dim=-1)
    o = torch.matmul(p, v)
    if not first:
        return o.view(q.shape)
    out = torch.zeros_like(q)
    out.view(d.batch, d.kv_heads, d.group, d.seq_q, d.head_dim)[:, :, :, first:] = o.view(
        d.batch, d.kv_heads, d.group, n, d.head_dim
    )
    return out


BACKENDS = {"math": "MATH", "efficient": "EFFICIENT_ATTENTION", "flash": "FLASH_ATTENTION",
            "cudnn": "CUDNN_ATTENTION"}  # fmt: skip
# The backends the suite's kernels are judged against (role baseline, forward and backward): the fused
# production kernels, FlashAttention 2 and cuDNN's. math (unfused) and efficient (memory-efficient
# attention) are variants like the others.
BASELINE_BACKENDS = ("flash", "cudnn")


def _mask_kind(causal: bool, seq_q: int, seq_k: int) -> str:
    """How SDPA is told the mask: "none", "is_causal" (top-left equals bottom-right only when square) or
    "explicit"."""
    if not causal or seq_q == 1:
        return "none"
    return "is_causal" if seq_q == seq_k else "explicit"


def _mask(kind: str, seq_q: int, seq_k: int, device):
    """(attn_mask, is_causal) for SDPA."""
    return (visible(seq_q, seq_k, device) if kind == "explicit" else None), kind == "is_causal"


def _call(backend: str, q, k, v, mask, is_causal: bool, gqa: bool):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(getattr(SDPBackend, BACKENDS[backend])):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal, enable_gqa=gqa)


def sdpa(backend: str, q, k, v, causal):
    d = validate(q, k, v, causal)
    if d.seq_k == 0 or d.seq_q == 0:
        return torch.zeros_like(q)
    mask, is_causal = _mask(_mask_kind(d.causal, d.seq_q, d.seq_k), d.seq_q, d.seq_k, q.device)
    return _zero_unseen(_call(backend, q, k, v, mask, is_causal, d.group > 1), d)


@functools.cache
def _probe(backend: str, device: str, dtype, dims: tuple[int, ...], causal: bool):
    """None if the backend runs this case, else torch's reason, from one run at the real shape `dims`
    (batch, heads, kv_heads, seq_q, seq_k, head_dim): a backend's limits depend on the sizes too (a
    decode shape's single query, a long sequence), so a tiny input of the same kind is not enough."""
    batch, heads, kv_heads, seq_q, seq_k, head_dim = dims
    dev = torch.device(device)
    q = torch.randn(batch, heads, seq_q, head_dim, device=dev, dtype=dtype)
    k = torch.randn(batch, kv_heads, seq_k, head_dim, device=dev, dtype=dtype)
    mask, is_causal = _mask(_mask_kind(causal, seq_q, seq_k), seq_q, seq_k, dev)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _call(backend, q, k, k, mask, is_causal, heads != kv_heads)
            return None
        except RuntimeError as exc:
            said = [str(w.message).strip() for w in caught] or [str(exc).strip().splitlines()[0]]
    return f"torch SDPA {backend} backend refuses this case here: " + " ".join(said)[:400]


def sdpa_problem(backend: str, device, shape, dtype: str) -> str | None:
    from gpubench.kernels.workload import torch_dtype

    kind = _mask_kind(bool(shape["causal"]), shape["seq_q"], shape["seq_k"])
    if backend == "flash" and kind == "explicit":
        return (
            "SDPA's flash backend takes no explicit mask, and its is_causal is top-left aligned: "
            "bottom-right causal with seq_q != seq_k needs the mask"
        )
    if backend == "math" and (why := materialised_problem(shape, MATH_MAX_SCORES)):
        return why
    dev = getattr(device, "type", str(device))
    dev = f"{dev}:{device.index}" if getattr(device, "index", None) is not None else dev
    dims = tuple(int(shape[a]) for a in ("batch", "heads", "kv_heads", "seq_q", "seq_k", "head_dim"))
    return _probe(backend, dev, torch_dtype(dtype), dims, bool(shape["causal"]))


def variant_fn(backend: str):
    def run(q, k, v, causal):
        return sdpa(backend, q, k, v, causal)

    run.__name__ = f"sdpa_{backend}"
    return run
