"""CUDA C softmax launched through CuPy (sources in softmax.cu)."""

from __future__ import annotations

import numpy as np
import torch

from gpubench.dtypes import kernel_suffix
from gpubench.kernels import cuda_loader as _cuda
from gpubench.kernels.checks import require_cuda
from gpubench.kernels.softmax.config import SoftmaxConfig, config_for
from gpubench.kernels.softmax.validate import validate

SOURCE = _cuda.source_path(__file__, "softmax.cu")
WARP_ITEMS = (1, 2, 4, 8, 16, 32)  # the warp-per-row instantiations in softmax.cu


def plan(n_cols: int, cfg: SoftmaxConfig) -> tuple[str, int, int]:
    """(kernel name without the dtype suffix, threads per block, rows per block) for rows of n_cols."""
    if n_cols <= min(cfg.cuda_warp_max_cols, 32 * WARP_ITEMS[-1]):
        items = next(i for i in WARP_ITEMS if 32 * i >= n_cols)
        return f"softmax_warp_i{items}", 32 * cfg.cuda_warps_per_block, cfg.cuda_warps_per_block
    for threads, items in cfg.cuda_block_menu:
        if threads * items >= n_cols:
            return f"softmax_block_t{threads}_i{items}", threads, 1
    return f"softmax_stream_t{cfg.cuda_stream_threads}", cfg.cuda_stream_threads, 1


def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension: warp per row for short rows, block per row for long ones."""
    require_cuda("x", x)
    validate(x)
    out = torch.empty_like(x)
    n_rows, n_cols = x.shape
    if out.numel() == 0:
        return out
    name, threads, rows_per_block = plan(n_cols, config_for(x.device))
    kernel = _cuda.get_function(SOURCE, f"{name}_{kernel_suffix(x.dtype)}")
    blocks = (n_rows + rows_per_block - 1) // rows_per_block
    if name.startswith("softmax_warp"):
        args = (x, out, np.int64(n_rows), np.int32(n_cols))
    elif name.startswith("softmax_block"):
        args = (x, out, np.int32(n_cols))
    else:
        args = (x, out, np.int64(n_cols))
    _cuda.launch(kernel, (blocks,), (threads,), args)
    return out
