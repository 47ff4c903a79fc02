"""FLOPs and compulsory bytes of a transformer's row-wise and elementwise operators (pure Python).

Each count is written term by term. The norms and the softmax count what the suite's workloads of the
same name count for a [rows, cols] input (tests/test_transformer_counts.py holds them to it, and to
kernels/fusion.py's unfused op sequences), so a layer's operator and the kernel measured at its shape
never disagree. Attention and weight formats are gpubench.opcount's.

Conventions: 2 FLOPs a multiply-add; an exp, rsqrt or tanh is one FLOP; bytes are each tensor read once
and written once; the per-row statistics of a norm are fp32.
"""

from __future__ import annotations

__all__ = [
    "Count",
    "dropout",
    "elementwise",
    "elementwise_backward",
    "norm",
    "norm_backward",
    "rope",
    "softmax",
    "softmax_backward",
]

STAT_BYTES = 4  # fp32 per-row statistics (mean, variance, rms) in every norm here


class Count(tuple):
    """(flops, bytes, note) of one kernel."""

    def __new__(cls, flops: int, nbytes: int, note: str = ""):
        return super().__new__(cls, (int(flops), int(nbytes), note))

    flops = property(lambda self: self[0])
    bytes = property(lambda self: self[1])
    note = property(lambda self: self[2])


def norm(kind: str, rows: int, cols: int, size: int, fused: bool = True) -> list[Count]:
    """RMSNorm or LayerNorm over `rows` rows of `cols` values of `size` bytes: one fused kernel, or the
    unfused sequence of torch ops (each a kernel that reads its inputs and writes its output)."""
    if kind not in ("rmsnorm", "layernorm"):
        raise ValueError(f"unknown norm {kind!r}; expected rmsnorm or layernorm")
    n, r, c = rows * cols, rows, cols
    N, R, C = n * size, r * STAT_BYTES, c * size  # a full tensor, a per-row statistic, a weight vector
    if kind == "rmsnorm":
        if fused:
            flops = 2 * n + n + n + 2 * r  # square and sum, times rrms, times weight; per row mean and rsqrt
            return [Count(flops, N + C + N, "rmsnorm fused: read x, weight, write y")]
        return [
            Count(n, N + N, "square: read x, write sq"),
            Count(n + r, N + R, "mean: read sq, write ms"),  # sum and one division per row
            Count(r, R + R, "add eps: read ms, write ms + eps"),
            Count(r, R + R, "rsqrt: read ms + eps, write rrms"),
            Count(n, N + R + N, "mul: read x, rrms, write xn"),
            Count(n, N + C + N, "mul: read xn, weight, write y"),
        ]
    if fused:
        # sum for the mean, x - mean, square and sum, times rstd, times weight, plus bias; per row:
        # the mean and variance divisions and rsqrt(var + eps)
        flops = n + n + 2 * n + n + n + n + 3 * r
        return [Count(flops, N + C + C + N, "layernorm fused: read x, weight, bias, write y")]
    return [
        Count(n + r, N + R, "mean: read x, write mean"),
        Count(n, N + R + N, "sub: read x, mean, write xc"),
        Count(n, N + N, "square: read xc, write sq"),
        Count(n + r, N + R, "mean: read sq, write var"),
        Count(r, R + R, "add eps: read var, write var + eps"),
        Count(r, R + R, "rsqrt: read var + eps, write rstd"),
        Count(n, N + R + N, "mul: read xc, rstd, write xhat"),
        Count(n, N + C + N, "mul: read xhat, weight, write yw"),
        Count(n, N + C + N, "add: read yw, bias, write y"),
    ]


def norm_backward(kind: str, rows: int, cols: int, size: int) -> Count:
    """The fused backward of a norm from the forward's saved per-row statistics (fp32): dx, and the weight's
    (and LayerNorm's bias's) gradient. LayerNorm counts what the layernorm_bwd workload counts."""
    n, r, c = rows * cols, rows, cols
    N, R, C = n * size, r * STAT_BYTES, c * size
    if kind == "layernorm":
        # xhat (2), g = w dy (1), sum xhat g (2), sum g (1), dx (4), dw += dy xhat (2), db += dy (1)
        flops = 2 * n + n + 2 * n + n + 4 * n + 2 * n + n
        return Count(flops, N + N + C + R + R + N + C + C, "layernorm backward: read dy, x, w, mean, rstd")
    if kind == "rmsnorm":
        # xhat = x rrms (1), g = w dy (1), sum xhat g (2), dx = (g - xhat c) rrms (3), dw += dy xhat (2)
        flops = n + n + 2 * n + 3 * n + 2 * n
        return Count(flops, N + N + C + R + N + C, "rmsnorm backward: read dy, x, w, rrms; write dx, dw")
    raise ValueError(f"unknown norm {kind!r}; expected rmsnorm or layernorm")


def softmax(rows: int, cols: int, size: int, fused: bool = True) -> list[Count]:
    """Row softmax of a [rows, cols] tensor (the materialised attention scores): max, subtract, exp,
    sum, divide: 5 FLOPs an element."""
    n, N, R = rows * cols, rows * cols * size, rows * size  # the per-row max and sum in the data's dtype
    if fused:
        return [Count(5 * n, N + N, "softmax fused: read S, write P")]
    return [
        Count(n, N + R, "amax: read S, write m"),
        Count(n, N + R + N, "sub: read S, m, write y"),
        Count(n, N + N, "exp: read y, write e"),
        Count(n, N + R, "sum: read e, write s"),
        Count(n, N + R + N, "div: read e, s, write P"),
    ]


# FLOPs per output element of the elementwise operators (bytes: every input read, the output written).
ELEMENTWISE_FLOPS = {
    "add": 1,  # the residual connection
    "silu_mul": 5,  # silu(g) * u = g / (1 + exp(-g)) * u: negate, exp, add, divide, multiply
    "gelu": 9,  # tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): x^3 (2), scale, add,
    #             scale, tanh, add, times x, times 0.5
    "bias_add": 1,
}
ELEMENTWISE_INPUTS = {"add": 2, "silu_mul": 2, "gelu": 1, "bias_add": 1}


def elementwise(kind: str, elements: int, size: int, extra_read: int = 0) -> Count:
    """An elementwise operator over `elements` outputs; `extra_read` bytes of broadcast operands."""
    if kind not in ELEMENTWISE_FLOPS:
        raise ValueError(f"unknown elementwise operator {kind!r}; known: {', '.join(ELEMENTWISE_FLOPS)}")
    reads = ELEMENTWISE_INPUTS[kind] * elements * size + extra_read
    return Count(ELEMENTWISE_FLOPS[kind] * elements, reads + elements * size, kind)


# FLOPs per element of the elementwise operators' backward (reads: the forward's inputs and the output's
# gradient; writes: one gradient per input).
ELEMENTWISE_BACKWARD_FLOPS = {
    "add": 1,  # the residual: the skip's and the branch's gradients summed where they meet
    # sigmoid (negate, exp, add, divide: 4), silu = g s (1), du = dy silu (1),
    # dsilu = s (1 + g (1 - s)) (4), dg = dy u dsilu (2)
    "silu_mul": 12,
    # tanh form: inner (5), tanh (1), 0.5 (1 + t) (2), 1 - t^2 (2), inner' = c (1 + 3a x^2) (3),
    # gelu' = 0.5 (1 + t) + 0.5 x (1 - t^2) inner' (4), dx = dy gelu' (1)
    "gelu": 18,
}
ELEMENTWISE_BACKWARD_READS = {"add": 2, "silu_mul": 3, "gelu": 2}  # tensors read: inputs and dy
ELEMENTWISE_BACKWARD_WRITES = {"add": 1, "silu_mul": 2, "gelu": 1}
DROPOUT_MASK_BYTES = 1  # one byte per element: torch keeps the mask as bool


def elementwise_backward(kind: str, elements: int, size: int) -> Count:
    """The backward of an elementwise operator over `elements` outputs."""
    if kind not in ELEMENTWISE_BACKWARD_FLOPS:
        known = ", ".join(ELEMENTWISE_BACKWARD_FLOPS)
        raise ValueError(f"no backward count for elementwise operator {kind!r}; known: {known}")
    moved = (ELEMENTWISE_BACKWARD_READS[kind] + ELEMENTWISE_BACKWARD_WRITES[kind]) * elements * size
    return Count(ELEMENTWISE_BACKWARD_FLOPS[kind] * elements, moved, f"{kind} backward")


def dropout(elements: int, size: int, backward: bool = False) -> Count:
    """Dropout over `elements` values: forward reads x and writes y and the mask; backward reads dy and
    the mask and writes dx. One multiply an element (by the mask, scaled); the random draw not counted."""
    mask = elements * DROPOUT_MASK_BYTES
    if backward:
        return Count(elements, elements * size + mask + elements * size, "dropout backward: read dy, mask")
    return Count(elements, elements * size + elements * size + mask, "dropout: read x, write y and mask")


def softmax_backward(rows: int, cols: int, size: int) -> Count:
    """dS = P (dP - rowsum(P dP)) in one kernel: read P and dP, write dS; 4 FLOPs an element."""
    n = rows * cols
    return Count(4 * n, 3 * n * size, "softmax backward: read P, dP, write dS")


def rope(tokens: int, positions: int, heads: int, kv_heads: int, head_dim: int, size: int) -> Count:
    """Rotary embedding of Q and K: each pair (x, y) -> (x cos - y sin, x sin + y cos), 4 multiplies and
    2 adds a pair, 3 FLOPs an element. Reads Q, K and the cos/sin tables (head_dim/2 values each per
    position in the activations' dtype, shared by the batch), writes Q and K."""
    elements = tokens * (heads + kv_heads) * head_dim
    tables = 2 * positions * (head_dim // 2) * size
    return Count(3 * elements, elements * size + tables + elements * size, "rotary embedding of Q and K")
