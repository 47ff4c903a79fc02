"""layernorm: y = (x - mean) / sqrt(var + eps) * weight + bias over the last dimension of a contiguous
[rows, cols] tensor (axes `rows`, `cols`; biased variance, as torch).

Inputs (x, weight, bias, eps): weight and bias of shape [cols] and x's dtype, eps a Python float
(default 1e-5). Statistics in fp32 whatever the storage dtype; the output has x's dtype. The backward
is its own workload, `layernorm_bwd` (kernels/layernorm/bwd.py); the autograd wrapper is
kernels/layernorm/autograd.py. Every record carries the fusion analysis under extra.fusion.
"""

from __future__ import annotations

from gpubench.kernels import compiled
from gpubench.kernels.fusion import fused_bytes, fusion_bytes
from gpubench.kernels.inputs import generator, randn
from gpubench.kernels.workload import Tolerance, Variant, Workload, torch_dtype
from gpubench.roles import BASELINE, UNFUSED

AXES = ("rows", "cols")
DTYPES = ("fp32", "fp16", "bf16")
EPS = 1e-5
# Outputs are O(1) whatever the row length, so atol is absolute. fp32: fp32 statistics. fp16/bf16: the
# fused kernels round once; the unfused torch path rounds every intermediate (mean, x - mean, its square,
# var, rstd, xhat, xhat * w, + b) to the storage dtype, and y = xhat * w + b may cancel: its error is
# a few ulps of |xhat * w| (up to ~4), not of |y|.
TOLERANCES = {
    "fp32": Tolerance(atol=1e-5, rtol=1e-5),
    "fp16": Tolerance(atol=1e-2, rtol=5e-3),
    "bf16": Tolerance(atol=8e-2, rtol=3e-2),
}
_TEST = [
    {"rows": 0, "cols": 5},
    {"rows": 1, "cols": 1},
    {"rows": 3, "cols": 7},
    {"rows": 70, "cols": 100},
    {"rows": 33, "cols": 1000},
    {"rows": 17, "cols": 1024},
    {"rows": 9, "cols": 1025},
    {"rows": 5, "cols": 4097},  # chunked in the interpreter (single-pass limit 4096 there)
    {"rows": 1, "cols": 70000},  # chunked everywhere (GPU single-pass limit 32768)
]
SHAPES = {
    "test": _TEST,
    # 4096 x 32768 takes the chunked path on the GPU (single-pass limit 16384 there).
    "bench": [{"rows": 4096, "cols": c} for c in (1024, 4096, 8192, 16384, 32768)]
    + [{"rows": 32768, "cols": 4096}],
    "quick": [{"rows": 4096, "cols": 4096}, {"rows": 4096, "cols": 16384}, {"rows": 32768, "cols": 4096}],
}


def make_params(cols, dtype, device, gen, *, bias=True):
    """weight ~ 1 + 0.5 N(0, 1) and bias ~ 0.5 N(0, 1), drawn in fp32 and cast (never zeros)."""
    w = randn((cols,), "fp32", device, gen, 0.5).add_(1.0).to(torch_dtype(dtype))
    if not bias:
        return w
    return w, randn((cols,), dtype, device, gen, 0.5)


def make_inputs(shape, dtype, device, seed=0):
    g = generator(device, seed)
    x = randn((shape["rows"], shape["cols"]), dtype, device, g)
    w, b = make_params(shape["cols"], dtype, device, g)
    return x, w, b, EPS


def reference(x, weight, bias, eps):
    import torch
    import torch.nn.functional as F

    f64 = torch.float64
    y = F.layer_norm(x.to(f64), (x.shape[-1],), weight.to(f64), bias.to(f64), eps)
    return y.to(x.dtype)


def flops(shape):
    n = shape["rows"] * shape["cols"]
    r = shape["rows"]
    return (
        n  # sum for the mean
        + n  # x - mean
        + 2 * n  # square and sum for the variance
        + n  # times rstd
        + n  # times weight
        + n  # plus bias
        + 3 * r  # per row: mean and var divisions, rsqrt(var + eps)
    )


def nbytes(shape, dtype):
    # Read x, weight and bias once, write y once (kernels/fusion.py counts it line by line, beside the
    # unfused form; the chunked form's second read of x is L2 traffic, not compulsory).
    return fused_bytes("layernorm", shape, dtype)


def check_output(out, expected, tol, shape):
    from gpubench.kernels.rowcompare import assert_rows_close

    assert_rows_close(out, expected, tol.atol, tol.rtol, what="layernorm")


def details(shape, dtype):
    return {"fusion": fusion_bytes("layernorm", shape, dtype)}


def _torch_layernorm(x, weight, bias, eps):
    import torch.nn.functional as F

    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


def _layer_norm(x, weight, bias, eps):  # compiled by torch_compile
    import torch.nn.functional as F

    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


def unfused(x, weight, bias, eps):
    """The "before fusion" baseline: each step a separate torch kernel (the op list that kernels/fusion.py
    counts). Full-size intermediates are materialised in x's dtype; the per-row statistics (mean, var,
    rstd) are fp32, as in every layernorm here: a mean rounded to fp16 ruins x - mean on rows of nearly
    equal values (seen on an H100: 0.08 off in fp16 at cols = 3)."""
    import torch

    from gpubench.kernels.layernorm.validate import validate_layernorm

    eps = validate_layernorm(x, weight, bias, eps)
    mean = x.mean(dim=-1, keepdim=True, dtype=torch.float32)
    xc = torch.sub(x, mean, out=torch.empty_like(x))  # computed in fp32, stored in x's dtype
    var = xc.square().mean(dim=-1, keepdim=True, dtype=torch.float32)
    rstd = (var + eps).rsqrt()
    xhat = torch.mul(xc, rstd, out=torch.empty_like(x))
    return xhat * weight + bias


def _variants():
    from gpubench.kernels.layernorm import cupy_kernels, triton_kernels

    return {
        "triton": Variant(
            "triton",
            "triton",
            triton_kernels.layernorm,
            description="Triton fused, row per program: on-chip two-pass statistics; chunked Welford "
            "for long rows",
        ),
        "cuda": Variant(
            "cuda",
            "cupy",
            cupy_kernels.layernorm,
            description="CUDA C, block per row: register-cached rows, streaming Welford for long rows",
        ),
        "torch": Variant(
            "torch", "torch", _torch_layernorm, description="torch.nn.functional.layer_norm", role=BASELINE
        ),
        "unfused": Variant(
            "unfused",
            "torch",
            unfused,
            description="torch ops as separate kernels: mean, sub, square, mean, add, rsqrt, mul, mul, add",
            role=UNFUSED,
        ),
        compiled.NAME: compiled.variant(compiled.Compiled(_layer_norm), "torch.nn.functional.layer_norm"),
    }


WORKLOAD = Workload(
    name="layernorm",
    axes=AXES,
    shapes=SHAPES,
    dtypes=DTYPES,
    tolerances=TOLERANCES,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes=nbytes,
    variants=_variants(),
    description="LayerNorm forward: fused Triton and CUDA kernels against torch and the unfused op sequence.",
    check_output=check_output,
    details=details,
)
