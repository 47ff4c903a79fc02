"""Symmetric quantisation, dequantisation and int4 packing, the formats every qmatmul kernel reads.

Layouts (one owner for each; the kernels, baselines and references all take these):
  activations x   [M, K], row-major.
  weights w       [N, K], row-major (torch.nn.Linear's layout): out = x @ w.T, so "one scale per row of w"
                  is one scale per output column of the GEMM.
  scales          fp32; "tensor": shape [1] (one value), "row": shape [rows] (one per row of the tensor).
  int4 weights    packed [N, K / 2] uint8: byte j of row n holds k = 2j in its low nibble and k = 2j + 1
                  in its high nibble, each as offset binary (q + 8, q in [-8, 7]); group scales
                  [K / group, N] in the activations' dtype (fp16/bf16), one per group of `group`
                  consecutive k and per column n; group == K is per-channel.

Quantisers are symmetric: scale = amax / qmax (amax over the scale's group; an all-zero group gets scale 1,
which represents its zeros exactly), q = round-to-nearest-even(x / scale), clamped to [-qmax, qmax]. int4
uses qmax = 7 (so -8 never occurs and the grid is symmetric), int8 127, fp8 e4m3 448 (its largest finite
value; the cast rounds to the nearest e4m3 value). The scale is rounded to its storage dtype before q is
computed, so dequantise(q, scale) is exactly q * scale as stored. Non-finite inputs are refused (no finite
scale represents them).
"""

from __future__ import annotations

import math

import torch

from gpubench.kernels.checks import require_dtype, require_ndim, require_tensor
from gpubench.kernels.workload import torch_dtypes

INT8_MAX = 127
INT4_MAX = 7
E4M3 = torch.float8_e4m3fn
E4M3_MAX = float(torch.finfo(E4M3).max)  # 448
FLOATS = torch_dtypes("fp32", "fp16", "bf16", "fp64")
INT4_SCALES = torch_dtypes("fp16", "bf16", "fp32")
GRANULARITIES = ("tensor", "row")


def _check_input(name: str, x) -> None:
    require_tensor(name, x)
    require_ndim(name, x, 2)
    require_dtype(name, x, FLOATS)
    if x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} has NaN or inf values: a finite scale cannot represent them")


def _amax(x: torch.Tensor, granularity: str) -> torch.Tensor:
    """amax as fp32: shape [1] per tensor, [rows] per row."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    a = x.detach().abs().to(torch.float32)
    if granularity == "tensor":
        return a.amax().reshape(1) if a.numel() else torch.zeros(1, device=x.device)
    return a.amax(dim=1) if a.shape[1] else torch.zeros(a.shape[0], device=x.device)


def _scales(amax: torch.Tensor, qmax: float, dtype=torch.float32) -> torch.Tensor:
    s = torch.where(amax > 0, amax / qmax, torch.ones_like(amax)).to(dtype)
    return s.clamp_min(torch.finfo(dtype).tiny)  # a tiny amax must not round the scale to zero


def _broadcast(scale: torch.Tensor, granularity: str) -> torch.Tensor:
    return scale.reshape(1, 1) if granularity == "tensor" else scale.reshape(-1, 1)


def quantize_int8(x: torch.Tensor, granularity: str = "row") -> tuple[torch.Tensor, torch.Tensor]:
    """(q int8, fp32 scale) with x ~= q * scale; one scale per tensor or per row."""
    _check_input("x", x)
    scale = _scales(_amax(x, granularity), INT8_MAX)
    q = torch.round(x.to(torch.float32) / _broadcast(scale, granularity)).clamp_(-INT8_MAX, INT8_MAX)
    return q.to(torch.int8), scale


def quantize_fp8(x: torch.Tensor, granularity: str = "tensor") -> tuple[torch.Tensor, torch.Tensor]:
    """(q float8_e4m3fn, fp32 scale) with x ~= q * scale; one scale per tensor or per row."""
    _check_input("x", x)
    scale = _scales(_amax(x, granularity), E4M3_MAX)
    q = (x.to(torch.float32) / _broadcast(scale, granularity)).clamp_(-E4M3_MAX, E4M3_MAX)
    return q.to(E4M3), scale


def dequantize(q: torch.Tensor, scale: torch.Tensor, dtype=torch.float64) -> torch.Tensor:
    """q * scale in `dtype` for int8/fp8 q: a scale of shape [1] applies to the tensor, [rows] per row."""
    check_scales("scale", scale, q.shape[0])
    s = scale.reshape(-1, 1).to(dtype)
    return q.to(dtype) * s


def check_scales(name: str, scale, rows: int, dtype=torch.float32) -> str:
    """'tensor' or 'row' for a valid scale vector of a tensor with `rows` rows; a clear error otherwise."""
    require_tensor(name, scale)
    require_dtype(name, scale, (dtype,))
    if scale.dim() == 1 and scale.shape[0] == 1:
        return "tensor"
    if scale.dim() == 1 and scale.shape[0] == rows:
        return "row"
    raise ValueError(
        f"{name} has shape {tuple(scale.shape)}: expected (1,) for one scale per tensor or ({rows},) "
        "for one per row"
    )


# ---- int4: packing and group scales ----


def pack_int4(q: torch.Tensor) -> torch.Tensor:
    """[N, K] int8 values in [-8, 7] -> [N, K / 2] uint8 (low nibble: even k; offset binary)."""
    require_tensor("q", q)
    require_ndim("q", q, 2)
    require_dtype("q", q, (torch.int8,))
    if q.shape[1] % 2:
        raise ValueError(f"int4 packing needs an even K (two values a byte), got K={q.shape[1]}")
    if q.numel() and (int(q.min()) < -8 or int(q.max()) > 7):
        raise ValueError("int4 values must lie in [-8, 7]")
    u = (q.to(torch.int16) + 8).to(torch.uint8)
    return (u[:, 0::2] | (u[:, 1::2] << 4)).contiguous()


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """[N, K / 2] uint8 -> [N, K] int8 in [-8, 7] (the inverse of pack_int4)."""
    require_tensor("packed", packed)
    require_ndim("packed", packed, 2)
    require_dtype("packed", packed, (torch.uint8,))
    lo = (packed & 0xF).to(torch.int8) - 8
    hi = (packed >> 4).to(torch.int8) - 8
    return torch.stack((lo, hi), dim=2).reshape(packed.shape[0], 2 * packed.shape[1])


def check_group(K: int, group: int) -> None:
    if isinstance(group, bool) or not isinstance(group, int) or group <= 0:
        raise ValueError(f"group must be a positive int, got {group!r}")
    if K % 2:
        raise ValueError(f"int4 packing needs an even K (two values a byte), got K={K}")
    if K % group:
        raise ValueError(f"K={K} is not a multiple of the group size {group}")


def quantize_int4(w: torch.Tensor, group: int, scale_dtype=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(packed [N, K/2] uint8, scales [K/group, N]) of w [N, K]; scales in `scale_dtype` (w's dtype
    when None, fp16/bf16), one per `group` consecutive k of each row; group == K is per-channel."""
    _check_input("w", w)
    N, K = w.shape
    check_group(K, group)
    scale_dtype = scale_dtype or w.dtype
    if scale_dtype not in INT4_SCALES:
        raise TypeError(f"int4 scales are fp16, bf16 or fp32, got {scale_dtype}")
    g = w.to(torch.float32).reshape(N, K // group, group)
    amax = g.abs().amax(dim=2)
    scale = _scales(amax, INT4_MAX, scale_dtype)  # [N, K/group]
    q = torch.round(g / scale.to(torch.float32)[:, :, None]).clamp_(-INT4_MAX, INT4_MAX)
    return pack_int4(q.reshape(N, K).to(torch.int8)), scale.t().contiguous()


def check_int4_scales(name: str, scales, K: int, N: int, group: int, dtype) -> None:
    require_tensor(name, scales)
    check_group(K, group)
    want = (K // group, N)
    if tuple(scales.shape) != want:
        raise ValueError(f"{name} has shape {tuple(scales.shape)}: expected (K/group, N) = {want}")
    require_dtype(name, scales, (dtype,))


def dequantize_int4(packed: torch.Tensor, scales: torch.Tensor, group: int, dtype=torch.float64):
    """[N, K] weights q * scale in `dtype` from packed int4 and [K/group, N] group scales."""
    q = unpack_int4(packed)
    N, K = q.shape
    check_int4_scales("scales", scales, K, N, group, scales.dtype)
    s = scales.to(dtype).t().repeat_interleave(group, dim=1)  # [N, K]
    return q.to(dtype) * s


# ---- the error a format costs ----


def error_stats(approx: torch.Tensor, exact: torch.Tensor) -> dict[str, float]:
    """Relative Frobenius error ||approx - exact|| / ||exact|| and SQNR = 10 log10(||exact||^2 /
    ||approx - exact||^2) dB, in float64 (inf dB for an exact match, nan for an all-zero `exact`)."""
    if approx.shape != exact.shape:
        raise ValueError(f"shapes differ: {tuple(approx.shape)} vs {tuple(exact.shape)}")
    a, e = approx.to(torch.float64), exact.to(torch.float64)
    signal = float(torch.linalg.vector_norm(e))
    noise = float(torch.linalg.vector_norm(a - e))
    if signal == 0.0:
        return {"rel_fro": float("nan"), "sqnr_db": float("nan")}
    rel = noise / signal
    return {"rel_fro": rel, "sqnr_db": float("inf") if rel == 0.0 else -20.0 * math.log10(rel)}
