"""Tuning knobs for the quantised matmuls, per architecture, in one place.

Triton: short autotune lists (every bench shape autotunes once per dtype, and the whole suite's full
profile has ten minutes), per compute-capability major and operand format (fp8, int8); on the CPU (the
Triton interpreter) one small config and no autotuning. Tiles are in elements: for fp8/int8 a BLOCK_K
of 128 is 128 bytes, the same bytes per stage as a 64-deep fp16 tile.
CUDA C: the tile shapes are compiled into the .cu files; the constants below mirror them (a CPU test
reads them back from the sources) and size the launch grids.
Imports neither torch nor triton.
"""

from __future__ import annotations

from gpubench.kernels.arch import for_major
from gpubench.kernels.tiles import Tile
from gpubench.kernels.tiles import tile as _t

# ---- fp8 / int8 tiled kernel (one scaled-GEMM kernel for both) ----
# Hopper: wgmma 64-row warpgroup tiles; 1-byte operands fit 128x256x128 tiles with 3 stages in 228 KiB.
# The 64-row tiles serve M <= 64, where a 128-row tile wastes most of its MMA work.
_SCALED_HOPPER = (
    _t(128, 256, 128, 8, 3),
    _t(128, 128, 128, 8, 4),
    _t(64, 128, 128, 4, 4),
    _t(64, 64, 256, 4, 4),
)
# fp8 promotes the wgmma partial sums into a second fp32 accumulator every BLOCK_K (see triton_scaled._dot):
# two 128x256 fp32 tiles are 256 registers a thread at 8 warps, so the 128x256 tile spills (160-200 B of
# stack in Triton 3.6's sm_90 cubins) and is left out for fp8.
_SCALED_HOPPER_FP8 = _SCALED_HOPPER[1:]
# Ampere/Ada (int8 mma.sync; fp8 on sm_89): up to 164 KiB of shared memory, shallower stages. Triton
# 3.9's sm_80/sm_89 cubins spilled 552 B at 128x256x64 (8 warps) and 616-648 B at 128x128x64 (4 warps);
# 128x128x64 with 8 warps and 64x256x64 take 250 and 244 registers and none.
_SCALED_AMPERE = (
    _t(128, 128, 64, 8, 3),
    _t(64, 256, 64, 8, 3),
    _t(64, 128, 128, 4, 3),
    _t(64, 64, 128, 4, 4),
)
# Persistent TMA kernel (Hopper): the epilogue's output staging buffer shares the shared memory.
_SCALED_TMA = (
    _t(128, 256, 128, 8, 3),
    _t(128, 128, 128, 8, 4),
    _t(64, 128, 128, 4, 4),
)
# fp8: the 128x256 tile spills for the same reason as the tiled kernel's (112-128 B, Triton 3.6, sm_90).
_SCALED_TMA_FP8 = _SCALED_TMA[1:]
INTERPRETER = _t(32, 32, 32, 1, 1, group=3)  # a 3-row group leaves a partial last group on the test shapes
# Split-K for M <= SCALED_SPLITK_MAX_M (memory-bound: at M = 1 and 16 the tiled grid has N / BLOCK_N
# programs, under one wave of 132 SMs at N = 4096 to 8192). Each output tile's K range is split over
# `split_k` programs, so N / BLOCK_N x split_k programs (256 to 2048 at the bench's N) keep every SM
# streaming b. Hopper keeps wgmma's 64-row tiles (at M = 1 the idle rows cost MMA issue, not bytes: 128
# FLOP a byte of b, under fp8's ridge); Ampere/Ada take 16-row mma.sync tiles.
SCALED_SPLITK_MAX_M = 16
_SCALED_SPLITK_HOPPER = (
    _t(64, 128, 128, 4, 4, split_k=8),
    _t(64, 64, 128, 4, 4, split_k=16),
    _t(64, 128, 256, 4, 3, split_k=4),
)
_SCALED_SPLITK_AMPERE = (
    _t(16, 128, 128, 4, 4, split_k=8),
    _t(16, 64, 128, 4, 4, split_k=16),
)
SCALED_SPLITK_INTERPRETER = _t(16, 32, 32, 1, 1, group=1, split_k=2)

# ---- int4 weight-only ----
# Tiled (large M): fp16/bf16 tensor-core dots on in-kernel dequantised weights. BLOCK_K is cut down to
# the group size where a group is shorter (one scale row per K tile: see triton_int4).
# The dequantised [BLOCK_K/2, BLOCK_N] halves live in registers beside the accumulator: in Triton 3.6's
# cubins 128x256x64 (8 warps) spilled 320 B and 128x128x128 104 B on sm_90, 128x128x64 (4 warps)
# 384-400 B on sm_80; in Triton 3.9's, 128x128x64 (8 warps) 16 B on sm_90 and 128x64x64 (4 warps) 80 B
# on sm_80. The tiles below spill in neither: 128-row tiles 64 wide with 8 warps (163-169 registers),
# 64-row tiles up to 256 wide.
_INT4_TILED_HOPPER = (
    _t(128, 64, 64, 8, 3),
    _t(64, 256, 64, 8, 3),
    _t(64, 128, 128, 4, 4),
)
_INT4_TILED_AMPERE = (
    _t(128, 64, 64, 8, 3),
    _t(64, 128, 64, 4, 4),
    _t(64, 256, 64, 8, 3),
)
# Split-K (M <= 16, memory-bound): 16-row tiles (the smallest tensor-core dot), each output tile's K range
# split over `split_k` programs so that N / BLOCK_N x split_k programs fill the GPU several times over.
# The 16x64 tile runs 2 warps: with 4, ptxas held it to 80 registers and spilled 8 B at BLOCK_K 64
# (group 64) in Triton 3.6's cubins (sm_90 fp16, sm_80 bf16); 2 warps take 122-127 and none.
_INT4_SPLITK_HOPPER = (
    _t(16, 128, 128, 4, 4, split_k=8),
    _t(16, 64, 128, 2, 4, split_k=16),
    _t(16, 256, 128, 8, 3, split_k=4),
    _t(16, 128, 256, 4, 3, split_k=8),
)
_INT4_SPLITK_AMPERE = (
    _t(16, 128, 128, 4, 4, split_k=8),
    _t(16, 64, 128, 2, 4, split_k=16),
)
INT4_INTERPRETER = _t(32, 32, 32, 1, 1, group=3)
INT4_SPLITK_INTERPRETER = _t(16, 32, 32, 1, 1, group=1, split_k=2)
# The split-K schedule is for small batches; above this M the tiled schedule is the one to read.
SPLITK_MAX_M = 64


OPERANDS = ("fp8", "int8")


def _operand(operand: str) -> str:
    if operand not in OPERANDS:
        raise ValueError(f"operand must be one of {OPERANDS}, got {operand!r}")
    return operand


def scaled_tiles_for(major: int, operand: str) -> tuple[Tile, ...]:
    """The tiled fp8/int8 kernel's candidates on a GPU of compute capability `major` (no GPU needed)."""
    hopper = _SCALED_HOPPER_FP8 if _operand(operand) == "fp8" else _SCALED_HOPPER
    return for_major(major, {9: hopper}, _SCALED_AMPERE)


def scaled_tma_tiles_for(major: int, operand: str) -> tuple[Tile, ...]:
    """The persistent TMA kernel's candidates (Hopper)."""
    return _SCALED_TMA_FP8 if _operand(operand) == "fp8" else _SCALED_TMA


def scaled_splitk_tiles_for(major: int, operand: str) -> tuple[Tile, ...]:
    """The split-K candidates of the tiled fp8/int8 kernel (M <= SCALED_SPLITK_MAX_M)."""
    _operand(operand)
    return for_major(major, {9: _SCALED_SPLITK_HOPPER}, _SCALED_SPLITK_AMPERE)


def deepest_block_k(operand: str) -> int:
    """The largest BLOCK_K of any GPU table of the fp8/int8 kernels for this operand format."""
    tables = [f(major, operand) for major in (8, 9) for f in (scaled_tiles_for, scaled_splitk_tiles_for)]
    return max(t.block_k for tiles in (*tables, scaled_tma_tiles_for(9, operand)) for t in tiles)


def int4_tiled_tiles_for(major: int) -> tuple[Tile, ...]:
    return for_major(major, {9: _INT4_TILED_HOPPER}, _INT4_TILED_AMPERE)


def int4_splitk_tiles_for(major: int) -> tuple[Tile, ...]:
    return for_major(major, {9: _INT4_SPLITK_HOPPER}, _INT4_SPLITK_AMPERE)


def _on(device, for_arch, cpu: Tile, *args) -> tuple[Tile, ...]:
    """`for_arch(major, *args)` of a CUDA device; the interpreter's one tile elsewhere."""
    if getattr(device, "type", "cpu") != "cuda":
        return (cpu,)
    import torch

    return for_arch(torch.cuda.get_device_capability(device)[0], *args)


def scaled_tiles(device, operand: str) -> tuple[Tile, ...]:
    return _on(device, scaled_tiles_for, INTERPRETER, operand)


def scaled_tma_tiles(device, operand: str) -> tuple[Tile, ...]:
    return _on(device, scaled_tma_tiles_for, INTERPRETER, operand)


def scaled_splitk_tiles(device, operand: str) -> tuple[Tile, ...]:
    return _on(device, scaled_splitk_tiles_for, SCALED_SPLITK_INTERPRETER, operand)


def int4_tiled_tiles(device) -> tuple[Tile, ...]:
    return _on(device, int4_tiled_tiles_for, INT4_INTERPRETER)


def int4_splitk_tiles(device) -> tuple[Tile, ...]:
    return _on(device, int4_splitk_tiles_for, INT4_SPLITK_INTERPRETER)


# ---- CUDA C (int8_gemm.cu, fp8_gemm.cu, int4_gemm.cu): compiled-in tiles ----
# The 8-bit mma kernels (gpubench/byte_mma.cuh, int8 and fp8): 128x128 block tile, BK = 32 bytes (one
# m16n8k32 step), 3 cp.async stages, 8 warps in a 2 (M) x 4 (N) grid, 64x32 outputs per warp.
MMA_TILE = (128, 128, 32)
MMA_STAGES = 3
MMA_THREADS = 256
# int8_gemm.cu's dp4a kernel: 64x64 block tile, BK = 32 bytes, 256 threads with a 4x4 micro-tile each.
DP4A_TILE = (64, 64, 32)
DP4A_THREADS = 256
CUDA_GROUP_M = 8  # row tiles per group in the grouped launch order of the kernels
# int4_gemm.cu: 64x128 block tile, BK = 32 (one group scale row a step), 3 cp.async stages, 8 warps in a
# 2 (M) x 4 (N) grid, 32x32 outputs per warp.
INT4_MMA_TILE = (64, 128, 32)
INT4_MMA_STAGES = 3
INT4_MMA_THREADS = 256
