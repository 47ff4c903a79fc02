"""CUDA C window sums launched through CuPy (sources in window_sum.cu)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gpubench.dtypes import kernel_suffix
from gpubench.kernels import cuda_loader as _cuda
from gpubench.kernels.checks import require_cuda
from gpubench.kernels.window_sum.config import CudaSegment, WindowSumConfig, config_for, configs
from gpubench.kernels.window_sum.validate import validate

SOURCE = _cuda.source_path(__file__, "window_sum.cu")


def defines(cfg: WindowSumConfig, seg: CudaSegment) -> tuple[str, ...]:
    """The compile options of the shared-memory kernel for one run length."""
    return (
        f"-DGPUBENCH_WINDOW_SEG={seg.seg}",
        f"-DGPUBENCH_WINDOW_GROUPS={seg.groups}",
        f"-DGPUBENCH_WINDOW_THREADS={cfg.cuda_threads}",
        f"-DGPUBENCH_WINDOW_MIN_BLOCKS={cfg.cuda_min_blocks}",
    )


def option_sets() -> list[tuple[str, ...]]:
    """Every set of defines the shared-memory kernel is compiled with, over every config (each run
    length is its own compilation)."""
    return list(dict.fromkeys(defines(cfg, seg) for cfg in configs() for seg in cfg.cuda_segments))


@dataclass(frozen=True)
class SharedLaunch:
    """How the shared-memory kernel runs for one (n, radius): its compiled run length, its tile, and its
    shared-memory layout: `halo` is where the tile starts (after the left halo, rounded up to 16 bytes),
    `obuf` where the results are staged, `floats` the floats used in all; halo is -1 when the span does
    not fit in the config's shared memory, and the kernel then reads its inputs from global memory."""

    seg: CudaSegment
    threads: int
    tile: int
    grid: int
    halo: int
    obuf: int
    floats: int


def plan_shared(n: int, radius: int, cfg: WindowSumConfig) -> SharedLaunch:
    seg = cfg.cuda_segment(radius)
    tile = cfg.cuda_threads * seg.seg * seg.groups
    halo = -(-radius // 4) * 4
    obuf = -(-(halo + tile + radius) // 4) * 4
    grid = -(-n // tile)
    if obuf + tile <= cfg.smem_floats:
        return SharedLaunch(seg, cfg.cuda_threads, tile, grid, halo, obuf, obuf + tile)
    return SharedLaunch(seg, cfg.cuda_threads, tile, grid, -1, 0, tile)


def window_sum_naive(x: torch.Tensor, radius: int) -> torch.Tensor:
    require_cuda("x", x)
    r = validate(x, radius)
    out = torch.empty_like(x)
    n = x.numel()
    if n == 0:
        return out
    threads = config_for(x.device).cuda_naive_threads
    kernel = _cuda.get_function(SOURCE, f"window_sum_naive_{kernel_suffix(x.dtype)}")
    _cuda.launch(kernel, ((n + threads - 1) // threads,), (threads,), (x, out, np.int64(n), np.int64(r)))
    return out


def window_sum_shared(x: torch.Tensor, radius: int) -> torch.Tensor:
    require_cuda("x", x)
    r = validate(x, radius)
    out = torch.empty_like(x)
    n = x.numel()
    if n == 0:
        return out
    cfg = config_for(x.device)
    p = plan_shared(n, r, cfg)
    name = f"window_sum_shared_{kernel_suffix(x.dtype)}"
    kernel = _cuda.get_function(SOURCE, name, options=defines(cfg, p.seg))
    _cuda.launch(
        kernel,
        (p.grid,),
        (p.threads,),
        (x, out, np.int64(n), np.int64(r), np.int32(p.halo), np.int32(p.obuf)),
        shared_mem=p.floats * 4,
    )
    return out
