"""Fusion analysis: compulsory DRAM bytes of a fused row-wise kernel against its unfused decomposition.

Pure Python (no torch at import or call time), so the reports can use it anywhere.

A fused kernel reads each input once and writes its output once. The unfused form is the same maths
as separate torch ops, each a kernel of its own that reads its inputs from DRAM and writes its output
back (the `unfused` variants of the softmax, layernorm and rmsnorm workloads run exactly these ops, in
this order). Intermediate tensors in torch's unfused path have the input's dtype (a bf16 x gives a bf16
max, bf16 exp(x - max), bf16 sums), so every term below uses the input's item size. A reduction's
output ([rows, 1]) and a broadcast operand are counted at their own size: the per-row statistics are
`rows` elements, the weight and bias `cols` elements, each read once per op. LayerNorm's and RMSNorm's
per-row statistics are fp32 (4 bytes) whatever the input dtype, in the unfused form as in the fused.

When both forms are memory-bound, fused / unfused time is bounded by unfused_bytes / fused_bytes: that
`ratio` is the analytical speedup bound of fusion that the report shows beside the measured one.

Example, softmax of a 4096 x 4096 fp32 tensor (N = 16,777,216 elements, R = 4096 rows, 4 bytes each):
    fused:   read x, write out                      = 2N * 4                =  134,217,728 bytes
    unfused: amax 4N + 4R, sub 8N + 4R, exp 8N, sum 4N + 4R, div 8N + 4R    =  536,936,448 bytes
    ratio:   536,936,448 / 134,217,728 = 4.00048828125

Conv + bias + ReLU (conv2d_bias_relu; the shape is a conv2d shape): the fused kernel reads x, w and the bias
and writes the output once; the unfused form writes the convolution's output, reads it back with the bias
to write the sum, and reads that for the ReLU: two more writes and two more reads of the output.
"""

from __future__ import annotations

from gpubench import dtypes

DTYPES = ("fp32", "fp16", "bf16")  # the storage dtypes of the three workloads
WORKLOADS = ("softmax", "layernorm", "rmsnorm", "conv2d_bias_relu")


def _itemsize(dtype: str) -> int:
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r} for the fusion analysis; expected one of {list(DTYPES)}")
    return int(dtypes.itemsize(dtype))


def _dims(shape) -> tuple[int, int]:
    try:
        rows, cols = int(shape["rows"]), int(shape["cols"])
    except (KeyError, TypeError):
        raise ValueError(f"shape must map 'rows' and 'cols' to ints, got {shape!r}") from None
    if rows < 0 or cols < 0:
        raise ValueError(f"shape sizes must be >= 0, got {dict(shape)}")
    return rows, cols


def _softmax(rows: int, cols: int, size: int):
    n = rows * cols * size  # one [rows, cols] tensor
    r = rows * size  # one [rows, 1] tensor (a per-row max or sum)
    fused = [
        ("softmax: read x, write out", n + n),
    ]
    unfused = [
        (
            "amax: read x, write m",
            n + r,
        ),  # x.amax(-1, keepdim=True): values only (max(dim) adds int64 indices)
        ("sub: read x, m, write y", n + r + n),  # y = x - m
        ("exp: read y, write e", n + n),  # e = y.exp()
        ("sum: read e, write s", n + r),  # s = e.sum(-1, keepdim=True)
        ("div: read e, s, write out", n + r + n),  # out = e / s
    ]
    return fused, unfused


def _layernorm(rows: int, cols: int, size: int):
    n = rows * cols * size
    r = rows * 4  # fp32 statistics
    c = cols * size  # weight or bias
    fused = [
        ("layernorm: read x, weight, bias, write out", n + c + c + n),
    ]
    unfused = [
        ("mean: read x, write mean", n + r),  # mean = x.mean(-1, keepdim=True)
        ("sub: read x, mean, write xc", n + r + n),  # xc = x - mean
        ("square: read xc, write sq", n + n),  # sq = xc.square()
        ("mean: read sq, write var", n + r),  # var = sq.mean(-1, keepdim=True)
        ("add: read var, write var + eps", r + r),  # var + eps
        ("rsqrt: read var + eps, write rstd", r + r),  # rstd = (var + eps).rsqrt()
        ("mul: read xc, rstd, write xhat", n + r + n),  # xhat = xc * rstd
        ("mul: read xhat, weight, write yw", n + c + n),  # yw = xhat * weight
        ("add: read yw, bias, write out", n + c + n),  # out = yw + bias
    ]
    return fused, unfused


def _rmsnorm(rows: int, cols: int, size: int):
    n = rows * cols * size
    r = rows * 4  # fp32 statistics
    c = cols * size
    fused = [
        ("rmsnorm: read x, weight, write out", n + c + n),
    ]
    unfused = [
        ("square: read x, write sq", n + n),  # sq = x.square()
        ("mean: read sq, write ms", n + r),  # ms = sq.mean(-1, keepdim=True)
        ("add: read ms, write ms + eps", r + r),  # ms + eps
        ("rsqrt: read ms + eps, write rrms", r + r),  # rrms = (ms + eps).rsqrt()
        ("mul: read x, rrms, write xn", n + r + n),  # xn = x * rrms
        ("mul: read xn, weight, write out", n + c + n),  # out = xn * weight
    ]
    return fused, unfused


def _conv_bias_relu(shape, size: int):
    from gpubench.opcount import conv_bytes

    try:
        t = conv_bytes(shape, size)
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"shape must be a conv2d shape, got {shape!r}") from None
    x, wt, y = t["input"], t["weights"], t["output"]  # y: one [N, K, P, Q] tensor
    b = int(shape["out_channels"]) * size
    fused = [("conv + bias + relu: read x, w, bias, write out", x + wt + b + y)]
    unfused = [
        ("conv: read x, w, write y", x + wt + y),  # y = F.conv2d(x, w)
        ("add: read y, bias, write z", y + b + y),  # z = y + bias
        ("relu: read z, write out", y + y),  # out = relu(z)
    ]
    return fused, unfused


_ROWWISE = {"softmax": _softmax, "layernorm": _layernorm, "rmsnorm": _rmsnorm}


def fusion_bytes(workload_name: str, shape, dtype: str) -> dict:
    """Compulsory DRAM bytes of the fused kernel and of the unfused op sequence, for one shape and dtype.

    Returns {"fused_bytes", "unfused_bytes", "ratio" (unfused / fused; None for an empty tensor),
    "ops": [(op, bytes), ...] of the unfused sequence, "fused_ops": [(op, bytes)]}.
    """
    if workload_name not in WORKLOADS:
        raise ValueError(f"no fusion analysis for {workload_name!r}; known: {', '.join(WORKLOADS)}")
    if workload_name in _ROWWISE:
        fused, unfused = _ROWWISE[workload_name](*_dims(shape), _itemsize(dtype))
    else:
        fused, unfused = _conv_bias_relu(shape, _itemsize(dtype))
    fused_bytes = sum(b for _, b in fused)
    unfused_bytes = sum(b for _, b in unfused)
    return {
        "fused_bytes": fused_bytes,
        "unfused_bytes": unfused_bytes,
        "ratio": unfused_bytes / fused_bytes if fused_bytes else None,
        "ops": unfused,
        "fused_ops": fused,
    }


def fused_bytes(workload_name: str, shape, dtype: str) -> int:
    return fusion_bytes(workload_name, shape, dtype)["fused_bytes"]
