"""layernorm_bwd: the LayerNorm backward from the forward's saved statistics (axes `rows`, `cols`).

Inputs (dy, x, weight, bias, mean, rstd, eps): dy and x [rows, cols], weight and bias [cols] in x's
dtype, mean and rstd [rows, 1] fp32 (what a fused forward saves; computed here in float64 and rounded),
eps a Python float. bias and eps do not enter the gradients: torch's backward op wants the bias tensor
to hand out db, and the reference needs eps to rebuild the forward. Every variant returns (dx, dw, db):
dx in x's dtype, dw and db in the weight's.

The reference is float64 autograd through torch.nn.functional.layer_norm.
"""

from __future__ import annotations

from gpubench import dtypes
from gpubench.kernels import compiled
from gpubench.kernels.inputs import generator, randn
from gpubench.kernels.layernorm import EPS, make_params
from gpubench.kernels.workload import Tolerance, Variant, Workload
from gpubench.roles import BASELINE

AXES = ("rows", "cols")
DTYPES = ("fp32", "fp16", "bf16")
# dx is O(1); dw and db are sums over rows, so their atol is scaled by the reference's RMS (see compare).
TOLERANCES = {
    "fp32": Tolerance(atol=2e-5, rtol=2e-5),
    "fp16": Tolerance(atol=1e-2, rtol=5e-3),
    "bf16": Tolerance(atol=5e-2, rtol=2e-2),
}
SHAPES = {
    # cols=1 is left to the Triton tests (tests/test_norms.py): a zero-variance row has rstd = eps^-1/2 ~ 316,
    # which amplifies the rounding of torch's own backward (x * rstd - mean * rstd) past the fp32 tolerance.
    "test": [
        {"rows": 1, "cols": 2},
        {"rows": 3, "cols": 7},
        {"rows": 70, "cols": 100},  # 8 programs in the interpreter: ragged row groups
        {"rows": 33, "cols": 1000},
        {"rows": 9, "cols": 1025},
        {"rows": 5, "cols": 4097},  # chunked in the interpreter
        {"rows": 2, "cols": 70000},  # chunked everywhere
    ],
    "bench": [{"rows": 4096, "cols": c} for c in (1024, 4096, 8192, 16384, 32768)]
    + [{"rows": 32768, "cols": 4096}],
    "quick": [{"rows": 4096, "cols": 4096}, {"rows": 4096, "cols": 16384}, {"rows": 32768, "cols": 4096}],
}


def make_inputs(shape, dtype, device, seed=0):
    import torch

    g = generator(device, seed)
    rows, cols = shape["rows"], shape["cols"]
    x = randn((rows, cols), dtype, device, g)
    w, b = make_params(cols, dtype, device, g)
    dy = randn((rows, cols), dtype, device, g)
    x64 = x.to(torch.float64)
    mean = x64.mean(dim=-1, keepdim=True)
    rstd = (x64.var(dim=-1, unbiased=False, keepdim=True) + EPS).rsqrt()
    return dy, x, w, b, mean.to(torch.float32), rstd.to(torch.float32), EPS


def reference(dy, x, weight, bias, mean, rstd, eps):
    import torch
    import torch.nn.functional as F

    f64 = torch.float64
    with torch.enable_grad():
        x64 = x.detach().to(f64).requires_grad_()
        w64 = weight.detach().to(f64).requires_grad_()
        b64 = bias.detach().to(f64).requires_grad_()
        y = F.layer_norm(x64, (x.shape[-1],), w64, b64, eps)
        dx, dw, db = torch.autograd.grad(y, (x64, w64, b64), dy.to(f64))
    return dx.to(x.dtype), dw.to(weight.dtype), db.to(weight.dtype)


def flops(shape):
    n = shape["rows"] * shape["cols"]
    return (
        2 * n  # xhat = (x - mean) * rstd
        + n  # g = w * dy
        + 2 * n  # sum of xhat * g
        + n  # sum of g
        + 4 * n  # dx = (g - (xhat * c1 + c2)) * rstd
        + 2 * n  # dw += dy * xhat
        + n  # db += dy
    )


def nbytes(shape, dtype):
    size = dtypes.itemsize(dtype)
    n = shape["rows"] * shape["cols"]
    r = shape["rows"]
    c = shape["cols"]
    return (
        n * size  # read dy
        + n * size  # read x
        + c * size  # read weight
        + r * 4  # read mean (fp32)
        + r * 4  # read rstd (fp32)
        + n * size  # write dx
        + c * size  # write dw
        + c * size  # write db
        # the Triton variant's fp32 partial sums of dw and db (programs x cols, written then read) are
        # extra traffic of that design, not compulsory
    )


def torch_bwd_bytes(shape, dtype):
    """torch's backward is two kernels that each stream dy and x: dx (aten's layer_norm_grad_input), then
    dw and db (GammaBetaBackward). Its form reads dy and x twice: the compulsory count plus that pass."""
    n = shape["rows"] * shape["cols"]
    return nbytes(shape, dtype) + 2 * n * dtypes.itemsize(dtype)  # dy and x read again


def check_output(out, expected, tol, shape):
    import torch

    from gpubench.kernels.rowcompare import assert_rows_close

    if not isinstance(out, tuple | list) or len(out) != 3:
        raise AssertionError(f"layernorm_bwd: expected (dx, dw, db), got {type(out).__name__}")
    for name, a, b in zip(("dx", "dw", "db"), out, expected):
        scale = 1.0
        if name != "dx" and b.numel():
            scale = max(1.0, float(b.to(torch.float64).square().mean().sqrt()))
        assert_rows_close(a, b, tol.atol * scale, tol.rtol, what=f"layernorm_bwd {name}")


def _triton_bwd(dy, x, weight, bias, mean, rstd, eps):
    from gpubench.kernels.layernorm.triton_kernels import layernorm_backward

    return layernorm_backward(dy, x, weight, mean, rstd)


def _torch_bwd(dy, x, weight, bias, mean, rstd, eps):
    """torch's own LayerNorm backward kernel (aten::native_layer_norm_backward) on the saved statistics.

    On CUDA it takes fp32 statistics for every dtype. torch's CPU kernel wants statistics in x's dtype
    for fp16/bf16; there (tests only) it runs in fp32 and rounds the results.
    """
    import torch

    from gpubench.kernels.layernorm.validate import validate_layernorm, validate_rowwise, validate_stat

    validate_layernorm(x, weight, bias, eps)
    validate_rowwise("dy", dy, x)
    validate_stat("mean", mean, x)
    validate_stat("rstd", rstd, x)
    op = torch.ops.aten.native_layer_norm_backward
    cols = [x.shape[-1]]
    mean, rstd = mean.reshape(-1, 1), rstd.reshape(-1, 1)
    if x.device.type == "cpu" and x.dtype != torch.float32:
        f = torch.float32
        dx, dw, db = op(dy.to(f), x.to(f), cols, mean, rstd, weight.to(f), bias.to(f), [True, True, True])
        return dx.to(x.dtype), dw.to(weight.dtype), db.to(weight.dtype)
    dx, dw, db = op(dy, x, cols, mean, rstd, weight, bias, [True, True, True])
    return dx, dw, db


def _native_backward(dy, x, weight, bias, mean, rstd, eps):  # compiled by torch_compile
    """aten::native_layer_norm_backward on the saved statistics: inductor decomposes it into its own
    reductions, in fp32 for 16-bit inputs."""
    import torch

    cols = [x.shape[-1]]
    mean, rstd = mean.reshape(-1, 1), rstd.reshape(-1, 1)
    return torch.ops.aten.native_layer_norm_backward(dy, x, cols, mean, rstd, weight, bias, [True] * 3)


def _variants():
    return {
        "triton_bwd": Variant(
            "triton_bwd",
            "triton",
            _triton_bwd,
            description="Triton: dx per row; dw/db as per-program fp32 partial sums, then a column reduction",
        ),
        "torch_bwd": Variant(
            "torch_bwd",
            "torch",
            _torch_bwd,
            description="torch aten::native_layer_norm_backward (the kernel F.layer_norm's autograd runs)",
            role=BASELINE,
            nbytes=torch_bwd_bytes,
        ),
        compiled.NAME: compiled.variant(compiled.Compiled(_native_backward),
                                        "aten::native_layer_norm_backward"),
    }


WORKLOAD = Workload(
    name="layernorm_bwd",
    axes=AXES,
    shapes=SHAPES,
    dtypes=DTYPES,
    tolerances=TOLERANCES,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes=nbytes,
    variants=_variants(),
    description="LayerNorm backward (dx, dw, db) from saved mean and rstd: Triton against torch's kernel.",
    check_output=check_output,
)
