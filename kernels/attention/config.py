"""Tuning knobs for attention (forward, backward, decode; Triton and CUDA C), per architecture, in one place.

Triton forward: a short autotune list per head_dim (each candidate compiles once per dtype and causal
flag; the list stays short so the bench profiles keep their time budget). Backward and decode: one tile
per head_dim, no autotuning. On CPU (the Triton interpreter) every tile is 16 wide, so that the test
shapes cross several tiles, ragged ones included, and the decode split runs several programs per head.

The figures are starting points chosen so that the compiled kernels fit their shared memory and do not
spill (checked on the CPU by compiling them ahead of time for sm_80/sm_90 and reading the cubins,
tests/test_compile_gate_gemmlike.py); they have not been tuned on a GPU yet.

This module imports neither torch nor triton at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gpubench.kernels.arch import for_major, pick


@dataclass(frozen=True)
class Tile:
    block_m: int
    block_n: int
    num_warps: int
    num_stages: int


@dataclass(frozen=True)
class BwdTiles:
    """dK/dV: one program per BLOCK_N keys walking the queries in BLOCK_M steps (kv); dQ: one program
    per BLOCK_M queries walking the keys (q)."""

    kv: Tile
    q: Tile


@dataclass(frozen=True)
class DecodeConfig:
    block_n: int  # keys per step of a split
    num_warps: int
    num_stages: int
    programs_per_sm: int  # splits are added until the grid has about this many programs per SM
    min_chunk: int  # fewest keys a split is given (a multiple of block_n)
    cpu_programs: int  # the interpreter's stand-in for the SM count
    # The combine kernel's warps: 8, since its [64, 256] fp32 accumulator (BLOCK_M 64 at head_dim 256)
    # spilled 16 B with 4 in Triton 3.6's sm_90 cubin (171 registers and none with 8).
    combine_warps: int = 8
    head_dims: tuple[int, ...] = (32, 64, 128, 256)  # the head_dims the split kernel runs here


@dataclass(frozen=True)
class AttentionConfig:
    """Per head_dim tables; a head_dim missing from a table is one that kernel does not run here (no
    tile compiled for the architecture without spilling), a skip reason rather than a slow kernel."""

    fwd: dict[int, tuple[Tile, ...]]  # head_dim -> autotune candidates (the first is the default)
    fwd_tma: dict[int, tuple[Tile, ...]]  # the same for the TMA forward (Hopper only)
    bwd: dict[int, BwdTiles]  # head_dim -> tiles
    decode: DecodeConfig  # every head_dim of TRITON_HEAD_DIMS


def _t(bm, bn, warps, stages) -> Tile:
    return Tile(bm, bn, warps, stages)


def _bwd(kv, q) -> BwdTiles:
    return BwdTiles(kv=_t(*kv), q=_t(*q))


# head_dims the Triton kernels are written for (powers of two: one block spans the whole head).
TRITON_HEAD_DIMS = (32, 64, 128, 256)

# Hopper (sm_90): 227 KiB of shared memory per block; 128-row query tiles take 8 warps (two warpgroups,
# 64 rows of wgmma each): with 4 warps a 128 x 128 fp32 accumulator and the score tile spill.
# The dK/dV kernel keeps two fp32 [BLOCK_N, head_dim] accumulators and the K, V tiles live: at d128 only
# 64-key (or 16-query) tiles fit the registers.
_HOPPER = AttentionConfig(
    fwd={
        32: (_t(128, 128, 8, 3), _t(128, 64, 4, 3)),
        64: (_t(128, 128, 8, 3), _t(128, 64, 8, 3), _t(64, 64, 4, 3)),
        128: (_t(128, 64, 8, 3), _t(128, 64, 8, 4), _t(64, 64, 4, 3)),
        256: (_t(128, 64, 8, 2), _t(128, 32, 8, 2)),
    },
    fwd_tma={
        32: (_t(128, 128, 8, 3), _t(128, 64, 4, 3)),
        64: (_t(128, 128, 8, 3), _t(128, 64, 8, 3), _t(64, 64, 4, 3)),
        128: (_t(128, 128, 8, 2), _t(128, 64, 8, 3), _t(64, 64, 4, 3)),
        256: (_t(128, 64, 8, 2), _t(64, 64, 4, 2)),
    },
    bwd={
        32: _bwd((32, 128, 8, 2), (128, 64, 8, 2)),
        64: _bwd((32, 128, 8, 2), (128, 64, 8, 2)),
        128: _bwd((32, 64, 8, 2), (128, 64, 8, 2)),
        256: _bwd((16, 64, 8, 2), (64, 32, 8, 2)),
    },
    decode=DecodeConfig(
        block_n=64, num_warps=4, num_stages=3, programs_per_sm=4, min_chunk=256, cpu_programs=8
    ),  # fmt: skip
)
# Where Triton assembles sm_90 with CUDA 13's ptxas (Triton 3.7 on), measured on Triton 3.9's own
# cubins: the pointer forward's 128 x 128 tile at d128 no longer spills (16 B of stack with CUDA 12's),
# so it leads the list; the dK/dV kernel at d256 spills with every tile tried (192 B at 16 x 64), so
# the backward leaves d256 out.
_HOPPER_CUDA13 = replace(
    _HOPPER,
    fwd={**_HOPPER.fwd, 128: (_t(128, 128, 8, 2), *_HOPPER.fwd[128][:2])},
    bwd={d: t for d, t in _HOPPER.bwd.items() if d != 256},
)

# Ampere and other tensor-core GPUs (mma.sync; the tables fit the 99 KiB of shared memory of sm_86/89).
# d256 spills with every forward tile tried (24-120 B): not run there. At d128 the 128 x 64 tile spills
# 16 B (24 B with 2 stages) in Triton 3.6's sm_80 cubins: 128 x 32 (184 registers) leads instead.
_AMPERE = AttentionConfig(
    fwd={
        32: (_t(128, 128, 8, 3), _t(128, 64, 8, 3)),
        64: (_t(128, 64, 8, 3), _t(64, 128, 4, 3), _t(128, 128, 8, 3)),
        128: (_t(128, 32, 8, 3), _t(64, 64, 4, 3), _t(64, 32, 4, 3)),
    },
    fwd_tma={},
    bwd={
        32: _bwd((32, 128, 8, 2), (128, 64, 8, 2)),
        64: _bwd((32, 128, 8, 2), (128, 64, 8, 2)),
        128: _bwd((32, 64, 8, 2), (128, 32, 8, 2)),
    },
    # d256 left out: the 64-row split spilled 32 B and needed 104 KiB of shared memory (Triton 3.6, sm_80).
    # 8 warps, 3 stages: with 4 warps and 2 stages Triton 3.9's cubin spilled 16 B (64 x 64 at d64), with
    # 8 and 2 Triton 3.6's 8 B (32 x 64 at d32); 8 and 3 spill in neither.
    decode=DecodeConfig(
        block_n=64, num_warps=8, num_stages=3, programs_per_sm=4, min_chunk=256, cpu_programs=8,
        head_dims=(32, 64, 128),
    ),  # fmt: skip
)

# The interpreter: 16-wide tiles everywhere (the smallest tl.dot); splits of 32 keys.
_CPU_TILE = _t(16, 16, 4, 1)
CPU = AttentionConfig(
    fwd={d: (_CPU_TILE,) for d in TRITON_HEAD_DIMS},
    fwd_tma={d: (_CPU_TILE,) for d in TRITON_HEAD_DIMS},
    bwd={d: BwdTiles(kv=_CPU_TILE, q=_CPU_TILE) for d in TRITON_HEAD_DIMS},
    decode=DecodeConfig(
        block_n=16, num_warps=4, num_stages=1, programs_per_sm=1, min_chunk=32, cpu_programs=8
    ),  # fmt: skip
)


def triton_head_dim_problem(head_dim: int, table=None, what: str = "the Triton kernels") -> str | None:
    """Why `head_dim` cannot run: not one the kernels are written for, or (with `table`, one of a
    config's per-head_dim tables) none of its tiles fits this architecture."""
    if head_dim not in TRITON_HEAD_DIMS:
        return f"head_dim {head_dim} not supported by {what} (one of {TRITON_HEAD_DIMS})"
    if table is not None and head_dim not in table:
        tuned = sorted(table)
        return f"head_dim {head_dim}: no tile of {what} fits this GPU without spilling (tuned: {tuned})"
    return None


def for_arch(major: int) -> AttentionConfig:
    """The config of a GPU of compute capability `major` with this machine's Triton (no GPU needed)."""
    return for_major(major, {9: _HOPPER}, _AMPERE, {9: _HOPPER_CUDA13})


def config_for(device) -> AttentionConfig:
    return pick(device, {9: _HOPPER}, _AMPERE, CPU, {9: _HOPPER_CUDA13})


# ---- CUDA C (attention.cu): compiled-in tile shapes, mirrored here to size the launch ----

# 32 query rows and 16 keys per step, 128 threads: four threads share a query row.
CUDA_BLOCK_M = 32
CUDA_BLOCK_N = 16
CUDA_THREADS = 128
CUDA_HEAD_DIMS = (32, 64, 128)  # the instantiations in attention.cu (Q, K, V tiles in 48 KiB static smem)


def cuda_head_dim_problem(head_dim: int) -> str | None:
    if head_dim not in CUDA_HEAD_DIMS:
        return f"head_dim {head_dim} has no CUDA instantiation (one of {CUDA_HEAD_DIMS})"
    return None
