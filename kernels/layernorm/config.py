"""Tuning knobs for LayerNorm (forward and backward), per architecture (compute capability major).

The figures are starting points chosen so that the compiled kernels do not spill (checked on the CPU by
compiling the Triton kernels ahead of time for sm_80/sm_90 and reading ptxas's report, and by the NVRTC
compile of the .cu file); they have not been tuned on a GPU yet. rmsnorm derives its configs from these.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gpubench.kernels.arch import for_major, pick


@dataclass(frozen=True)
class NormConfig:
    # Triton: a row is held on chip when next_power_of_2(cols) <= single_pass_max_cols (one row per
    # program); longer rows are walked in chunks of `chunk` columns, twice (statistics, then output).
    single_pass_max_cols: int
    chunk: int
    # (min BLOCK or chunk, num_warps), ascending: the last entry whose minimum is reached applies.
    warps_by_block: tuple[tuple[int, int], ...]
    # Backward (more live vectors per row than the forward, so smaller limits): on chip up to
    # bwd_single_pass_max_cols, else chunks of bwd_chunk columns; warps per BLOCK or chunk as above.
    bwd_single_pass_max_cols: int
    bwd_chunk: int
    bwd_warps_by_block: tuple[tuple[int, int], ...]
    # Backward: programs = min(rows, SMs * bwd_programs_per_sm) on a GPU (bwd_cpu_programs in the
    # interpreter); each owns a contiguous group of rows and writes one row of fp32 dw/db partial sums.
    bwd_programs_per_sm: int
    bwd_cpu_programs: int
    # Backward: the partial-sum reduction's tile (partial rows x columns per program).
    reduce_rows: int
    reduce_cols: int
    # CUDA: (threads, cached items per thread) of the block-per-row kernels, ascending in capacity; each
    # must be stamped in the .cu file. Longer rows take the streaming kernel (`cuda_stream_threads`).
    cuda_block_menu: tuple[tuple[int, int], ...]
    cuda_stream_threads: int

    def warps_for(self, block: int) -> int:
        return _lookup(self.warps_by_block, block)

    def bwd_warps_for(self, block: int) -> int:
        return _lookup(self.bwd_warps_by_block, block)


def _lookup(table, block: int) -> int:
    warps = table[0][1]
    for lo, w in table:
        if block >= lo:
            warps = w
    return warps


CUDA_BLOCK_MENU = ((128, 8), (256, 8), (512, 8), (512, 16))

# ptxas (Triton compiled ahead of time: tests/test_compile_gate.py) spills in the forward at BLOCK
# 32768 and in the backward at BLOCK >= 16384, at BLOCK 2048 with 8 or 16 warps on sm_80, and at chunk
# 8192 with 16 warps on sm_90: the limits and warp tables below avoid all of these.
_DEFAULT = NormConfig(
    single_pass_max_cols=16384,
    chunk=8192,
    warps_by_block=((0, 4), (2048, 8), (8192, 16)),
    bwd_single_pass_max_cols=8192,
    bwd_chunk=4096,
    bwd_warps_by_block=((0, 8), (2048, 4), (4096, 16)),
    bwd_programs_per_sm=2,
    bwd_cpu_programs=8,
    reduce_rows=32,
    reduce_cols=128,
    cuda_block_menu=CUDA_BLOCK_MENU,
    cuda_stream_threads=1024,
)
_BY_MAJOR: dict[int, NormConfig] = {9: _DEFAULT}
# The Triton interpreter: a small single-pass limit so that the test shapes (cols 4097, 70000) take the
# chunked path with several chunks and a ragged last one.
CPU = replace(
    _DEFAULT, single_pass_max_cols=4096, chunk=1024, warps_by_block=((0, 4),),
    bwd_single_pass_max_cols=4096, bwd_chunk=1024, bwd_warps_by_block=((0, 4),),
)  # fmt: skip


# Where Triton assembles sm_90 with CUDA 13's ptxas (Triton 3.7 on), the fp32 backward at BLOCK 8192
# (16 warps) spilled 24 B in Triton 3.9's cubin: rows over 4096 columns take the chunked backward there.
_CUDA13 = {9: replace(_DEFAULT, bwd_single_pass_max_cols=4096)}


def config_for(device) -> NormConfig:
    return pick(device, _BY_MAJOR, _DEFAULT, CPU, _CUDA13)


def for_arch(major: int) -> NormConfig:
    """The config of a GPU of compute capability `major` with this machine's Triton (no GPU needed)."""
    return for_major(major, _BY_MAJOR, _DEFAULT, _CUDA13)
