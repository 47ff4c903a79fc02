"""Tuning knobs of the conv2d kernels, per architecture, in one place. Imports neither torch nor triton.

Triton (implicit GEMM, kernels/conv2d/triton_kernels.py): the GEMM is M = batch x P x Q output pixels by
N = out_channels (per group) by K = in_channels (per group) x R x S. Tiles are as GEMM's, the N side down to
64 (ResNet's 64-channel stage, ESPCN's 9- and 32-channel layers) and BLOCK_K 64 (Hopper) or 32 (Ampere)
for 16-bit data: one K tile is one (r, s) tap of BLOCK_K channels. fp32 is IEEE (FMA units): small tiles.
The first candidate of a list is what runs until a GPU has timed the others (kernels/qmatmul/choose.py).
On CPU (the Triton interpreter) one small tile.

CUDA C (conv2d.cu): the tile is compiled in; the constants below mirror it (a CPU test reads them back).
"""

from __future__ import annotations

from dataclasses import dataclass

from gpubench.kernels.arch import for_major
from gpubench.kernels.tiles import Tile
from gpubench.kernels.tiles import tile as _t


@dataclass(frozen=True)
class Lists:
    half: tuple[Tile, ...]  # fp16 / bf16: tensor cores
    fp32: tuple[Tile, ...]  # IEEE fp32 dots (FMA units)


_HOPPER = Lists(
    half=(_t(128, 128, 64, 8, 3), _t(128, 64, 64, 8, 3), _t(64, 64, 64, 4, 3)),
    fp32=(_t(64, 64, 32, 4, 3), _t(128, 64, 16, 8, 3)),
)
_AMPERE = Lists(
    half=(_t(128, 128, 32, 8, 3), _t(128, 64, 32, 8, 3), _t(64, 64, 32, 4, 3)),
    # BLOCK_K 16 at 4 warps: with 32, Triton 3.9's sm_80 build of the flat (stem) loop with the bias and
    # ReLU epilogue needs 255 registers and spills 64 B (the compile gate); Hopper's build does not.
    fp32=(_t(64, 64, 16, 4, 3), _t(128, 64, 16, 8, 3)),
)
INTERPRETER = _t(32, 32, 32, 1, 1, group=3)  # a 3-row group leaves a partial last group on the test shapes


def lists_for(major: int) -> Lists:
    """The candidates on a GPU of compute capability `major` (no GPU needed)."""
    return for_major(major, {9: _HOPPER}, _AMPERE)


def tiles(device, dtype_class: str) -> tuple[Tile, ...]:
    """Candidates for `device` and dtype class "half" or "fp32" (the interpreter's one tile on CPU)."""
    if getattr(device, "type", "cpu") != "cuda":
        return (INTERPRETER,)
    import torch

    return getattr(lists_for(torch.cuda.get_device_capability(device)[0]), dtype_class)


# ---- CUDA C: conv2d.cu's compiled-in tile ----
# 64 output pixels x 64 output channels a block, 16 reduction entries (r, s, c) a step, 256 threads with a
# 4 x 4 micro-tile each; fp32 accumulation in registers, both operands staged in shared memory.
CUDA_TILE = (64, 64, 16)
CUDA_THREADS = 256
