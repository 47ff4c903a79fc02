"""CUDA C RMSNorm forward launched through CuPy (sources in rmsnorm.cu)."""

from __future__ import annotations

import numpy as np
import torch

from gpubench.dtypes import kernel_suffix
from gpubench.kernels import cuda_loader as _cuda
from gpubench.kernels.checks import require_cuda
from gpubench.kernels.layernorm.cupy_kernels import plan
from gpubench.kernels.layernorm.validate import validate_rmsnorm
from gpubench.kernels.rmsnorm.config import config_for

SOURCE = _cuda.source_path(__file__, "rmsnorm.cu")


def rmsnorm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """One block per row: register-cached rows up to the menu's capacity, two streaming passes beyond."""
    require_cuda("x", x)
    eps = validate_rmsnorm(x, weight, eps)
    y = torch.empty_like(x)
    n_rows, n_cols = x.shape
    if y.numel() == 0:
        return y
    name, threads, cached = plan("rmsnorm", n_cols, config_for(x.device))
    kernel = _cuda.get_function(SOURCE, f"{name}_{kernel_suffix(x.dtype)}")
    cols_arg = np.int32(n_cols) if cached else np.int64(n_cols)
    _cuda.launch(kernel, (n_rows,), (threads,), (x, weight, y, cols_arg, np.float32(eps)))
    return y
