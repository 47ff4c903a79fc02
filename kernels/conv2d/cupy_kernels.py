"""The CUDA C convolution (conv2d.cu) launched through CuPy: an implicit GEMM with shared-memory tiles.

Each launcher takes the workload's inputs (x, w[, bias], stride, padding, dilation, groups), channels_last
tensors on a CUDA device. `plan` gives the kernel and its launch from the sizes alone (no CUDA needed), so
the host emulation (tests/support/cuda_host) launches exactly the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gpubench.dtypes import kernel_suffix
from gpubench.kernels import cuda_loader as _cuda
from gpubench.kernels.conv2d import config

SOURCE = _cuda.source_path(__file__, "conv2d.cu")
GROUP_M = 8  # row tiles per group of the grouped launch order
_INT32_MAX = 2**31 - 1
# The SIMT kernel runs at a few TFLOP/s: 2^38 FLOPs (ResNet-50's 3x3 at batch 128 is 2^37.9) is about a
# tenth of a second a call; larger layers are checked at the smaller ones.
MAX_FLOPS = 1 << 38


@dataclass(frozen=True)
class Launch:
    source: Path
    kernel: str
    grid: tuple[int, ...]
    block: tuple[int, ...]
    args: tuple[int, ...]  # the int arguments after the pointers, in conv2d.cu's ConvDims order


def too_slow(shape) -> str | None:
    from gpubench.kernels.conv2d import flops

    if flops(shape) > MAX_FLOPS:
        return "too slow to be worth timing at this size (over 2^38 FLOPs); checked at the smaller layers"
    return None


def plan(g, suffix: str, bias_relu: bool) -> Launch:
    """Kernel and geometry for the checked sizes `g` (conv2d.validate.Geometry) in storage `suffix`."""
    bm, bn, _ = config.CUDA_TILE
    tiles = -(-g.M // bm) * -(-g.Kg // bn)
    for name, n in (("N x H x W x C", g.N * g.H * g.W * g.C), ("M", g.M), ("blocks", tiles * g.groups)):
        if n > _INT32_MAX:
            raise ValueError(f"{name}={n} does not fit the kernel's 32-bit sizes")
    args = (g.N, g.H, g.W, g.C, g.K, g.P, g.Q, g.R, g.S, g.Cg, g.Kg, g.stride, g.padding, g.dilation, GROUP_M)
    name = f"conv2d_{'bias_relu_' if bias_relu else ''}{suffix}"
    return Launch(SOURCE, name, (tiles * g.groups,), (config.CUDA_THREADS,), args)


def _run(x, w, bias, stride, padding, dilation, groups):
    import numpy as np

    from gpubench.kernels.checks import require_cuda
    from gpubench.kernels.conv2d.validate import empty_output, validate

    for name, t in (("x", x), ("w", w), *((("bias", bias),) if bias is not None else ())):
        require_cuda(name, t)
    g = validate(x, w, bias, stride, padding, dilation, groups)
    out = empty_output(x, g)
    if g.M == 0 or g.K == 0:
        return out
    p = plan(g, kernel_suffix(x.dtype), bias is not None)
    tensors = (x, w, bias, out) if bias is not None else (x, w, out)
    _cuda.launch(_cuda.get_function(p.source, p.kernel), p.grid, p.block, (*tensors, *map(np.int32, p.args)))
    return out


def conv2d(x, w, stride=1, padding=0, dilation=1, groups=1):
    return _run(x, w, None, stride, padding, dilation, groups)


def conv2d_bias_relu(x, w, bias, stride=1, padding=0, dilation=1, groups=1):
    if bias is None:
        raise ValueError("bias is required: conv2d_bias_relu adds it in its epilogue")
    return _run(x, w, bias, stride, padding, dilation, groups)
