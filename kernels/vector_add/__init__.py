"""vector_add: out = x + y over n elements (axis `n`)."""

from __future__ import annotations

from gpubench import dtypes
from gpubench.kernels import compiled
from gpubench.kernels.inputs import generator, randn
from gpubench.kernels.workload import Tolerance, Variant, Workload
from gpubench.roles import BASELINE

AXES = ("n",)
DTYPES = ("fp32", "fp16", "bf16")
# One rounding of the fp32 sum to the storage dtype: half an ulp, with headroom.
TOLERANCES = {
    "fp32": Tolerance(atol=1e-6, rtol=1e-6),
    "fp16": Tolerance(atol=1e-3, rtol=1e-3),
    "bf16": Tolerance(atol=1e-2, rtol=8e-3),
}
SHAPES = {
    # Ragged and edge sizes: empty, one element, around block and packet boundaries, odd primes.
    "test": [{"n": n} for n in (0, 1, 7, 127, 1000, 1024, 1025, 4099, 65537)],
    "bench": [{"n": 1 << k} for k in (20, 24, 26, 28)],
    "quick": [{"n": 1 << 24}, {"n": 1 << 26}],
}


def make_inputs(shape, dtype, device, seed=0):
    g = generator(device, seed)
    return randn((shape["n"],), dtype, device, g), randn((shape["n"],), dtype, device, g)


def reference(x, y):
    import torch

    return (x.to(torch.float64) + y.to(torch.float64)).to(x.dtype)


def flops(shape):
    return shape["n"]  # one add per element


def nbytes(shape, dtype):
    size = dtypes.itemsize(dtype)
    n = shape["n"]
    return (
        n * size  # read x
        + n * size  # read y
        + n * size  # write out
    )


def _torch_add(x, y):
    return x + y


def _add(x, y):  # compiled by torch_compile (its own function: kernels/compiled.py)
    return x + y


def _variants():
    from gpubench.kernels.vector_add import cupy_kernels, triton_kernels

    return {
        "triton": Variant("triton", "triton", triton_kernels.vector_add, description="Triton, fp32 compute"),
        "cuda_simple": Variant(
            "cuda_simple",
            "cupy",
            cupy_kernels.vector_add_simple,
            description="CUDA C, one element per thread",
        ),
        "cuda_vec": Variant(
            "cuda_vec",
            "cupy",
            cupy_kernels.vector_add_vec,
            description="CUDA C, 16-byte packets, grid-stride",
        ),
        "torch": Variant("torch", "torch", _torch_add, description="torch x + y", role=BASELINE),
        compiled.NAME: compiled.variant(compiled.Compiled(_add), "x + y"),
    }


WORKLOAD = Workload(
    name="vector_add",
    axes=AXES,
    shapes=SHAPES,
    dtypes=DTYPES,
    tolerances=TOLERANCES,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes=nbytes,
    variants=_variants(),
    description="Elementwise x + y: the memory-bandwidth yardstick.",
)
