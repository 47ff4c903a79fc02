"""window_sum: out[i] = sum of x[j] for |j - i| <= radius, 0 <= j < n (axes `n`, `radius`).

A stencil whose inputs are shared between neighbouring outputs: the workload that shows what staging
through shared memory (or register blocking) buys over re-reading global memory.
"""

from __future__ import annotations

from gpubench import dtypes
from gpubench.kernels import compiled
from gpubench.kernels.inputs import generator, randn
from gpubench.kernels.workload import Tolerance, Variant, Workload
from gpubench.roles import BASELINE

AXES = ("n", "radius")
DTYPES = ("fp32", "fp16", "bf16")
# fp32 accumulation, then one rounding to the storage dtype. The figures hold for windows of up to 64
# terms. Beyond that `atol_scale` widens atol by k / 64: recursive summation's error bound grows linearly
# in the number of terms k (seen on an H100: torch's own fp32 window sum over k = 10001 random terms is
# 1.1e-3 off the float64 reference, over ten times the table's atol). A dropped or doubled term is
# still caught: it costs about |x| ~ 1.
TOLERANCES = {
    "fp32": Tolerance(atol=1e-4, rtol=1e-5),
    "fp16": Tolerance(atol=1e-2, rtol=2e-3),
    "bf16": Tolerance(atol=5e-2, rtol=1.6e-2),
}
SHAPES = {
    "test": [
        {"n": 0, "radius": 3},
        {"n": 1, "radius": 0},
        {"n": 1, "radius": 5},
        {"n": 17, "radius": 40},  # radius > n
        {"n": 1000, "radius": 0},
        {"n": 1000, "radius": 1},
        {"n": 1283, "radius": 7},  # not a multiple of any tile
        {"n": 4099, "radius": 64},
        {"n": 3001, "radius": 700},
    ],
    "bench": [{"n": 1 << 26, "radius": r} for r in (1, 4, 8, 16, 64)],
    "quick": [{"n": 1 << 26, "radius": r} for r in (1, 8, 16, 64)],
    # 8 MiB in and out in fp32: a warm run stays in L2 and shows what the kernels themselves sustain.
    "l2": [{"n": 1 << 20, "radius": 16}],
}


def atol_scale(shape) -> float:
    k = min(2 * shape["radius"] + 1, max(shape["n"], 1))
    return k / 64


def make_inputs(shape, dtype, device, seed=0):
    return randn((shape["n"],), dtype, device, generator(device, seed)), int(shape["radius"])


def reference(x, radius):
    """A direct windowed sum in float64: each output adds the 2r+1 values of its own zero-padded window.

    Prefix-sum differences would let one NaN or inf reach every later output and leave the outputs after
    a 1e20 value off by its rounding error; summing each window on its own, a value reaches exactly the
    outputs whose window holds it and an output's error depends on its own window only. The windows are
    overlapping views of the padded input (no copy); rows go in chunks so that a reduction that did copy
    its view would still hold at most about 1 GiB. Cost n * (2r + 1) adds, r clipped to n - 1.
    """
    import torch

    n = x.numel()
    if n == 0:
        return x.clone()
    r = min(int(radius), n - 1)
    w = 2 * r + 1
    padded = torch.zeros(n + 2 * r, dtype=torch.float64, device=x.device)
    padded[r : r + n] = x
    windows = padded.unfold(0, w, 1)  # [n, w]: row i is x[i - r .. i + r]
    out = torch.empty(n, dtype=torch.float64, device=x.device)
    step = max(1, (1 << 27) // w)
    for i in range(0, n, step):
        torch.sum(windows[i : i + step], dim=1, out=out[i : i + step])
    return out.to(x.dtype)


def flops(shape):
    n, r = shape["n"], shape["radius"]
    # Adds a direct sum performs: each output adds its in-range neighbours (window size - 1).
    # Counted exactly from the clipped window sizes, in closed form.
    r = min(r, max(n - 1, 0))
    full = n * (2 * r + 1)
    clipped = r * (r + 1)  # inputs missing from the windows at each edge, summed over both edges
    return max(full - clipped - n, 0)


def nbytes(shape, dtype):
    size = int(dtypes.itemsize(dtype))
    n = shape["n"]
    return (
        n * size  # read x once (the halo re-reads are cache traffic, not compulsory DRAM traffic)
        + n * size  # write out
    )


def _torch_pool(x, radius):
    """A torch user's window sum: average pooling with the zero padding counted, times the window."""
    import torch.nn.functional as F

    from gpubench.kernels.window_sum.validate import validate

    r = validate(x, radius)
    if x.numel() == 0:
        return x.clone()
    k = 2 * r + 1
    pooled = F.avg_pool1d(x.float()[None, None], k, stride=1, padding=r, count_include_pad=True)
    return (pooled[0, 0] * k).to(x.dtype)


def _direct_sum(x, radius):  # compiled by torch_compile
    """The window sum as a torch user writes it for the compiler: each output the fp32 sum of its own
    zero-padded window (unfold's overlapping views; inductor reduces each window directly, so NaN and inf
    stay in their windows)."""
    import torch.nn.functional as F

    return F.pad(x.float(), (radius, radius)).unfold(0, 2 * radius + 1, 1).sum(-1).to(x.dtype)


def _variants():
    from gpubench.kernels.window_sum import cupy_kernels, triton_kernels

    return {
        "triton_naive": Variant(
            "triton_naive",
            "triton",
            triton_kernels.window_sum_naive,
            description="Triton, 2r+1 masked loads per output",
        ),
        "triton_blocked": Variant(
            "triton_blocked",
            "triton",
            triton_kernels.window_sum_blocked,
            description="Triton, suffix + middle + prefix sums over runs of 2^k <= 2r outputs "
            "(no running difference)",
        ),
        "cuda_naive": Variant(
            "cuda_naive",
            "cupy",
            cupy_kernels.window_sum_naive,
            description="CUDA C, 2r+1 global reads per output",
        ),
        "cuda_shared": Variant(
            "cuda_shared",
            "cupy",
            cupy_kernels.window_sum_shared,
            description="CUDA C, tile + halo staged in shared memory, suffix + middle + prefix sums "
            "over each thread's runs of outputs (no running difference)",
        ),
        "torch": Variant(
            "torch", "torch", _torch_pool, description="torch avg_pool1d x window", role=BASELINE
        ),
        compiled.NAME: compiled.variant(
            compiled.Compiled(_direct_sum), "each output's window summed (unfold, sum)",
            lambda d, s, t: "an empty input: nothing to compile" if s["n"] == 0 else None,
        ),
    }


WORKLOAD = Workload(
    name="window_sum",
    axes=AXES,
    shapes=SHAPES,
    dtypes=DTYPES,
    tolerances=TOLERANCES,
    atol_scale=atol_scale,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes=nbytes,
    variants=_variants(),
    description="1-D zero-padded window sum: data reuse through shared memory.",
)
