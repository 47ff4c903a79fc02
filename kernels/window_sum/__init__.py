"""window_sum: out[i] = sum of x[j] for |j - i| <= radius, 0 <= j < n (axes `n`, `radius`).

A stencil whose inputs are shared between neighbouring outputs: the workload that shows what staging
through shared memory (or register blocking) buys over re-reading global memory.
"""

from __future__ import annotations

from gpubench.kernels._inputs import generator, randn
from gpubench.kernels._workload import Tolerance, Variant, Workload

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
    "quick": [{"n": 1 << 26, "radius": r} for r in (1, 8, 64)],
}


def atol_scale(shape) -> float:
    k = min(2 * shape["radius"] + 1, max(shape["n"], 1))
    return k / 64


def make_inputs(shape, dtype, device, seed=0):
    return randn((shape["n"],), dtype, device, generator(device, seed)), int(shape["radius"])


def reference(x, radius):
    """float64 prefix sums: out[i] = P[min(i + r + 1, n)] - P[max(i - r, 0)]."""
    import torch

    n = x.numel()
    p = torch.zeros(n + 1, dtype=torch.float64, device=x.device)
    torch.cumsum(x.to(torch.float64), 0, out=p[1:])
    i = torch.arange(n, device=x.device)
    hi = torch.clamp(i + radius + 1, max=n)
    lo = torch.clamp(i - radius, min=0)
    return (p[hi] - p[lo]).to(x.dtype)


def flops(shape):
    n, r = shape["n"], shape["radius"]
    # Adds a direct sum performs: each output adds its in-range neighbours (window size - 1).
    # Counted exactly from the clipped window sizes, in closed form.
    r = min(r, max(n - 1, 0))
    full = n * (2 * r + 1)
    clipped = r * (r + 1)  # inputs missing from the windows at each edge, summed over both edges
    return max(full - clipped - n, 0)


def nbytes(shape, dtype):
    from gpubench.kernels._workload import torch_dtype

    size = torch_dtype(dtype).itemsize
    n = shape["n"]
    return (
        n * size  # read x once (the halo re-reads are cache traffic, not compulsory DRAM traffic)
        + n * size  # write out
    )


def _torch_pool(x, radius):
    """A torch user's window sum: average pooling with the zero padding counted, times the window."""
    import torch.nn.functional as F

    from gpubench.kernels.window_sum._validate import validate

    r = validate(x, radius)
    if x.numel() == 0:
        return x.clone()
    k = 2 * r + 1
    pooled = F.avg_pool1d(x.float()[None, None], k, stride=1, padding=r, count_include_pad=True)
    return (pooled[0, 0] * k).to(x.dtype)


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
            description="Triton, register-blocked sliding window",
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
            description="CUDA C, tile + halo staged in shared memory, sliding window",
        ),
        "torch": Variant("torch", "torch", _torch_pool, description="torch avg_pool1d x window"),
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
