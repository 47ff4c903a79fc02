"""The float64 reference of attention, forward and backward, and the bottom-right causal mask.

Every function takes the [batch, heads, seq, head_dim] layout with grouped-query K/V and works one
(batch, kv head) at a time, on chunks of query indices taken across the heads of its group (no K/V head
is ever expanded to its query heads). A chunk computes scores only for the keys its last query sees
(causal), and the chunks are small where the sequence is short: so the scores computed are, to within
a chunk's triangle, the unmasked pairs that gpubench.opcount counts, and torch's FlopCounterMode of
this reference is an independent check of that count (exact at the test shapes: one query a chunk).
The float64 scores of a chunk stay under 128 MiB: a bench shape's whole matrix (16K x 16K, 16 heads)
would not fit a GPU. Rows that see no key give O = 0 and LSE +inf (the kernels' convention); NaN in
a row's inputs gives NaN in that row.
"""

from __future__ import annotations

import math

import torch

from gpubench.kernels.attention.validate import REFERENCE_DTYPES, Dims, validate

_CHUNK_ELEMS = 1 << 24  # float64 scores per chunk (128 MiB)
_ROWS_PER_CAUSAL_CHUNK = 64  # causal: chunks of seq_q // 64 queries (1 below 128 queries), at most 256


def visible(seq_q: int, seq_k: int, device, rows: torch.Tensor | None = None) -> torch.Tensor:
    """Bool [len(rows), seq_k]: query i sees key j iff j <= i + seq_k - seq_q (bottom-right causal).
    `rows`: the query indices (default all of 0..seq_q-1)."""
    if rows is None:
        rows = torch.arange(seq_q, device=device)
    keys = torch.arange(seq_k, device=device)
    return keys[None, :] <= rows[:, None] + (seq_k - seq_q)


def _chunks(d: Dims):
    """(i0, i1, keys): queries [i0, i1) of every head of a group, and how many keys they see at most
    (>= 1: none when there are no keys)."""
    if d.seq_k == 0:
        return
    offset = d.seq_k - d.seq_q
    first = max(0, -offset) if d.causal else 0  # queries before `first` see no key
    if d.causal:
        step = min(256, max(1, d.seq_q // _ROWS_PER_CAUSAL_CHUNK))
    else:
        step = d.seq_q
    step = max(1, min(step, _CHUNK_ELEMS // (d.group * max(d.seq_k, 1))))
    for i0 in range(first, d.seq_q, step):
        i1 = min(d.seq_q, i0 + step)
        yield i0, i1, min(d.seq_k, i1 + offset) if d.causal else d.seq_k


def _kv_heads(d: Dims):
    for b in range(d.batch):
        for h in range(d.kv_heads):
            yield b, h


def _group(t, d: Dims, b: int, h: int):
    """The query heads of kv head (b, h) in a [batch, heads, seq_q, D] tensor: [group, seq_q, D] (a view)."""
    return t[b, h * d.group : (h + 1) * d.group]


def _probs(q_rows, k, i0: int, i1: int, d: Dims):
    """(P, LSE) in float64 for queries [i0, i1) of the group's heads; q_rows [group * (i1 - i0), D] and
    k the keys they see."""
    s = (q_rows @ k.T) / math.sqrt(d.head_dim)
    if d.causal:
        qi = torch.arange(i0, i1, device=s.device).repeat(d.group)
        s = s.masked_fill(~visible(d.seq_q, d.seq_k, s.device, qi)[:, : k.shape[0]], -math.inf)
    m = s.amax(dim=1, keepdim=True)
    m = torch.where(m == -math.inf, torch.zeros_like(m), m)  # a row that sees nothing: exp(-inf) = 0
    e = torch.exp(s - m)
    total = e.sum(dim=1, keepdim=True)
    p = e / torch.where(total == 0, torch.ones_like(total), total)
    lse = torch.where(total == 0, torch.full_like(total, math.inf), m + torch.log(total))
    return p, lse.squeeze(1)


def _rows(t, i0: int, i1: int):
    """[group, seq, D] -> the rows of queries [i0, i1) of every head, [group * (i1 - i0), D], float64."""
    return t[:, i0:i1].reshape(-1, t.shape[-1]).to(torch.float64)


def forward_f64(q, k, v, causal) -> tuple[torch.Tensor, torch.Tensor]:
    """(O, LSE) in float64: O [batch, heads, seq_q, D], LSE [batch, heads, seq_q] (natural log)."""
    d = validate(q, k, v, causal, REFERENCE_DTYPES)
    f64 = torch.float64
    o = torch.zeros(q.shape, dtype=f64, device=q.device)
    lse = torch.full((d.batch, d.heads, d.seq_q), math.inf, dtype=f64, device=q.device)
    for b, h in _kv_heads(d):
        kh, vh = k[b, h].to(f64), v[b, h].to(f64)
        qg, og, lg = _group(q, d, b, h), _group(o, d, b, h), _group(lse, d, b, h)
        for i0, i1, n in _chunks(d):
            p, chunk_lse = _probs(_rows(qg, i0, i1), kh[:n], i0, i1, d)
            og[:, i0:i1] = (p @ vh[:n]).view(d.group, i1 - i0, d.head_dim)
            lg[:, i0:i1] = chunk_lse.view(d.group, i1 - i0)
    return o, lse


def reference(q, k, v, causal):
    """The workload's reference output: float64 attention rounded to q's dtype."""
    return forward_f64(q, k, v, causal)[0].to(q.dtype)


def backward_f64(q, k, v, do, causal) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dQ, dK, dV) in float64 for the upstream gradient dO, from the exact forward:
    dV = P^T dO, dP = dO V^T, dS = P * (dP - delta), dQ = dS K / sqrt(d), dK = dS^T Q / sqrt(d), with
    delta = rowsum(dO * O) = rowsum(P * dP): five matrix products, as gpubench.opcount counts."""
    d = validate(q, k, v, causal, REFERENCE_DTYPES)
    f64 = torch.float64
    dq = torch.zeros(q.shape, dtype=f64, device=q.device)
    dk = torch.zeros(k.shape, dtype=f64, device=q.device)
    dv = torch.zeros(v.shape, dtype=f64, device=q.device)
    scale = 1.0 / math.sqrt(d.head_dim)
    for b, h in _kv_heads(d):
        kh, vh = k[b, h].to(f64), v[b, h].to(f64)
        qg, dog, dqg = _group(q, d, b, h), _group(do, d, b, h), _group(dq, d, b, h)
        for i0, i1, n in _chunks(d):
            qc, doc = _rows(qg, i0, i1), _rows(dog, i0, i1)
            p, _ = _probs(qc, kh[:n], i0, i1, d)
            dp = doc @ vh[:n].T
            ds = p * (dp - (p * dp).sum(dim=1, keepdim=True))
            dqg[:, i0:i1] = ((ds @ kh[:n]) * scale).view(d.group, i1 - i0, d.head_dim)
            dk[b, h, :n] += (ds.T @ qc) * scale
            dv[b, h, :n] += p.T @ doc
    return dq, dk, dv
