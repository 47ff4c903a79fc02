"""scale: y = alpha * x as a gpubench workload (found through the entry point in pyproject.toml)."""

import torch

from gpubench.kernels import Tolerance, Variant, Workload

from .triton_scale import scale, scale_shifted

DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


def make_inputs(shape, dtype, device, seed=0):
    """The positional arguments of every variant and of the reference: random values, never zeros."""
    gen = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(shape["n"], generator=gen, device=device, dtype=torch.float32).to(DTYPES[dtype])
    return x, 1.5


def reference(x, alpha):
    return x.double() * alpha


WORKLOAD = Workload(
    name="scale",
    axes=("n",),
    shapes={
        "test": [{"n": 1}, {"n": 1000}, {"n": 4097}],  # ragged: the last block is partly masked
        "quick": [{"n": 1 << 24}],
        "bench": [{"n": 1 << 20}, {"n": 1 << 24}, {"n": 1 << 27}],
    },
    dtypes=("fp32", "fp16"),
    tolerances={"fp32": Tolerance(atol=1e-6, rtol=1e-6), "fp16": Tolerance(atol=1e-3, rtol=1e-3)},
    make_inputs=make_inputs,
    reference=reference,
    flops=lambda shape: shape["n"],  # one multiply per element
    bytes=lambda shape, dtype: 2 * shape["n"] * DTYPES[dtype].itemsize,  # read x, write y
    variants={
        "triton": Variant("triton", "triton", scale, description="Triton, one block of 1024 per program"),
        "triton_shifted": Variant(
            "triton_shifted", "triton", scale_shifted, description="deliberately wrong: reads x[i + 1]"
        ),
        "torch": Variant("torch", "torch", lambda x, alpha: x * alpha, description="torch baseline",
                         role="baseline"),
    },
    description="y = alpha * x (a plug-in workload)",
)
