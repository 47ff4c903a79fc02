"""softmax: out = softmax(x, dim=-1) over a contiguous [rows, cols] tensor (axes `rows`, `cols`).

fp32 math whatever the storage dtype; the output has the input's dtype. The workload that shows what
fusion buys: the `unfused` variant runs the same maths as five separate torch kernels (see
kernels/fusion.py for the byte accounting of both forms; every record carries it under extra.fusion).

NaN behaviour (as torch): a row that is entirely -inf gives NaN in every column (0/0), a row holding
+inf gives NaN in every column (inf - inf); -inf entries of an otherwise finite row give exactly 0.
"""

from __future__ import annotations

from gpubench.kernels import compiled
from gpubench.kernels.fusion import fused_bytes, fusion_bytes
from gpubench.kernels.inputs import generator, randn
from gpubench.kernels.workload import Tolerance, Variant, Workload
from gpubench.roles import BASELINE, UNFUSED

AXES = ("rows", "cols")
DTYPES = ("fp32", "fp16", "bf16")
# atol is relative to each row's largest value (kernels/rowcompare.py): a row of 10^6 columns holds values
# near 1e-6. rtol also bounds |row sum - 1|. fp32: exp via ex2.approx and fp32 sums. fp16/bf16: one rounding
# of the output for the fused kernels; the unfused torch path also rounds x - max, exp and the sum to the
# storage dtype (for bf16, |x - max| in [4, 8] is rounded to 1/32: a 3% error on values below
# e^-4 x the row max), which the row-relative atol covers.
TOLERANCES = {
    "fp32": Tolerance(atol=1e-6, rtol=1e-5),
    "fp16": Tolerance(atol=1e-4, rtol=2e-3),
    "bf16": Tolerance(atol=5e-3, rtol=1.6e-2),
}
_LONG_ROWS = [{"rows": 1, "cols": 1 << 16}, {"rows": 1, "cols": 1 << 20}, {"rows": 4096, "cols": 1 << 16}]
SHAPES = {
    # Ragged and edge sizes; 4097 and 70000 take the two-pass online path in the interpreter (whose
    # single-pass limit is 4096 columns), 70000 also on the GPU (limit 32768 there).
    "test": [
        {"rows": 0, "cols": 5},
        {"rows": 1, "cols": 1},
        {"rows": 3, "cols": 7},
        {"rows": 70, "cols": 100},
        {"rows": 33, "cols": 1000},
        {"rows": 17, "cols": 1024},
        {"rows": 9, "cols": 1025},
        {"rows": 5, "cols": 4097},
        {"rows": 1, "cols": 70000},
    ],
    "bench": [{"rows": 4096, "cols": c} for c in (1024, 2048, 4096, 8192, 16384, 32768)]
    + [{"rows": 32768, "cols": 4096}, {"rows": 32768, "cols": 32768}]
    + _LONG_ROWS,
    "quick": [{"rows": 4096, "cols": 4096}, {"rows": 4096, "cols": 16384}, {"rows": 32768, "cols": 4096}],
}


def make_inputs(shape, dtype, device, seed=0):
    return (randn((shape["rows"], shape["cols"]), dtype, device, generator(device, seed)),)


def reference(x):
    import torch

    return torch.softmax(x.to(torch.float64), dim=-1).to(x.dtype)


def flops(shape):
    n = shape["rows"] * shape["cols"]
    return (
        n  # row max: one comparison per element
        + n  # x - max
        + n  # exp (one operation per element)
        + n  # row sum
        + n  # times 1 / sum
    )


def nbytes(shape, dtype):
    # Read x once, write out once (kernels/fusion.py counts it line by line, beside the unfused form; the
    # two-pass form's second read of x is L2 traffic, not compulsory).
    return fused_bytes("softmax", shape, dtype)


def check_output(out, expected, tol, shape):
    from gpubench.kernels.rowcompare import assert_rows_close, assert_rows_sum_to_one

    assert_rows_close(out, expected, tol.atol, tol.rtol, what="softmax", row_relative=True)
    assert_rows_sum_to_one(out, expected, tol.rtol, what="softmax")


def details(shape, dtype):
    return {"fusion": fusion_bytes("softmax", shape, dtype)}


def _torch_softmax(x):
    import torch

    return torch.softmax(x, dim=-1)


def _softmax(x):  # compiled by torch_compile
    import torch

    return torch.softmax(x, dim=-1)


def unfused(x):
    """The "before fusion" baseline: each step a separate torch kernel whose output is materialised in
    the input's dtype (the op list that kernels/fusion.py counts)."""
    from gpubench.kernels.softmax.validate import validate

    validate(x)
    m = x.amax(dim=-1, keepdim=True)  # values only: x.max(-1) would also write int64 indices
    y = x - m
    e = y.exp()
    s = e.sum(dim=-1, keepdim=True)
    return e / s


def _variants():
    from gpubench.kernels.softmax import cupy_kernels, triton_kernels

    return {
        "triton": Variant(
            "triton",
            "triton",
            triton_kernels.softmax,
            description="Triton fused: one pass with rows on chip; two-pass online softmax for long rows",
        ),
        "cuda": Variant(
            "cuda",
            "cupy",
            cupy_kernels.softmax,
            description="CUDA C: warp per row (short rows), block per row with online max/sum (long rows)",
        ),
        "torch": Variant(
            "torch", "torch", _torch_softmax, description="torch.softmax(x, dim=-1)", role=BASELINE
        ),
        "unfused": Variant(
            "unfused",
            "torch",
            unfused,
            description="torch ops as separate kernels: amax, sub, exp, sum, div "
            "(intermediates materialised)",
            role=UNFUSED,
        ),
        compiled.NAME: compiled.variant(compiled.Compiled(_softmax), "torch.softmax(x, dim=-1)"),
    }


WORKLOAD = Workload(
    name="softmax",
    axes=AXES,
    shapes=SHAPES,
    dtypes=DTYPES,
    tolerances=TOLERANCES,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes=nbytes,
    variants=_variants(),
    description="Row softmax: fused one-pass / online two-pass kernels against the unfused op sequence.",
    check_output=check_output,
    details=details,
)
