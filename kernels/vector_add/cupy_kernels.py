"""CUDA C vector add launched through CuPy (sources in vector_add.cu)."""

from __future__ import annotations

import numpy as np
import torch

from gpubench.dtypes import kernel_suffix
from gpubench.kernels import cuda_loader as _cuda
from gpubench.kernels.checks import require_contiguous, require_cuda, require_dtype, require_same
from gpubench.kernels.vector_add.config import config_for
from gpubench.kernels.workload import torch_dtypes

SOURCE = _cuda.source_path(__file__, "vector_add.cu")
DTYPES = torch_dtypes("fp32", "fp16", "bf16")  # instantiated in vector_add.cu


def _validate(x, y):
    require_cuda("x", x)
    require_cuda("y", y)
    require_same(("x", "y"), (x, y))
    require_dtype("x", x, DTYPES)
    require_contiguous("x", x)
    require_contiguous("y", y)


def vector_add_simple(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One element per thread."""
    _validate(x, y)
    out = torch.empty_like(x)
    n = x.numel()
    if n == 0:
        return out
    threads = config_for(x.device).cuda_threads
    kernel = _cuda.get_function(SOURCE, f"vector_add_simple_{kernel_suffix(x.dtype)}")
    _cuda.launch(kernel, ((n + threads - 1) // threads,), (threads,), (x, y, out, np.int64(n)))
    return out


def vector_add_vec(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """16-byte packets in a grid-stride loop sized to the GPU; misaligned views use the simple kernel."""
    _validate(x, y)
    out = torch.empty_like(x)
    n = x.numel()
    if n == 0:
        return out
    if any(t.data_ptr() % 16 for t in (x, y, out)):
        kernel_name, per = "vector_add_simple", 1
    else:
        kernel_name, per = "vector_add_vec", 16 // x.element_size()
    cfg = config_for(x.device)
    threads = cfg.cuda_threads
    needed = max(1, (n // per + threads - 1) // threads)
    if per == 1:
        blocks = needed
    else:
        sms = torch.cuda.get_device_properties(x.device).multi_processor_count
        blocks = min(needed, sms * cfg.cuda_blocks_per_sm)
    kernel = _cuda.get_function(SOURCE, f"{kernel_name}_{kernel_suffix(x.dtype)}")
    _cuda.launch(kernel, (blocks,), (threads,), (x, y, out, np.int64(n)))
    return out
