"""Tuning knobs for vector add, per architecture (compute capability major), in one place."""

from dataclasses import dataclass


@dataclass(frozen=True)
class VectorAddConfig:
    triton_block: int  # elements per Triton program
    triton_warps: int
    cuda_threads: int  # threads per block for the CUDA kernels
    cuda_blocks_per_sm: int  # grid size of the grid-stride kernel, in blocks per SM


_DEFAULT = VectorAddConfig(triton_block=1024, triton_warps=4, cuda_threads=256, cuda_blocks_per_sm=8)
# Hopper keeps more bytes in flight per SM to saturate HBM3: bigger Triton blocks, a fuller grid.
_BY_MAJOR = {9: VectorAddConfig(triton_block=4096, triton_warps=8, cuda_threads=256, cuda_blocks_per_sm=16)}


def config_for(device) -> VectorAddConfig:
    if getattr(device, "type", "cpu") != "cuda":
        return _DEFAULT
    import torch

    major, _ = torch.cuda.get_device_capability(device)
    return _BY_MAJOR.get(major, _DEFAULT)
