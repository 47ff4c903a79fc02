"""Tuning knobs for vector add, per architecture (compute capability major), in one place."""

import os
from dataclasses import dataclass

from gpubench.kernels.arch import for_major, pick


@dataclass(frozen=True)
class VectorAddConfig:
    triton_block: int  # elements per Triton program
    triton_warps: int
    cuda_threads: int  # threads per block for the CUDA kernels
    cuda_blocks_per_sm: int  # grid size of the grid-stride kernel, in blocks per SM


_DEFAULT = VectorAddConfig(triton_block=1024, triton_warps=4, cuda_threads=256, cuda_blocks_per_sm=8)
# Hopper keeps more bytes in flight per SM to saturate HBM3: bigger Triton blocks, a fuller grid.
_BY_MAJOR = {9: VectorAddConfig(triton_block=4096, triton_warps=8, cuda_threads=256, cuda_blocks_per_sm=16)}


# Test-only knob for calibrating the regression gate: a deliberately worse configuration (small Triton
# blocks with one warp, a sparse CUDA grid) whose slowdown the gate must flag. Never set it otherwise.
SLOW_CONFIG_ENV = "GPUBENCH_TEST_SLOW_CONFIG"
_SLOW = VectorAddConfig(triton_block=128, triton_warps=1, cuda_threads=64, cuda_blocks_per_sm=1)


def config_for(device) -> VectorAddConfig:
    if os.environ.get(SLOW_CONFIG_ENV) == "1":
        return _SLOW
    return pick(device, _BY_MAJOR, _DEFAULT)


def for_arch(major: int) -> VectorAddConfig:
    """The config of a GPU of compute capability `major` (no GPU needed; the slow test config aside)."""
    return for_major(major, _BY_MAJOR, _DEFAULT)


def slow_config() -> VectorAddConfig:
    """The deliberately worse config that SLOW_CONFIG_ENV selects."""
    return _SLOW
