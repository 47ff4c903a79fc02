"""Operation and byte counts of the operators that several parts share: attention, quantised weights, a
convolution's geometry, and the bytes a collective moves over each link per byte it delivers (nccl-tests'
bus factor).

The workloads (gpubench.kernels) account their records with these, and the transformer model
(gpubench.roofline) assembles layers from the same counts, so a kernel's record and the model's operator
can never disagree on what was counted. Standard library only.

Conventions: a multiply-add is 2 FLOPs; bytes are compulsory DRAM traffic (each tensor read or written
once), so caches that hold a re-read are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COLLECTIVES",
    "WEIGHT_FORMATS",
    "WeightFormat",
    "attention_bytes",
    "attention_flops",
    "attention_pairs",
    "activation_bytes",
    "algbw",
    "bus_factor",
    "check_collective",
    "conv_bytes",
    "conv_out",
    "conv_touched",
    "weight_bytes",
]


def _clamped_sum(count: int, start: int, hi: int) -> int:
    """sum over i in [0, count) of min(max(start + i, 0), hi), in closed form."""
    if count <= 0 or hi <= 0:
        return 0
    first = max(0, -start)  # first i with start + i >= 0
    full = max(first, min(count, hi - start))  # first i with start + i >= hi
    ramp = 0
    if full > first:  # terms start + i for i in [first, full): an arithmetic series
        ramp = (full - first) * (2 * start + first + full - 1) // 2
    return ramp + (count - full) * hi


def attention_pairs(seq_q: int, seq_k: int, causal: bool) -> int:
    """(query, key) pairs a query sees. Causal is bottom-right aligned: query i sees keys
    j <= i + seq_k - seq_q (FlashAttention 2's convention and KV-cache decoding's); a query that sees
    no key (seq_q > seq_k) counts none."""
    if seq_q < 0 or seq_k < 0:
        raise ValueError(f"sequence lengths must be >= 0, got seq_q={seq_q}, seq_k={seq_k}")
    if not causal:
        return seq_q * seq_k
    return _clamped_sum(seq_q, seq_k - seq_q + 1, seq_k)


def attention_flops(batch: int, heads: int, head_dim: int, seq_q: int, seq_k: int, causal: bool,
                    backward: bool = False) -> int:  # fmt: skip
    """4 * batch * heads * head_dim per unmasked pair (Q K^T and P V, 2 FLOPs a multiply-add each);
    the softmax's exponentials are not counted. The backward is 2.5 x the forward (five GEMM-shaped
    products: recomputed S, dV, dP, dQ, dK), the convention FlashAttention's papers report against."""
    fwd = 4 * batch * heads * head_dim * attention_pairs(seq_q, seq_k, causal)
    return fwd * 5 // 2 if backward else fwd


def attention_bytes(batch: int, heads: int, kv_heads: int, head_dim: int, seq_q: int, seq_k: int,
                    itemsize: int, *, materialised: bool = False, backward: bool = False) -> int:  # fmt: skip
    """Compulsory traffic: Q and O per query head, K and V once per kv head (grouped-query attention
    reads a kv head once for all the query heads that share it). `materialised` (the naive form) adds
    the score matrix written and read back once per head. The backward reads Q, K, V, O, dO and the
    row log-sum-exps (fp32) and writes dQ, dK, dV."""
    q_side = batch * heads * seq_q * head_dim * itemsize
    kv_side = batch * kv_heads * seq_k * head_dim * itemsize
    if backward:
        lse = batch * heads * seq_q * 4
        return 4 * q_side + 4 * kv_side + lse  # Q, O, dO, dQ; K, V, dK, dV
    total = 2 * q_side + 2 * kv_side
    if materialised:
        total += 2 * batch * heads * seq_q * seq_k * itemsize
    return total


@dataclass(frozen=True)
class WeightFormat:
    """How a weight matrix is stored: bits per value and the scales that come with it."""

    name: str
    bits: int
    scale_bytes: int = 0  # bytes per scale value
    grouped: bool = False  # one scale per `group` values along K and per column


# fp16/bf16 store the weights as they are; fp8 and int8 carry one fp32 scale per output column
# (or a single one per tensor: `per_tensor`); int4 packs two values a byte with one fp16/bf16 scale
# per group of K values per column.
WEIGHT_FORMATS = {
    "fp16": WeightFormat("fp16", 16),
    "bf16": WeightFormat("bf16", 16),
    "fp8": WeightFormat("fp8", 8, scale_bytes=4),
    "int8": WeightFormat("int8", 8, scale_bytes=4),
    "int4": WeightFormat("int4", 4, scale_bytes=2, grouped=True),
}


def _format(fmt: str) -> WeightFormat:
    if fmt not in WEIGHT_FORMATS:
        raise ValueError(f"unknown weight format {fmt!r}; expected one of {sorted(WEIGHT_FORMATS)}")
    return WEIGHT_FORMATS[fmt]


def weight_bytes(k: int, n: int, fmt: str, group: int = 128, *, per_tensor: bool = False) -> int:
    """Bytes of a K x N weight matrix stored in format `fmt` (scales included). `per_tensor`: fp8/int8
    with one scale for the whole matrix instead of one per output column; group == K is per-channel."""
    f = _format(fmt)
    values = (k * n * f.bits + 7) // 8
    if not f.scale_bytes:
        return values
    if f.grouped:
        if group <= 0 or k % group:
            raise ValueError(f"K={k} is not a multiple of the group size {group}")
        return values + (k // group) * n * f.scale_bytes
    return values + (1 if per_tensor else n) * f.scale_bytes


def activation_bytes(m: int, k: int, fmt: str, *, per_tensor: bool = False) -> int:
    """Bytes of an M x K activation matrix in format `fmt`: fp16/bf16 as they are; fp8/int8 with one
    scale per row (per token), or one for the whole matrix with `per_tensor`. Grouped formats (int4) are
    weight-only."""
    f = _format(fmt)
    if f.grouped:
        raise ValueError(f"{fmt} is a weight-only format here: activations stay fp16/bf16")
    values = (m * k * f.bits + 7) // 8
    return values + ((1 if per_tensor else m) * f.scale_bytes if f.scale_bytes else 0)


# ------------------------------------------------------------------------------------------ convolution
# One axis of a 2-D convolution: the kernels (gpubench.kernels.conv2d) count their records with these, and the
# systolic-array model matches its lowered layers to those records by the same output size.


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output positions along one axis: floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1,
    torch's rule (0 where no window fits)."""
    span = dilation * (kernel - 1) + 1
    room = size + 2 * padding - span
    return room // stride + 1 if room >= 0 else 0


def conv_touched(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Input positions along one axis that some window reads (the padding is read by none): what a
    convolution must fetch at least once. Less than `size` where the stride skips inputs (a 1x1 filter
    at stride 2 reads a quarter of the pixels) or the last windows stop short of the edge."""
    out = conv_out(size, kernel, stride, padding, dilation)
    read = 0
    for i in range(size):
        taps = (i + padding - r * dilation for r in range(kernel))
        read += any(j >= 0 and j % stride == 0 and j // stride < out for j in taps)
    return read


def conv_bytes(shape, itemsize: float) -> dict[str, int]:
    """The compulsory bytes of a 2-D convolution, each tensor once, by tensor: `input` (the pixels some
    window reads, every channel), `weights`, `output`. `shape` has the conv2d axes (batch, in_channels,
    out_channels, height, width, kernel, stride, padding, dilation, groups)."""
    n, c, k, r = (int(shape[a]) for a in ("batch", "in_channels", "out_channels", "kernel"))
    geo = [int(shape[a]) for a in ("stride", "padding", "dilation")]
    h, w = int(shape["height"]), int(shape["width"])
    pixels = conv_touched(h, r, *geo) * conv_touched(w, r, *geo)
    out = conv_out(h, r, *geo) * conv_out(w, r, *geo)
    return {
        "input": int(n * pixels * c * itemsize),
        "weights": int(k * (c // int(shape["groups"])) * r * r * itemsize),
        "output": int(n * k * out * itemsize),
    }


# ------------------------------------------------------------------------------------------ collectives
# nccl-tests' busbw = algbw x factor (its doc/PERFORMANCE.md): the factor turns the application's view
# (algbw = S / t) into the bytes each link of a ring carries per unit time. One owner: the results format
# derives a record's busbw with it, the collective model its predictions.
_BUS_FACTORS = {
    "all_reduce": lambda n: 2 * (n - 1) / n,
    "all_gather": lambda n: (n - 1) / n,
    "reduce_scatter": lambda n: (n - 1) / n,
    "all_to_all": lambda n: (n - 1) / n,
    "broadcast": lambda n: 1.0,
    "reduce": lambda n: 1.0,
    "send_recv": lambda n: 1.0,
}
COLLECTIVES = tuple(_BUS_FACTORS)


def check_collective(collective: str) -> None:
    if collective not in _BUS_FACTORS:
        raise ValueError(f"unknown collective {collective!r}; known: {', '.join(COLLECTIVES)}")


def bus_factor(collective: str, ranks: int) -> float:
    """busbw / algbw for `collective` over `ranks` ranks (nccl-tests' rule)."""
    check_collective(collective)
    if ranks < 1:
        raise ValueError(f"ranks must be >= 1, got {ranks}")
    return _BUS_FACTORS[collective](ranks)


def algbw(nbytes: int, time_s: float) -> float:
    """nccl-tests' algorithm bandwidth in GB/s (1e9 B/s): the size S over the time."""
    if time_s <= 0:
        raise ValueError(f"time must be > 0, got {time_s}")
    return nbytes / time_s / 1e9
