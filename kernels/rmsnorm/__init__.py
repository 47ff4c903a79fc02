"""rmsnorm: y = x / sqrt(mean(x^2) + eps) * weight over the last dimension of a contiguous [rows, cols]
tensor (axes `rows`, `cols`).

Inputs (x, weight, eps): weight of shape [cols] and x's dtype, eps a Python float (default 1e-6).
Statistics in fp32 whatever the storage dtype; the output has x's dtype. Every record carries the
fusion analysis under extra.fusion.
"""

from __future__ import annotations

from gpubench.kernels import compiled
from gpubench.kernels.fusion import fused_bytes, fusion_bytes
from gpubench.kernels.inputs import generator, randn
from gpubench.kernels.layernorm import SHAPES as _LAYERNORM_SHAPES
from gpubench.kernels.layernorm import make_params
from gpubench.kernels.workload import Tolerance, Variant, Workload
from gpubench.roles import BASELINE, UNFUSED

AXES = ("rows", "cols")
DTYPES = ("fp32", "fp16", "bf16")
EPS = 1e-6
# Outputs are O(1): absolute atol. fp16/bf16: the fused kernels round once; the unfused torch path rounds
# x^2, its mean, rrms, x * rrms and the product with the weight to the storage dtype.
TOLERANCES = {
    "fp32": Tolerance(atol=1e-5, rtol=1e-5),
    "fp16": Tolerance(atol=1e-2, rtol=5e-3),
    "bf16": Tolerance(atol=8e-2, rtol=3e-2),
}
# The same shapes as layernorm: ragged test sizes (4097 and 70000 take the chunked path in the
# interpreter, 70000 on the GPU too) and the same bench sweep, so the two norms compare side by side.
SHAPES = {k: list(v) for k, v in _LAYERNORM_SHAPES.items()}


def make_inputs(shape, dtype, device, seed=0):
    g = generator(device, seed)
    x = randn((shape["rows"], shape["cols"]), dtype, device, g)
    return x, make_params(shape["cols"], dtype, device, g, bias=False), EPS


def reference(x, weight, eps):
    import torch

    x64 = x.to(torch.float64)
    rrms = (x64.square().mean(dim=-1, keepdim=True) + eps).rsqrt()
    return (x64 * rrms * weight.to(torch.float64)).to(x.dtype)


def flops(shape):
    n = shape["rows"] * shape["cols"]
    r = shape["rows"]
    return (
        2 * n  # square and sum
        + n  # times rrms
        + n  # times weight
        + 2 * r  # per row: mean division, rsqrt(ms + eps)
    )


def nbytes(shape, dtype):
    # Read x and weight once, write y once (kernels/fusion.py counts it line by line, beside the unfused
    # form; the chunked form's second read of x is L2 traffic, not compulsory).
    return fused_bytes("rmsnorm", shape, dtype)


def check_output(out, expected, tol, shape):
    from gpubench.kernels.rowcompare import assert_rows_close

    assert_rows_close(out, expected, tol.atol, tol.rtol, what="rmsnorm")


def details(shape, dtype):
    return {"fusion": fusion_bytes("rmsnorm", shape, dtype)}


def _torch_rmsnorm(x, weight, eps):
    """torch.nn.functional.rms_norm (torch >= 2.4), else the manual form in x's dtype."""
    import torch.nn.functional as F

    rms_norm = getattr(F, "rms_norm", None)
    if rms_norm is not None:
        return rms_norm(x, (x.shape[-1],), weight, eps)
    return unfused(x, weight, eps)


def _rms_norm(x, weight, eps):  # compiled by torch_compile
    import torch.nn.functional as F

    return F.rms_norm(x, (x.shape[-1],), weight, eps)


def unfused(x, weight, eps):
    """The "before fusion" baseline: each step a separate torch kernel (the op list that kernels/fusion.py
    counts). Full-size intermediates are materialised in x's dtype; the per-row statistics are fp32, as
    in every rmsnorm here."""
    import torch

    from gpubench.kernels.layernorm.validate import validate_rmsnorm

    eps = validate_rmsnorm(x, weight, eps)
    ms = x.square().mean(dim=-1, keepdim=True, dtype=torch.float32)
    rrms = (ms + eps).rsqrt()
    xn = torch.mul(x, rrms, out=torch.empty_like(x))
    return xn * weight


def _variants():
    from gpubench.kernels.rmsnorm import cupy_kernels, triton_kernels

    return {
        "triton": Variant(
            "triton",
            "triton",
            triton_kernels.rmsnorm,
            description="Triton fused, row per program: on-chip sum of squares; two chunked passes "
            "for long rows",
        ),
        "cuda": Variant(
            "cuda",
            "cupy",
            cupy_kernels.rmsnorm,
            description="CUDA C, block per row: register-cached rows, two streaming passes for long rows",
        ),
        "torch": Variant(
            "torch",
            "torch",
            _torch_rmsnorm,
            description="torch.nn.functional.rms_norm (manual form before 2.4)",
            role=BASELINE,
        ),
        "unfused": Variant(
            "unfused",
            "torch",
            unfused,
            description="torch ops as separate kernels: square, mean, add, rsqrt, mul, mul",
            role=UNFUSED,
        ),
        compiled.NAME: compiled.variant(compiled.Compiled(_rms_norm), "torch.nn.functional.rms_norm"),
    }


WORKLOAD = Workload(
    name="rmsnorm",
    axes=AXES,
    shapes=SHAPES,
    dtypes=DTYPES,
    tolerances=TOLERANCES,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes=nbytes,
    variants=_variants(),
    description="RMSNorm forward: fused Triton and CUDA kernels against torch and the unfused op sequence.",
    check_output=check_output,
    details=details,
)
