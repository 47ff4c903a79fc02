"""CUDA C LayerNorm forward launched through CuPy (sources in layernorm.cu)."""

from __future__ import annotations

import numpy as np
import torch

from gpubench.dtypes import kernel_suffix
from gpubench.kernels import cuda_loader as _cuda
from gpubench.kernels.checks import require_cuda
from gpubench.kernels.layernorm.config import NormConfig, config_for
from gpubench.kernels.layernorm.validate import validate_layernorm

SOURCE = _cuda.source_path(__file__, "layernorm.cu")


def plan(prefix: str, n_cols: int, cfg: NormConfig) -> tuple[str, int, bool]:
    """(kernel name without the dtype suffix, threads per block, cached in registers?) for n_cols."""
    for threads, items in cfg.cuda_block_menu:
        if threads * items >= n_cols:
            return f"{prefix}_block_t{threads}_i{items}", threads, True
    return f"{prefix}_stream_t{cfg.cuda_stream_threads}", cfg.cuda_stream_threads, False


def layernorm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """One block per row: register-cached rows up to the menu's capacity, streaming Welford beyond."""
    require_cuda("x", x)
    eps = validate_layernorm(x, weight, bias, eps)
    y = torch.empty_like(x)
    n_rows, n_cols = x.shape
    if y.numel() == 0:
        return y
    name, threads, cached = plan("layernorm", n_cols, config_for(x.device))
    kernel = _cuda.get_function(SOURCE, f"{name}_{kernel_suffix(x.dtype)}")
    cols_arg = np.int32(n_cols) if cached else np.int64(n_cols)
    _cuda.launch(kernel, (n_rows,), (threads,), (x, weight, bias, y, cols_arg, np.float32(eps)))
    return y
