"""Tuning knobs for GEMM, per architecture (compute capability major), in one place.

Triton: small autotune lists per architecture and per dtype class (16-bit tensor-core dots, TF32 dots,
IEEE fp32 dots, which run on the FMA units). The lists are short on purpose: every (M, N, K, dtype) of
the bench sweep autotunes once, and the full profile of the whole suite must fit in ten minutes.
On CPU (the Triton interpreter) there is exactly one small config and no autotuning at all.

CUDA C: the tile shapes are structural (the thread-to-data mapping depends on them), so they are
compiled into the .cu files; the constants below mirror them (a CPU test checks they agree) and
size the launch grids.

This module imports neither torch nor triton at import time (the tables that depend on the assembler
ask Triton which ptxas it uses, when they are looked up: kernels/arch.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from gpubench.kernels.arch import for_major
from gpubench.kernels.tiles import Tile
from gpubench.kernels.tiles import tile as _t


@dataclass(frozen=True)
class TritonLists:
    """Autotune candidates for one architecture, by dtype class."""

    half: tuple[Tile, ...]  # fp16 / bf16 (tensor cores)
    tf32: tuple[Tile, ...]  # fp32 data, TF32 tensor-core dots
    fp32: tuple[Tile, ...]  # fp32 data, IEEE dots (FMA units, no tensor cores)


# Hopper (sm_90): wgmma wants 64-row warpgroup tiles and deep pipelines; 228 KiB of shared memory per
# SM fits 128x256x64 16-bit tiles with 3-4 stages. The 64-row configs serve the skinny (M <= 16) shapes,
# where a 128-row tile wastes most of its work and fewer, larger tiles leave SMs idle.
_HOPPER = TritonLists(
    half=(
        _t(128, 256, 64, 8, 3),
        _t(128, 256, 64, 8, 4),
        _t(128, 128, 64, 8, 4),
        _t(64, 128, 128, 4, 4),
        _t(64, 64, 128, 4, 4),
    ),
    tf32=(
        _t(128, 256, 32, 8, 3),
        _t(128, 128, 32, 8, 4),
        _t(64, 128, 64, 4, 3),
        _t(64, 64, 64, 4, 4),
    ),
    fp32=(
        _t(128, 128, 32, 8, 3),
        _t(128, 64, 32, 4, 3),
        _t(64, 128, 32, 4, 3),
        _t(64, 64, 32, 4, 3),
    ),
)

# Ampere and anything else with tensor cores (sm_80, sm_86, sm_89, ...): mma.sync, 100-164 KiB of
# shared memory per SM, so shallower K tiles.
_AMPERE = TritonLists(
    half=(
        _t(128, 256, 32, 8, 3),
        _t(128, 128, 32, 4, 4),
        _t(64, 128, 32, 4, 4),
        _t(64, 64, 64, 4, 4),
    ),
    tf32=(
        _t(128, 128, 32, 8, 3),
        _t(64, 128, 32, 4, 3),
        _t(64, 64, 32, 4, 4),
    ),
    fp32=(
        _t(128, 128, 16, 8, 3),
        _t(64, 128, 32, 4, 3),
        _t(64, 64, 32, 4, 3),
    ),
)

# The interpreter: one small config (a 3-row group exercises a partial last group on the test shapes).
INTERPRETER_TILE = _t(32, 32, 32, 1, 1, group=3)
_INTERPRETER = TritonLists(half=(INTERPRETER_TILE,), tf32=(INTERPRETER_TILE,), fp32=(INTERPRETER_TILE,))

# The persistent TMA kernel (Hopper only). 128x256 16-bit tiles leave room for 3 stages plus the
# epilogue's staging buffer; configs that do not fit are dropped by the autotuner (out of resources).
_HOPPER_TMA = TritonLists(
    half=(
        _t(128, 256, 64, 8, 3),
        _t(128, 128, 64, 8, 4),
        _t(128, 128, 128, 8, 3),
        _t(64, 128, 128, 4, 4),
    ),
    # fp32 C tiles make the epilogue buffer twice as large: 128x256 fp32 tiles do not fit with 3 stages.
    tf32=(
        _t(128, 128, 32, 8, 4),
        _t(128, 128, 32, 8, 3),
        _t(64, 128, 64, 4, 3),
    ),
    fp32=(
        _t(128, 128, 32, 8, 3),
        _t(64, 128, 32, 4, 3),
    ),
)


# Where Triton assembles sm_90 with CUDA 13's ptxas (Triton 3.7 on), the IEEE fp32 (FMA) tiles with
# BLOCK_K 32 spill (255 registers, 296-1680 B of stack in Triton 3.9's own cubins): BLOCK_K 16 tiles
# use 200 registers and no stack there (106-112 with CUDA 12's ptxas).
_HOPPER_TMA_CUDA13 = dataclasses.replace(
    _HOPPER_TMA, fp32=(_t(128, 64, 16, 8, 4), _t(64, 128, 16, 8, 3), _t(64, 64, 16, 4, 3))
)


def _major(device) -> int | None:
    if getattr(device, "type", "cpu") != "cuda":
        return None
    import torch

    return torch.cuda.get_device_capability(device)[0]


def triton_lists(device) -> TritonLists:
    """Autotune candidates of the `triton` variant for `device` (one config on CPU)."""
    major = _major(device)
    if major is None:
        return _INTERPRETER
    return triton_lists_for(major)


def triton_lists_for(major: int) -> TritonLists:
    """The `triton` variant's candidates for a GPU of compute capability `major` (no GPU needed)."""
    return _HOPPER if major == 9 else _AMPERE


def tma_lists(device) -> TritonLists:
    """Autotune candidates of the persistent TMA variant (one config on CPU)."""
    major = _major(device)
    return _INTERPRETER if major is None else tma_lists_for(major)


def tma_lists_for(major: int) -> TritonLists:
    """The persistent TMA variant's candidates for a GPU of compute capability `major` with this machine's
    Triton (no GPU needed)."""
    return for_major(major, {}, _HOPPER_TMA, {9: _HOPPER_TMA_CUDA13})


def pick(lists: TritonLists, dtype_class: str) -> tuple[Tile, ...]:
    return {"half": lists.half, "tf32": lists.tf32, "fp32": lists.fp32}[dtype_class]


# ---- CUDA C kernels: compiled-in tile shapes (mirrors of the constants in the .cu files) ----

# gemm_simple.cu, cuda_naive: one thread per output, 16x16 threads per block.
NAIVE_BLOCK = (16, 16)
# gemm_simple.cu, cuda_smem: 32x32 output tile, 32-wide K step, one output per thread (1024 threads).
SMEM_TILE = 32
# gemm_simt.cu: 128x128 block tile, BK = 8, 256 threads with an 8x8 micro-tile each.
SIMT_TILE = (128, 128, 8)
SIMT_THREADS = 256
# gemm_mma.cu: 128x128 block tile, BK = 32, 3 cp.async stages, 8 warps in a 2x4 grid (64x32 per warp).
MMA_TILE = (128, 128, 32)
MMA_STAGES = 3
MMA_THREADS = 256
# Row tiles per group in the grouped launch order of the SIMT and mma kernels (L2 reuse of B panels).
CUDA_GROUP_M = 8


def kernel_tilings(arch_major: int = 9) -> dict[str, tuple[int, int, int, str]]:
    """The on-chip tile of each of the project's GEMM kernels, for the analytical tiling model.

    variant name -> (tm, tn, tk, dataflow). Every kernel here is output-stationary: a C tile stays in
    registers while A row-panels and B column-panels stream through. The naive kernel is modelled as a
    1x1 tile (each thread re-reads a whole row of A and column of B; in reality L1/L2 catch much of
    that, which is exactly what the no-cache model leaves out). The autotuned Triton variants are listed
    with the first (preferred) candidate of the 16-bit list for `arch_major`: the tile the autotuner
    finally picks per shape may differ. The torch baseline (cuBLAS) picks its own tiles and is absent.
    """
    lists = _HOPPER if arch_major == 9 else _AMPERE
    tma = _HOPPER_TMA.half[0]
    first = lists.half[0]
    out = {
        "triton": (first.block_m, first.block_n, first.block_k, "output_stationary"),
        "cuda_naive": (1, 1, 1, "output_stationary"),
        "cuda_smem": (SMEM_TILE, SMEM_TILE, SMEM_TILE, "output_stationary"),
        "cuda_simt": (*SIMT_TILE, "output_stationary"),
        "cuda_mma": (*MMA_TILE, "output_stationary"),
    }
    if arch_major == 9:
        out["triton_persistent_tma"] = (tma.block_m, tma.block_n, tma.block_k, "output_stationary")
    return out
