"""Tuning knobs for window sum, per architecture (compute capability major), in one place.

Both blocked kernels compute a window as suffix + middle + prefix of the runs next to it (see
triton_kernels.py and window_sum.cu): a run of SEG consecutive outputs needs SEG <= 2r, so the run
length is picked per radius from the lists below, and each one is a separate compilation.
"""

from dataclasses import dataclass

from gpubench.kernels.arch import for_major, pick


@dataclass(frozen=True)
class CudaSegment:
    seg: int  # consecutive outputs per thread run (odd: threads reading at stride seg hit distinct banks)
    groups: int  # runs per thread; the tile is threads * seg * groups outputs


@dataclass(frozen=True)
class WindowSumConfig:
    cuda_naive_threads: int  # threads per block, naive CUDA kernel
    cuda_threads: int  # threads per block, shared-memory CUDA kernel
    # Shared-memory kernel: run lengths by increasing `seg` (the longest with seg <= 2r is used), each
    # with the groups that make a tile of about 4096 outputs: 16 KiB of fp32 staged, 32 KiB with the
    # output buffer, six blocks per SM.
    cuda_segments: tuple[CudaSegment, ...]
    smem_floats: int  # shared memory a block may use, in floats (48 KiB needs no opt-in)
    triton_naive_block: int
    triton_tile: int  # blocked Triton: outputs per program (a power of two)
    triton_max_seg: int  # blocked Triton: longest run per row (a power of two, <= triton_tile)
    triton_warps: int
    # Blocks per SM the shared-memory kernel is compiled for (__launch_bounds__'s second argument): the
    # register budget ptxas works to. Without it nvcc 13.0's ptxas held the seg-7 bf16 kernel to 32
    # registers on sm_80 and spilled 16 B; with 6 blocks (85 registers at most) no run length spills.
    cuda_min_blocks: int = 6

    def cuda_segment(self, radius: int) -> CudaSegment:
        """The longest run with seg <= 2 * radius (the first for radius 0, which is a copy)."""
        fits = [s for s in self.cuda_segments if s.seg <= 2 * radius]
        return fits[-1] if fits else self.cuda_segments[0]

    def triton_seg(self, radius: int) -> int:
        """The longest power of two <= 2 * radius, capped at triton_max_seg (radius >= 1)."""
        return min(1 << ((2 * radius).bit_length() - 1), self.triton_max_seg)


_SEGMENTS = (
    CudaSegment(1, 32),
    CudaSegment(3, 10),
    CudaSegment(7, 4),
    CudaSegment(15, 2),
    CudaSegment(31, 1),
)
_DEFAULT = WindowSumConfig(256, 128, _SEGMENTS, 12288, 1024, 2048, 128, 4)
_BY_MAJOR: dict[int, WindowSumConfig] = {}

assert all(s.seg % 2 == 1 for s in _DEFAULT.cuda_segments)
assert [s.seg for s in _DEFAULT.cuda_segments] == sorted(s.seg for s in _DEFAULT.cuda_segments)


def config_for(device) -> WindowSumConfig:
    return pick(device, _BY_MAJOR, _DEFAULT)


def for_arch(major: int) -> WindowSumConfig:
    """The config of a GPU of compute capability `major` (no GPU needed)."""
    return for_major(major, _BY_MAJOR, _DEFAULT)


def configs() -> list[WindowSumConfig]:
    """Every GPU config of the table (the default and each architecture's)."""
    return list(dict.fromkeys([_DEFAULT, *_BY_MAJOR.values()]))
