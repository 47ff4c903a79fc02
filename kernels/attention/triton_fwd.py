"""Triton flash-attention forward: O = softmax(Q K^T / sqrt(d) + mask) V and the rows' log-sum-exp.

One program per (BLOCK_M query rows, batch x head); it walks the keys of its kv head (head // group for
grouped-query attention) in BLOCK_N steps with the online softmax: a running row maximum m (log2
domain), a running sum l and an fp32 accumulator, both rescaled by exp2(m_old - m_new) whenever the
maximum grows, so S and P never leave the chip. Causal masking is bottom-right aligned: query i sees
keys j <= i + seq_k - seq_q. The key range of a tile splits in two: blocks that every row of the tile
sees in full run without masks, the causal diagonal and the ragged last block run masked; blocks above
the diagonal are never visited (causal does about half the work). Causal tiles are launched longest
first, so the short ones fill the tail of the grid.

A row that sees no key (causal, seq_q > seq_k) gives zeros and LSE +inf (FlashAttention's convention:
the backward's exp(S - LSE) is then 0 for it).

Dots: fp16/bf16 operands on tensor cores with fp32 accumulation (P is rounded to V's dtype for P V, as
every flash kernel does); fp32 data with IEEE dots. DOT_F32 upcasts the 16-bit tiles to fp32 before the
dots: the interpreter needs it for bf16 (it multiplies raw bf16 bits otherwise, triton issue 11584).

TMA (Hopper): with tensor descriptors the tiles move by TMA; the descriptors are rank 3, [batch x heads,
seq, head_dim], so a ragged last tile is zero-filled at its own head's end and the store is clipped there.

Byte accounting (compulsory, gpubench.opcount.attention_bytes): Q and O once per query head, K and V
once per kv head; FLOPs 4 * batch * heads * head_dim per unmasked (query, key) pair.
"""

from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl

from gpubench.kernels.attention import config
from gpubench.kernels.attention.launch import LN2, empty_result, qk_scale
from gpubench.kernels.attention.validate import Dims, validate
from gpubench.kernels.triton_tiles import HAS_TENSOR_DESCRIPTORS, TensorDescriptor

_LN2 = tl.constexpr(LN2)  # globals in jit code must be constexpr


@triton.jit
def load_kv(base, rows, offs_d, limit, HEAD_DIM: tl.constexpr, MASKED: tl.constexpr):
    """[BLOCK_N, HEAD_DIM] rows of a contiguous K or V head; rows >= limit read as zero when MASKED."""
    ptrs = base + rows.to(tl.int64)[:, None] * HEAD_DIM + offs_d[None, :]
    if MASKED:
        return tl.load(ptrs, mask=(rows < limit)[:, None], other=0.0)
    return tl.load(ptrs)


@triton.jit
def attend(acc, l_i, m_i, q, k_src, v_src, kv_row0, qi, offs_n, offs_d, lo, hi, limit, causal_offset,
           qk_scale, CAUSAL: tl.constexpr, MASKED: tl.constexpr, BLOCK_N: tl.constexpr,
           HEAD_DIM: tl.constexpr, DOT_F32: tl.constexpr, PRECISION: tl.constexpr,
           TMA: tl.constexpr):  # fmt: skip
    """Online softmax over keys [lo, hi) in BLOCK_N steps; returns the updated (acc, l, m).

    qi: each row's query index (its causal limit is qi + causal_offset). MASKED: keys >= limit and, when
    CAUSAL, keys past a row's limit score -inf (unmasked blocks are seen in full by every row). With TMA,
    k_src/v_src are descriptors and kv_row0 is the head's index along their first dimension; else they
    point at the head's first row."""
    for start in range(lo, hi, BLOCK_N):
        cols = start + offs_n
        if TMA:
            k = k_src.load([kv_row0, start, 0]).reshape(BLOCK_N, HEAD_DIM)
        else:
            k = load_kv(k_src, cols, offs_d, limit, HEAD_DIM, MASKED)
        if DOT_F32:
            k = k.to(tl.float32)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale
        if MASKED:
            ok = (cols < limit)[None, :]
            if CAUSAL:
                ok = ok & (cols[None, :] <= qi[:, None] + causal_offset)
            s = tl.where(ok, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        if MASKED:  # a row that has seen no key yet: subtract 0, not -inf (exp2(-inf - -inf) is NaN)
            m_use = tl.where(m_new == float("-inf"), 0.0, m_new)
        else:
            m_use = m_new
        p = tl.math.exp2(s - m_use[:, None])
        alpha = tl.math.exp2(m_i - m_use)
        l_i = l_i * alpha + tl.sum(p, axis=1)
        if TMA:
            v = v_src.load([kv_row0, start, 0]).reshape(BLOCK_N, HEAD_DIM)
        else:
            v = load_kv(v_src, cols, offs_d, limit, HEAD_DIM, MASKED)
        if DOT_F32:
            v = v.to(tl.float32)
        acc = acc * alpha[:, None]
        acc = tl.dot(p.to(v.dtype), v, acc, input_precision=PRECISION)
        m_i = m_new
    return acc, l_i, m_i


@triton.jit
def key_ranges(m0, seq_k, causal_offset, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
               CAUSAL: tl.constexpr):  # fmt: skip
    """(end of the unmasked blocks, end of all blocks) for query rows [m0, m0 + BLOCK_M); both >= 0.
    Unmasked: whole BLOCK_N blocks below seq_k that row m0 (the tile's most restricted) sees in full."""
    if CAUSAL:
        hi = tl.minimum(seq_k, tl.maximum(m0 + BLOCK_M + causal_offset, 0))
        full = tl.minimum(seq_k, tl.maximum(m0 + causal_offset + 1, 0))
    else:
        hi = seq_k
        full = seq_k
    full = (full // BLOCK_N) * BLOCK_N
    return tl.minimum(full, hi), hi


@triton.jit
def _fwd_kernel(Qs, Ks, Vs, Os, LSE, heads, group, seq_q, seq_k, qk_scale,
                CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                HEAD_DIM: tl.constexpr, DOT_F32: tl.constexpr, PRECISION: tl.constexpr,
                TMA: tl.constexpr):  # fmt: skip
    tile = tl.program_id(0)
    if CAUSAL:  # longest tiles (most keys) first
        tile = tl.num_programs(0) - 1 - tile
    bh = tl.program_id(1)
    bkv = (bh // heads) * (heads // group) + (bh % heads) // group  # batch * kv_heads + kv head
    m0 = tile * BLOCK_M
    offs_m = m0 + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    causal_offset = seq_k - seq_q
    row_ok = offs_m < seq_q
    if TMA:
        q = Qs.load([bh, m0, 0]).reshape(BLOCK_M, HEAD_DIM)
        k_src = Ks
        v_src = Vs
    else:
        q_rows = Qs + bh.to(tl.int64) * seq_q * HEAD_DIM + offs_m.to(tl.int64)[:, None] * HEAD_DIM
        q = tl.load(q_rows + offs_d[None, :], mask=row_ok[:, None], other=0.0)
        k_src = Ks + bkv.to(tl.int64) * seq_k * HEAD_DIM
        v_src = Vs + bkv.to(tl.int64) * seq_k * HEAD_DIM
    if DOT_F32:
        q = q.to(tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    full, hi = key_ranges(m0, seq_k, causal_offset, BLOCK_M, BLOCK_N, CAUSAL)
    acc, l_i, m_i = attend(acc, l_i, m_i, q, k_src, v_src, bkv, offs_m, offs_n, offs_d, 0, full, seq_k,
                           causal_offset, qk_scale, CAUSAL, False, BLOCK_N, HEAD_DIM, DOT_F32, PRECISION,
                           TMA)  # fmt: skip
    acc, l_i, m_i = attend(acc, l_i, m_i, q, k_src, v_src, bkv, offs_m, offs_n, offs_d, full, hi, seq_k,
                           causal_offset, qk_scale, CAUSAL, True, BLOCK_N, HEAD_DIM, DOT_F32, PRECISION,
                           TMA)  # fmt: skip
    seen = l_i > 0.0
    out = acc / tl.where(seen, l_i, 1.0)[:, None]  # rows that saw no key: acc is 0, so out is 0
    lse = tl.where(seen, (m_i + tl.math.log2(tl.where(seen, l_i, 1.0))) * _LN2, float("inf"))
    tl.store(LSE + bh.to(tl.int64) * seq_q + offs_m, lse, mask=row_ok)
    if TMA:
        Os.store([bh, m0, 0], out.to(Os.dtype).reshape(1, BLOCK_M, HEAD_DIM))
    else:
        o_rows = Os + bh.to(tl.int64) * seq_q * HEAD_DIM + offs_m.to(tl.int64)[:, None] * HEAD_DIM
        tl.store(o_rows + offs_d[None, :], out.to(Os.dtype.element_ty), mask=row_ok[:, None])


# ---- launchers ----


def dot_mode(q: torch.Tensor) -> tuple[bool, str]:
    """(DOT_F32, PRECISION): IEEE fp32 dots for fp32 data and for bf16 in the interpreter."""
    if q.dtype == torch.float32:
        return True, "ieee"
    return (q.dtype == torch.bfloat16 and q.device.type != "cuda"), "ieee"


def prepare(q, k, v, causal) -> tuple[Dims, tuple | None]:
    """Validate; return the sizes and, where nothing needs computing, the finished (O, LSE)."""
    d = validate(q, k, v, causal)
    problem = config.triton_head_dim_problem(d.head_dim)
    if problem:
        raise ValueError(problem)
    return d, empty_result(q, d)


def candidates(device, head_dim: int, tma: bool) -> tuple[config.Tile, ...]:
    """The config's forward tiles for `head_dim` on `device`; ValueError where none fits."""
    cfg = config.config_for(device)
    table = cfg.fwd_tma if tma else cfg.fwd
    problem = config.triton_head_dim_problem(head_dim, table, "the TMA forward" if tma else "the forward")
    if problem:
        raise ValueError(problem)
    return table[head_dim]


def _kwargs(t: config.Tile) -> dict:
    return {"BLOCK_M": t.block_m, "BLOCK_N": t.block_n, "num_warps": t.num_warps, "num_stages": t.num_stages}


_AUTOTUNED: dict = {}


def _set_block_shapes(nargs) -> None:
    """Autotune pre-hook: the descriptors' block shapes follow the config being run."""
    if nargs.get("TMA"):
        bm, bn, hd = nargs["BLOCK_M"], nargs["BLOCK_N"], nargs["HEAD_DIM"]
        nargs["Qs"].block_shape = [1, bm, hd]
        nargs["Os"].block_shape = [1, bm, hd]
        nargs["Ks"].block_shape = [1, bn, hd]
        nargs["Vs"].block_shape = [1, bn, hd]


def _autotuned(tiles: tuple[config.Tile, ...], dtype):
    """One autotuner per (candidates, operand dtype). Triton's autotuner adds the dtype of each tensor
    argument to its key, but a TensorDescriptor has no `.dtype`: with one autotuner, the TMA forward's
    fp16 and bf16 runs would share the config tuned for whichever ran first."""
    key = (tiles, dtype)
    if key not in _AUTOTUNED:
        configs = [
            triton.Config({"BLOCK_M": t.block_m, "BLOCK_N": t.block_n}, num_warps=t.num_warps,
                          num_stages=t.num_stages, pre_hook=_set_block_shapes)
            for t in tiles
        ]  # fmt: skip
        keys = ["seq_q", "seq_k", "HEAD_DIM", "CAUSAL", "TMA"]
        _AUTOTUNED[key] = triton.autotune(configs=configs, key=keys)(_fwd_kernel)
    return _AUTOTUNED[key]


def _operands(q, k, v, o, d: Dims, tma: bool, t: config.Tile):
    if not tma:
        return q, k, v, o
    if not HAS_TENSOR_DESCRIPTORS:
        raise RuntimeError(f"triton {triton.__version__} has no tensor descriptors")
    hd = d.head_dim
    views = [(q, d.heads, d.seq_q, t.block_m), (k, d.kv_heads, d.seq_k, t.block_n),
             (v, d.kv_heads, d.seq_k, t.block_n), (o, d.heads, d.seq_q, t.block_m)]  # fmt: skip
    return tuple(
        TensorDescriptor.from_tensor(x.view(d.batch * h, s, hd), [1, rows, hd]) for x, h, s, rows in views
    )


def forward(q, k, v, causal, *, tma: bool = False, tiles: tuple[config.Tile, ...] | None = None):
    """(O, LSE) of flash attention; LSE is fp32 [batch, heads, seq_q] in natural log.

    `tiles`: candidates to use instead of the config's (the first only, when not autotuning: on CPU, or
    when given explicitly)."""
    d, done = prepare(q, k, v, causal)
    if done is not None:
        return done
    o = torch.empty_like(q)
    lse = torch.empty((d.batch, d.heads, d.seq_q), dtype=torch.float32, device=q.device)
    dot_f32, precision = dot_mode(q)
    scale = qk_scale(d.head_dim)
    explicit = tiles is not None
    tiles = tiles or candidates(q.device, d.head_dim, tma)
    consts = dict(CAUSAL=d.causal, HEAD_DIM=d.head_dim, DOT_F32=dot_f32, PRECISION=precision, TMA=tma)
    args = (*_operands(q, k, v, o, d, tma, tiles[0]), lse, d.heads, d.group, d.seq_q, d.seq_k, scale)
    on_gpu = q.device.type == "cuda"
    with torch.cuda.device(q.device) if on_gpu else contextlib.nullcontext():
        if not on_gpu or explicit:  # one config, no autotuning (the interpreter has no timer)
            t = tiles[0]
            _fwd_kernel[(triton.cdiv(d.seq_q, t.block_m), d.batch * d.heads)](*args, **consts, **_kwargs(t))
        else:
            grid = lambda meta: (triton.cdiv(d.seq_q, meta["BLOCK_M"]), d.batch * d.heads)  # noqa: E731
            _autotuned(tuple(tiles), q.dtype)[grid](*args, **consts)
    return o, lse


def flash_attention(q, k, v, causal):
    """The `triton` variant: the output only."""
    return forward(q, k, v, causal)[0]


def flash_attention_tma(q, k, v, causal):
    """The `triton_tma` variant: tiles moved by TMA tensor descriptors."""
    return forward(q, k, v, causal, tma=True)[0]
