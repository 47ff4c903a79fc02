"""selftest: a workload for testing the harness itself, registered only when GPUBENCH_SELFTEST=1.

Variants: `torch` (x * 2, correct), `wrong` (x * 2 + 1e-3: must fail the correctness check) and
`illegal_address` (a CUDA kernel that writes through a bad pointer: it poisons the CUDA context,
and the run must go on without losing the other records).
"""

from __future__ import annotations

import numpy as np

from gpubench.kernels.inputs import generator, randn
from gpubench.kernels.workload import Tolerance, Variant, Workload


def _double(x):
    return x * 2


def _wrong(x):
    return x * 2 + 1e-3


def _illegal_address(x):
    from gpubench.kernels import cuda_loader as _cuda
    from gpubench.kernels.checks import require_cuda

    require_cuda("x", x)
    kernel = _cuda.get_function(_cuda.source_path(__file__, "fault.cu"), "write_through_bad_pointer")
    bad = 0x10  # never a valid device address
    _cuda.launch(kernel, (64,), (256,), (np.uintp(bad), np.int64(64 * 256)))
    import torch

    torch.cuda.synchronize(x.device)
    return x * 2


WORKLOAD = Workload(
    name="selftest",
    axes=("n",),
    shapes={"test": [{"n": 1000}], "bench": [{"n": 1 << 20}], "quick": [{"n": 1 << 20}]},
    dtypes=("fp32",),
    tolerances={"fp32": Tolerance(atol=1e-6, rtol=1e-6)},
    make_inputs=lambda shape, dtype, device, seed=0: (
        randn((shape["n"],), dtype, device, generator(device, seed)),
    ),
    reference=lambda x: x.double() * 2,
    flops=lambda shape: shape["n"],
    bytes=lambda shape, dtype: 8 * shape["n"],  # read x, write out (fp32)
    variants={
        "torch": Variant("torch", "torch", _double, description="x * 2"),
        "wrong": Variant("wrong", "torch", _wrong, description="deliberately wrong"),
        "illegal_address": Variant(
            "illegal_address", "cupy", _illegal_address, description="faults on purpose (illegal address)"
        ),
        "torch_after": Variant("torch_after", "torch", _double, description="x * 2, runs after the fault"),
    },
    description="harness self-test: a correct, a wrong and a faulting variant",
)
