"""Tuning knobs for window sum, per architecture (compute capability major), in one place."""

from dataclasses import dataclass

from gpubench.kernels._arch import pick


@dataclass(frozen=True)
class WindowSumConfig:
    cuda_threads: int  # threads per block, both CUDA kernels
    cuda_items: int  # consecutive outputs per thread in the shared-memory kernel (odd: no bank conflicts)
    smem_chunk_floats: int  # shared staging buffer, in floats (48 KiB needs no opt-in)
    triton_naive_block: int
    triton_lanes: int  # blocked Triton: lanes per program
    triton_items: int  # blocked Triton: consecutive outputs per lane (a power of two)
    triton_warps: int


_DEFAULT = WindowSumConfig(256, 5, 12288, 1024, 128, 16, 4)
_BY_MAJOR: dict[int, WindowSumConfig] = {}

# ITEMS is compiled into the .cu file; the launcher passes it as a define.
assert _DEFAULT.cuda_items % 2 == 1


def config_for(device) -> WindowSumConfig:
    return pick(device, _BY_MAJOR, _DEFAULT)
