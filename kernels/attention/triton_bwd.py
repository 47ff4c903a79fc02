"""Triton flash-attention backward: dQ, dK, dV from Q, K, V, O, dO and the forward's log-sum-exp.

Nothing of size seq_q x seq_k is stored: P = exp(S - LSE) is recomputed tile by tile from the saved LSE.
    delta = rowsum(dO * O)                      one small kernel, fp32 [batch, heads, seq_q]
    dK/dV: one program per (BLOCK_N keys, batch x kv head); for every query head of the kv head's group
           it walks the queries that see those keys in BLOCK_M steps: P^T = exp2(K Q^T * scale - LSE),
           dV += P^T dO, dP^T = V dO^T, dS^T = P^T * (dP^T - delta), dK += dS^T Q. Summing the group's
           heads inside the program gives grouped-query attention's dK/dV without atomics.
    dQ:    one program per (BLOCK_M queries, batch x head) over the keys they see: dQ += dS K.
Both scale by 1/sqrt(head_dim) at the end. Causal (bottom-right): pairs past the diagonal get P = 0;
tiles entirely past it are not visited, tiles entirely before it run without masks. A row that sees no
key has LSE +inf, so its P is 0 and so are its gradients. dS and P are rounded to the operands' dtype for
the tensor-core dots (fp32 accumulation), as in the forward.

FLOPs: 2.5 x the forward (gpubench.opcount: five GEMM-shaped products). Bytes: Q, K, V, O, dO and LSE
read, dQ, dK, dV written, once each.
"""

from __future__ import annotations

import contextlib
import math

import torch
import triton
import triton.language as tl

from gpubench.kernels.attention import config
from gpubench.kernels.attention.launch import LOG2E, qk_scale
from gpubench.kernels.attention.triton_fwd import dot_mode, key_ranges, load_kv
from gpubench.kernels.attention.validate import validate, validate_like, validate_lse

_LOG2E = tl.constexpr(LOG2E)  # globals in jit code must be constexpr


DELTA_BLOCK = 64  # rows per program of the delta = rowsum(O * dO) kernel


@triton.jit
def _delta_kernel(Os, DO, DELTA, n_rows, BLOCK: tl.constexpr, HEAD_DIM: tl.constexpr):
    r = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = r < n_rows
    offs = r.to(tl.int64)[:, None] * HEAD_DIM + tl.arange(0, HEAD_DIM)[None, :]
    o = tl.load(Os + offs, mask=ok[:, None], other=0.0).to(tl.float32)
    do = tl.load(DO + offs, mask=ok[:, None], other=0.0).to(tl.float32)
    tl.store(DELTA + r, tl.sum(o * do, axis=1), mask=ok)


@triton.jit
def _rows(base, rows, offs_d, seq_q, HEAD_DIM: tl.constexpr):
    """[BLOCK_M, HEAD_DIM] rows of a head of Q, dO (zeros past seq_q)."""
    ptrs = base + rows.to(tl.int64)[:, None] * HEAD_DIM + offs_d[None, :]
    return tl.load(ptrs, mask=(rows < seq_q)[:, None], other=0.0)


@triton.jit
def _dkdv_steps(dk, dv, k, v, q_head, do_head, lse_head, delta_head, cols, offs_m, offs_d, lo, hi, seq_q,
                causal_offset, qk_scale, MASKED: tl.constexpr, BLOCK_M: tl.constexpr,
                HEAD_DIM: tl.constexpr, DOT_F32: tl.constexpr, PRECISION: tl.constexpr):  # fmt: skip
    """Accumulate the queries [lo, hi) of one head into dK, dV of the keys `cols` (transposed tiles)."""
    for m0 in range(lo, hi, BLOCK_M):
        rows = m0 + offs_m
        q = _rows(q_head, rows, offs_d, seq_q, HEAD_DIM)
        do = _rows(do_head, rows, offs_d, seq_q, HEAD_DIM)
        if DOT_F32:
            q = q.to(tl.float32)
            do = do.to(tl.float32)
        # Rows past seq_q read q = dO = 0 and LSE = delta = 0: their P^T is 1 but dO and dS are 0.
        lse2 = tl.load(lse_head + rows, mask=rows < seq_q, other=0.0) * _LOG2E
        delta = tl.load(delta_head + rows, mask=rows < seq_q, other=0.0)
        pt = tl.math.exp2(tl.dot(k, tl.trans(q), input_precision=PRECISION) * qk_scale - lse2[None, :])
        if MASKED:  # causal: key j is seen by query i iff j <= i + causal_offset
            pt = tl.where(cols[:, None] <= rows[None, :] + causal_offset, pt, 0.0)
        dv = tl.dot(pt.to(do.dtype), do, dv, input_precision=PRECISION)
        dpt = tl.dot(v, tl.trans(do), input_precision=PRECISION)
        dst = pt * (dpt - delta[None, :])
        dk = tl.dot(dst.to(q.dtype), q, dk, input_precision=PRECISION)
    return dk, dv


@triton.jit
def _dkdv_kernel(Q, K, V, DO, LSE, DELTA, DK, DV, group, seq_q, seq_k, qk_scale, sm_scale,
                 CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                 HEAD_DIM: tl.constexpr, DOT_F32: tl.constexpr, PRECISION: tl.constexpr):  # fmt: skip
    n0 = tl.program_id(0) * BLOCK_N
    bkv = tl.program_id(1)
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    cols = n0 + tl.arange(0, BLOCK_N)
    kv_head = bkv.to(tl.int64) * seq_k * HEAD_DIM
    k = load_kv(K + kv_head, cols, offs_d, seq_k, HEAD_DIM, True)
    v = load_kv(V + kv_head, cols, offs_d, seq_k, HEAD_DIM, True)
    if DOT_F32:
        k = k.to(tl.float32)
        v = v.to(tl.float32)
    dk = tl.zeros([BLOCK_N, HEAD_DIM], dtype=tl.float32)
    dv = tl.zeros([BLOCK_N, HEAD_DIM], dtype=tl.float32)
    causal_offset = seq_k - seq_q
    lo = 0
    full = 0  # queries from `full` on see every key of the tile
    if CAUSAL:
        lo = (tl.maximum(n0 - causal_offset, 0) // BLOCK_M) * BLOCK_M
        full = tl.maximum(lo, tl.cdiv(n0 + BLOCK_N - 1 - causal_offset, BLOCK_M) * BLOCK_M)
    masked_hi = tl.minimum(full, seq_q)
    for g in range(0, group):
        bh = bkv * group + g  # the query heads of kv head bkv are consecutive
        q_head = Q + bh.to(tl.int64) * seq_q * HEAD_DIM
        do_head = DO + bh.to(tl.int64) * seq_q * HEAD_DIM
        lse_head = LSE + bh.to(tl.int64) * seq_q
        delta_head = DELTA + bh.to(tl.int64) * seq_q
        dk, dv = _dkdv_steps(dk, dv, k, v, q_head, do_head, lse_head, delta_head, cols, offs_m, offs_d,
                             lo, masked_hi, seq_q, causal_offset, qk_scale, True, BLOCK_M, HEAD_DIM,
                             DOT_F32, PRECISION)  # fmt: skip
        dk, dv = _dkdv_steps(dk, dv, k, v, q_head, do_head, lse_head, delta_head, cols, offs_m, offs_d,
                             tl.maximum(full, lo), seq_q, seq_q, causal_offset, qk_scale, False, BLOCK_M,
                             HEAD_DIM, DOT_F32, PRECISION)  # fmt: skip
    out = kv_head + cols.to(tl.int64)[:, None] * HEAD_DIM + offs_d[None, :]
    ok = (cols < seq_k)[:, None]
    tl.store(DK + out, (dk * sm_scale).to(DK.dtype.element_ty), mask=ok)
    tl.store(DV + out, dv.to(DV.dtype.element_ty), mask=ok)


@triton.jit
def _dq_steps(dq, q, do, lse2, delta, k_head, v_head, rows, offs_n, offs_d, lo, hi, seq_k, causal_offset,
              qk_scale, CAUSAL: tl.constexpr, MASKED: tl.constexpr, BLOCK_N: tl.constexpr,
              HEAD_DIM: tl.constexpr, DOT_F32: tl.constexpr, PRECISION: tl.constexpr):  # fmt: skip
    for n0 in range(lo, hi, BLOCK_N):
        cols = n0 + offs_n
        k = load_kv(k_head, cols, offs_d, seq_k, HEAD_DIM, MASKED)
        v = load_kv(v_head, cols, offs_d, seq_k, HEAD_DIM, MASKED)
        if DOT_F32:
            k = k.to(tl.float32)
            v = v.to(tl.float32)
        p = tl.math.exp2(tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale - lse2[:, None])
        if MASKED:
            ok = (cols < seq_k)[None, :]
            if CAUSAL:
                ok = ok & (cols[None, :] <= rows[:, None] + causal_offset)
            p = tl.where(ok, p, 0.0)
        dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)
        ds = p * (dp - delta[:, None])
        dq = tl.dot(ds.to(k.dtype), k, dq, input_precision=PRECISION)
    return dq


@triton.jit
def _dq_kernel(Q, K, V, DO, LSE, DELTA, DQ, heads, group, seq_q, seq_k, qk_scale, sm_scale,
               CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
               HEAD_DIM: tl.constexpr, DOT_F32: tl.constexpr, PRECISION: tl.constexpr):  # fmt: skip
    tile = tl.program_id(0)
    if CAUSAL:  # longest tiles first
        tile = tl.num_programs(0) - 1 - tile
    bh = tl.program_id(1)
    bkv = (bh // heads) * (heads // group) + (bh % heads) // group
    m0 = tile * BLOCK_M
    rows = m0 + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    head = bh.to(tl.int64) * seq_q * HEAD_DIM
    q = _rows(Q + head, rows, offs_d, seq_q, HEAD_DIM)
    do = _rows(DO + head, rows, offs_d, seq_q, HEAD_DIM)
    if DOT_F32:
        q = q.to(tl.float32)
        do = do.to(tl.float32)
    row_ok = rows < seq_q
    lse2 = tl.load(LSE + bh.to(tl.int64) * seq_q + rows, mask=row_ok, other=0.0) * _LOG2E
    delta = tl.load(DELTA + bh.to(tl.int64) * seq_q + rows, mask=row_ok, other=0.0)
    k_head = K + bkv.to(tl.int64) * seq_k * HEAD_DIM
    v_head = V + bkv.to(tl.int64) * seq_k * HEAD_DIM
    causal_offset = seq_k - seq_q
    full, hi = key_ranges(m0, seq_k, causal_offset, BLOCK_M, BLOCK_N, CAUSAL)
    dq = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    dq = _dq_steps(dq, q, do, lse2, delta, k_head, v_head, rows, offs_n, offs_d, 0, full, seq_k,
                   causal_offset, qk_scale, CAUSAL, False, BLOCK_N, HEAD_DIM, DOT_F32, PRECISION)  # fmt: skip
    dq = _dq_steps(dq, q, do, lse2, delta, k_head, v_head, rows, offs_n, offs_d, full, hi, seq_k,
                   causal_offset, qk_scale, CAUSAL, True, BLOCK_N, HEAD_DIM, DOT_F32, PRECISION)  # fmt: skip
    out = head + rows.to(tl.int64)[:, None] * HEAD_DIM + offs_d[None, :]
    tl.store(DQ + out, (dq * sm_scale).to(DQ.dtype.element_ty), mask=row_ok[:, None])


def _kw(t: config.Tile) -> dict:
    return {"BLOCK_M": t.block_m, "BLOCK_N": t.block_n, "num_warps": t.num_warps, "num_stages": t.num_stages}


def backward(do, q, k, v, o, lse, causal, *, tiles: config.BwdTiles | None = None):
    """(dQ, dK, dV) in the inputs' dtype. lse: the forward's fp32 [batch, heads, seq_q] (natural log,
    +inf for rows that see no key). `tiles` replaces the config's (tests)."""
    d = validate(q, k, v, causal)
    validate_like("o", o, "q", q)
    validate_like("do", do, "q", q)
    validate_lse(lse, d, q.device)
    table = config.config_for(q.device).bwd
    problem = config.triton_head_dim_problem(d.head_dim, None if tiles else table, "the backward")
    if problem:
        raise ValueError(problem)
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    if d.batch * d.heads * d.seq_q == 0 or d.seq_k == 0:
        return dq.zero_(), dk.zero_(), dv.zero_()
    tiles = tiles or table[d.head_dim]
    dot_f32, precision = dot_mode(q)
    n_rows = d.batch * d.heads * d.seq_q
    delta = torch.empty((d.batch, d.heads, d.seq_q), dtype=torch.float32, device=q.device)
    consts = dict(CAUSAL=d.causal, HEAD_DIM=d.head_dim, DOT_F32=dot_f32, PRECISION=precision)
    scales = (qk_scale(d.head_dim), 1.0 / math.sqrt(d.head_dim))
    with torch.cuda.device(q.device) if q.device.type == "cuda" else contextlib.nullcontext():
        grid_rows = (triton.cdiv(n_rows, DELTA_BLOCK),)
        _delta_kernel[grid_rows](o, do, delta, n_rows, BLOCK=DELTA_BLOCK, HEAD_DIM=d.head_dim)
        grid_kv = (triton.cdiv(d.seq_k, tiles.kv.block_n), d.batch * d.kv_heads)
        _dkdv_kernel[grid_kv](q, k, v, do, lse, delta, dk, dv, d.group, d.seq_q, d.seq_k, *scales,
                              **consts, **_kw(tiles.kv))  # fmt: skip
        grid_q = (triton.cdiv(d.seq_q, tiles.q.block_m), d.batch * d.heads)
        _dq_kernel[grid_q](q, k, v, do, lse, delta, dq, d.heads, d.group, d.seq_q, d.seq_k, *scales,
                           **consts, **_kw(tiles.q))  # fmt: skip
    return dq, dk, dv
