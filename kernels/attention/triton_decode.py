"""Triton flash-decoding: a few new queries (seq_q 1..16) against a long KV cache.

One program per (split of the keys, batch x kv head, tile of rows). A kv head's rows are the queries of
all the heads that share it (group x seq_q rows, contiguous in [batch, heads, seq_q, head_dim]), so each
K and V element is read from DRAM once, for every head of its group: the compulsory traffic
(gpubench.opcount.attention_bytes). One program per head cannot fill the GPU at batch 1..8, so the keys
are split across programs (enough splits for config.programs_per_sm programs per SM, none shorter than
min_chunk keys); each split runs the forward's online softmax (triton_fwd.attend) over its keys and
writes its rows' normalised fp32 partial output and log-sum-exp. A second kernel combines the splits:
O = sum_s exp(lse_s - lse) O_s with lse = log sum_s exp(lse_s). Causal masking (bottom-right: query i sees
keys j <= i + seq_k - seq_q) only touches the last keys. A row that sees no key gives zeros, LSE +inf.
"""

from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl

from gpubench.kernels.attention import config
from gpubench.kernels.attention.launch import LN2, qk_scale
from gpubench.kernels.attention.triton_fwd import attend, dot_mode, prepare

MAX_SEQ_Q = 16  # what the variant is for; longer query blocks take the prefill kernel


# Row tiles of a split: the smallest tensor-core dot's 16 rows up to 64 (rows = group x seq_q).
BLOCK_MS = (16, 32, 64)
_LN2 = tl.constexpr(LN2)  # globals in jit code must be constexpr


@triton.jit
def _split_kernel(Q, K, V, PART_O, PART_LSE, seq_q, seq_k, rows, chunk, qk_scale,
                  CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                  HEAD_DIM: tl.constexpr, DOT_F32: tl.constexpr, PRECISION: tl.constexpr):  # fmt: skip
    split = tl.program_id(0)
    bkv = tl.program_id(1)
    r = tl.program_id(2) * BLOCK_M + tl.arange(0, BLOCK_M)  # rows of the kv head: (head in group, query)
    row_ok = r < rows
    qi = r % seq_q
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    q = tl.load(Q + (bkv.to(tl.int64) * rows + r)[:, None] * HEAD_DIM + offs_d[None, :],
                mask=row_ok[:, None], other=0.0)  # fmt: skip
    if DOT_F32:
        q = q.to(tl.float32)
    k_head = K + bkv.to(tl.int64) * seq_k * HEAD_DIM
    v_head = V + bkv.to(tl.int64) * seq_k * HEAD_DIM
    lo = split * chunk
    hi = tl.minimum(lo + chunk, seq_k)
    causal_offset = seq_k - seq_q
    # Keys every row sees: below hi and, when causal, at or below the first query's limit.
    full = hi
    if CAUSAL:
        full = tl.maximum(tl.minimum(hi, causal_offset + 1), lo)
    full = lo + ((full - lo) // BLOCK_N) * BLOCK_N
    acc = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    acc, l_i, m_i = attend(acc, l_i, m_i, q, k_head, v_head, 0, qi, offs_n, offs_d, lo, full, hi,
                           causal_offset, qk_scale, CAUSAL, False, BLOCK_N, HEAD_DIM, DOT_F32, PRECISION,
                           False)  # fmt: skip
    acc, l_i, m_i = attend(acc, l_i, m_i, q, k_head, v_head, 0, qi, offs_n, offs_d, full, hi, hi,
                           causal_offset, qk_scale, CAUSAL, True, BLOCK_N, HEAD_DIM, DOT_F32, PRECISION,
                           False)  # fmt: skip
    seen = l_i > 0.0
    part = acc / tl.where(seen, l_i, 1.0)[:, None]
    lse2 = tl.where(seen, m_i + tl.math.log2(tl.where(seen, l_i, 1.0)), float("-inf"))  # log2 domain
    slot = (bkv.to(tl.int64) * tl.num_programs(0) + split) * rows + r
    tl.store(PART_LSE + slot, lse2, mask=row_ok)
    tl.store(PART_O + slot[:, None] * HEAD_DIM + offs_d[None, :], part, mask=row_ok[:, None])


@triton.jit
def _combine_kernel(PART_O, PART_LSE, Os, LSE, rows, n_splits, BLOCK_M: tl.constexpr,
                    HEAD_DIM: tl.constexpr):  # fmt: skip
    bkv = tl.program_id(1)
    r = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = r < rows
    offs_d = tl.arange(0, HEAD_DIM)
    m = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    total = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    for s in range(0, n_splits):
        slot = (bkv.to(tl.int64) * n_splits + s) * rows + r
        lse_s = tl.load(PART_LSE + slot, mask=row_ok, other=float("-inf"))
        o_s = tl.load(PART_O + slot[:, None] * HEAD_DIM + offs_d[None, :], mask=row_ok[:, None], other=0.0)
        m_new = tl.maximum(m, lse_s)
        m_use = tl.where(m_new == float("-inf"), 0.0, m_new)
        alpha = tl.math.exp2(m - m_use)
        w = tl.math.exp2(lse_s - m_use)
        total = total * alpha + w
        acc = acc * alpha[:, None] + w[:, None] * o_s
        m = m_new
    seen = total > 0.0
    out = acc / tl.where(seen, total, 1.0)[:, None]
    lse = tl.where(seen, (m + tl.math.log2(tl.where(seen, total, 1.0))) * _LN2, float("inf"))
    out_rows = bkv.to(tl.int64) * rows + r
    tl.store(LSE + out_rows, lse, mask=row_ok)
    tl.store(Os + out_rows[:, None] * HEAD_DIM + offs_d[None, :], out.to(Os.dtype.element_ty),
             mask=row_ok[:, None])  # fmt: skip


def plan(batch: int, kv_heads: int, rows: int, seq_k: int, cfg: config.DecodeConfig, sms: int) -> dict:
    """Row tile, splits and keys per split (a multiple of block_n) for `rows` rows per kv head."""
    block_m = min(BLOCK_MS[-1], max(BLOCK_MS[0], triton.next_power_of_2(rows)))
    base = batch * kv_heads * triton.cdiv(rows, block_m)
    want = max(1, triton.cdiv(sms * cfg.programs_per_sm, base))
    most = max(1, seq_k // cfg.min_chunk)  # every split gets at least min_chunk keys
    splits = min(want, most)
    chunk = triton.cdiv(triton.cdiv(seq_k, splits), cfg.block_n) * cfg.block_n
    return {"BLOCK_M": block_m, "splits": triton.cdiv(seq_k, chunk), "chunk": chunk}


def seq_q_problem(seq_q: int) -> str | None:
    if seq_q > MAX_SEQ_Q:
        return f"the decode variant is for seq_q <= {MAX_SEQ_Q}; longer query blocks take the flash kernel"
    return None


def decode(q, k, v, causal, *, splits: int | None = None):
    """(O, LSE) by split-KV flash-decoding; `splits` forces the number of splits (tests)."""
    d, done = prepare(q, k, v, causal)
    cfg = config.config_for(q.device).decode
    what = "the decode kernel"
    problem = seq_q_problem(d.seq_q) or config.triton_head_dim_problem(d.head_dim, cfg.head_dims, what)
    if problem:
        raise ValueError(problem)
    if done is not None:
        return done
    on_gpu = q.device.type == "cuda"
    sms = torch.cuda.get_device_properties(q.device).multi_processor_count if on_gpu else cfg.cpu_programs
    rows = d.group * d.seq_q
    p = plan(d.batch, d.kv_heads, rows, d.seq_k, cfg, sms)
    if splits is not None:
        chunk = triton.cdiv(triton.cdiv(d.seq_k, splits), cfg.block_n) * cfg.block_n
        p = {**p, "splits": triton.cdiv(d.seq_k, chunk), "chunk": chunk}
    n_bkv = d.batch * d.kv_heads
    part_o = torch.empty((n_bkv, p["splits"], rows, d.head_dim), dtype=torch.float32, device=q.device)
    part_lse = torch.empty((n_bkv, p["splits"], rows), dtype=torch.float32, device=q.device)
    o = torch.empty_like(q)
    lse = torch.empty((d.batch, d.heads, d.seq_q), dtype=torch.float32, device=q.device)
    dot_f32, precision = dot_mode(q)
    m_tiles = triton.cdiv(rows, p["BLOCK_M"])
    with torch.cuda.device(q.device) if on_gpu else contextlib.nullcontext():
        _split_kernel[(p["splits"], n_bkv, m_tiles)](
            q, k, v, part_o, part_lse, d.seq_q, d.seq_k, rows, p["chunk"], qk_scale(d.head_dim),
            CAUSAL=d.causal, BLOCK_M=p["BLOCK_M"], BLOCK_N=cfg.block_n, HEAD_DIM=d.head_dim, DOT_F32=dot_f32,
            PRECISION=precision, num_warps=cfg.num_warps, num_stages=cfg.num_stages,
        )  # fmt: skip
        _combine_kernel[(m_tiles, n_bkv)](
            part_o, part_lse, o, lse, rows, p["splits"], BLOCK_M=p["BLOCK_M"], HEAD_DIM=d.head_dim,
            num_warps=cfg.combine_warps,
        )  # fmt: skip
    return o, lse


def flash_decode(q, k, v, causal):
    """The `triton_decode` variant: the output only."""
    return decode(q, k, v, causal)[0]
