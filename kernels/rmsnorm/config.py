"""Tuning knobs for RMSNorm, per architecture (compute capability major); the fields are LayerNorm's
(kernels/layernorm/config.py), the backward ones unused (no RMSNorm backward here). Starting points,
not tuned on a GPU yet."""

from __future__ import annotations

from gpubench.kernels.arch import for_major, pick
from gpubench.kernels.layernorm.config import CUDA_BLOCK_MENU, NormConfig

# ptxas spills in the fp32 single-pass kernel at BLOCK 32768 (tests/test_norms.py): on chip up to 16384.
_DEFAULT = NormConfig(
    single_pass_max_cols=16384,
    chunk=8192,
    warps_by_block=((0, 4), (2048, 8), (8192, 16)),
    bwd_single_pass_max_cols=0,
    bwd_chunk=0,
    bwd_warps_by_block=((0, 4),),
    bwd_programs_per_sm=2,
    bwd_cpu_programs=8,
    reduce_rows=32,
    reduce_cols=128,
    cuda_block_menu=CUDA_BLOCK_MENU,
    cuda_stream_threads=1024,
)
_BY_MAJOR: dict[int, NormConfig] = {9: _DEFAULT}
# The Triton interpreter: cols 4097 and 70000 take the chunked path, with several chunks.
CPU = NormConfig(
    single_pass_max_cols=4096,
    chunk=1024,
    warps_by_block=((0, 4),),
    bwd_single_pass_max_cols=0,
    bwd_chunk=0,
    bwd_warps_by_block=((0, 4),),
    bwd_programs_per_sm=2,
    bwd_cpu_programs=8,
    reduce_rows=32,
    reduce_cols=128,
    cuda_block_menu=CUDA_BLOCK_MENU,
    cuda_stream_threads=1024,
)


def config_for(device) -> NormConfig:
    return pick(device, _BY_MAJOR, _DEFAULT, CPU)


def for_arch(major: int) -> NormConfig:
    """The config of a GPU of compute capability `major` (no GPU needed)."""
    return for_major(major, _BY_MAJOR, _DEFAULT)
