"""CUDA C window sums launched through CuPy (sources in window_sum.cu)."""

from __future__ import annotations

import numpy as np
import torch

from gpubench.kernels import _cuda
from gpubench.kernels._checks import require_cuda
from gpubench.kernels.window_sum._validate import validate
from gpubench.kernels.window_sum.config import config_for

SOURCE = _cuda.source_path(__file__, "window_sum.cu")
_SUFFIX = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


def window_sum_naive(x: torch.Tensor, radius: int) -> torch.Tensor:
    require_cuda("x", x)
    r = validate(x, radius)
    out = torch.empty_like(x)
    n = x.numel()
    if n == 0:
        return out
    threads = config_for(x.device).cuda_threads
    kernel = _cuda.get_function(SOURCE, f"window_sum_naive_{_SUFFIX[x.dtype]}")
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
    tile = cfg.cuda_threads * cfg.cuda_items
    # The buffer also stages the tile's results for coalesced stores: a whole tile makes that one pass.
    chunk = max(min(tile + 2 * r, cfg.smem_chunk_floats), tile)
    kernel = _cuda.get_function(
        SOURCE,
        f"window_sum_shared_{_SUFFIX[x.dtype]}",
        options=(f"-DGPUBENCH_WINDOW_ITEMS={cfg.cuda_items}",),
    )
    _cuda.launch(
        kernel,
        ((n + tile - 1) // tile,),
        (cfg.cuda_threads,),
        (x, out, np.int64(n), np.int64(r), np.int32(chunk)),
        shared_mem=chunk * 4,
    )
    return out
