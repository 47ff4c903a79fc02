"""Tuning knobs for softmax, per architecture (compute capability major), in one place.

The figures are starting points chosen so that the compiled kernels do not spill (checked on the CPU
by compiling the Triton kernels ahead of time for sm_80/sm_90 and reading ptxas's report, and by the
NVRTC compile of softmax.cu); they have not been tuned on a GPU yet.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gpubench.kernels.arch import for_major, pick


@dataclass(frozen=True)
class SoftmaxConfig:
    # Triton, single pass: a row is held on chip when next_power_of_2(cols) <= single_pass_max_cols;
    # longer rows take the two-pass online form.
    single_pass_max_cols: int
    # Single pass: elements per program; short rows are packed `tile_elems // BLOCK` rows per program.
    tile_elems: int
    # (min elements per program, num_warps), ascending: the last entry whose minimum is reached applies.
    warps_by_tile: tuple[tuple[int, int], ...]
    # Two-pass online form: columns per chunk and warps per program (one row per program).
    online_chunk: int
    online_warps: int
    # CUDA: rows with at most this many columns take the warp-per-row kernel (<= 32 * 32).
    cuda_warp_max_cols: int
    # CUDA: warps (rows) per block in the warp-per-row kernel.
    cuda_warps_per_block: int
    # CUDA: (threads, cached items per thread) of the block-per-row kernels, ascending in capacity;
    # each must be one of the instantiations stamped in softmax.cu. Rows longer than the last capacity
    # take the streaming kernel with `cuda_stream_threads` threads.
    cuda_block_menu: tuple[tuple[int, int], ...]
    cuda_stream_threads: int

    def warps_for(self, elems: int) -> int:
        warps = self.warps_by_tile[0][1]
        for lo, w in self.warps_by_tile:
            if elems >= lo:
                warps = w
        return warps


_GPU_WARPS = ((0, 4), (4096, 8), (8192, 16), (32768, 32))
_CUDA_MENU = ((256, 8), (512, 8), (512, 16))

_DEFAULT = SoftmaxConfig(
    single_pass_max_cols=32768,
    tile_elems=4096,
    warps_by_tile=_GPU_WARPS,
    online_chunk=8192,
    online_warps=16,
    cuda_warp_max_cols=1024,
    cuda_warps_per_block=4,
    cuda_block_menu=_CUDA_MENU,
    cuda_stream_threads=1024,
)
# Hopper: more bytes in flight per SM for HBM3 (bigger tiles for short rows).
_BY_MAJOR: dict[int, SoftmaxConfig] = {9: replace(_DEFAULT, tile_elems=8192)}
# Where Triton assembles sm_90 with CUDA 13's ptxas (Triton 3.7 on), rows of 16384 and 32768 held on
# chip spill (56 and 80 B of stack in Triton 3.9's own cubins, 512 and 1024 threads): they take the
# online form there; 8192 (76 registers, no stack) stays single-pass.
_CUDA13_PTXAS = {9: replace(_BY_MAJOR[9], single_pass_max_cols=8192)}
# The Triton interpreter (CPU tensors): a small single-pass limit so that the test shapes exercise the
# two-pass online form (cols 4097 and 70000) with several chunks and a ragged last chunk.
CPU = replace(_DEFAULT, single_pass_max_cols=4096, warps_by_tile=((0, 4),), online_chunk=1024, online_warps=4)


def config_for(device) -> SoftmaxConfig:
    return pick(device, _BY_MAJOR, _DEFAULT, CPU, _CUDA13_PTXAS)


def for_arch(major: int) -> SoftmaxConfig:
    """The config of a GPU of compute capability `major` with this machine's Triton (no GPU needed)."""
    return for_major(major, _BY_MAJOR, _DEFAULT, _CUDA13_PTXAS)
