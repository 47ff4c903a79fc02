"""torch baselines for the quantised matmuls: torch._scaled_mm (fp8), torch._int_mm plus the scaling
epilogue (int8), torch's int4 weight-only kernel (tinygemm, torch._weight_int4pack_mm), and the dense
fp16/bf16 matmul (cuBLAS on a GPU) on the dequantised operands.

Each takes the operands in kernels/qmatmul/quant.py's layouts; what a baseline needs in its own layout
(tinygemm's packed tiles and its scale-and-zero table) is prepared once, outside the timed call, by
`tinygemm_operands`. `*_problem` functions say why a baseline cannot run a case (None when it can), from
the constraints torch checks for these ops.
"""

from __future__ import annotations

import torch

from gpubench.kernels.qmatmul import common as _common
from gpubench.kernels.qmatmul import quant
from gpubench.kernels.qmatmul import validate as _validate

# ---- fp8: torch._scaled_mm ----


def scaled_mm_problem(device, M: int, N: int, K: int, dtype: str, rowwise: bool) -> str | None:
    if not hasattr(torch, "_scaled_mm"):
        return f"torch {torch.__version__} has no torch._scaled_mm"
    cap = _common.capability(device)
    if cap is None:
        return None  # torch's CPU implementation takes every size
    if cap < (8, 9):
        return f"torch._scaled_mm needs fp8 tensor cores (sm_89+); this GPU is sm_{cap[0]}{cap[1]}"
    if K % 16 or N % 16:
        return f"torch._scaled_mm (cuBLASLt fp8) needs K and N multiples of 16, got K={K}, N={N}"
    if rowwise and cap < (9, 0):
        return "torch._scaled_mm with row-wise scales needs sm_90+"
    if rowwise and dtype != "bf16":
        return "torch._scaled_mm with row-wise scales writes bf16 only"
    return None


def scaled_mm(a, a_scale, b, b_scale, out_dtype) -> torch.Tensor:
    """(a * a_scale) @ (b * b_scale).T through torch._scaled_mm; a [M, K], b [N, K] float8_e4m3fn."""
    s = _validate.scaled(a, a_scale, b, b_scale, out_dtype, torch.float8_e4m3fn)
    sa, sb = a_scale, b_scale
    if s.a_rows or s.b_rows:  # torch's row-wise form is [M, 1] and [1, N] on both sides (M or N may be 1)
        sa = a_scale.view(-1, 1).expand(s.M, 1).contiguous()
        sb = b_scale.view(1, -1).expand(1, s.N).contiguous()
    return torch._scaled_mm(a, b.t(), scale_a=sa, scale_b=sb, out_dtype=out_dtype)


# ---- int8: torch._int_mm and the epilogue ----


def int_mm_problem(device, M: int, N: int, K: int) -> str | None:
    if not hasattr(torch, "_int_mm"):
        return f"torch {torch.__version__} has no torch._int_mm"
    if _common.capability(device) is None:
        return None
    if M <= 16:
        return f"torch._int_mm (cuBLAS int8) needs M > 16, got M={M}"
    if K % 8 or N % 8:
        return f"torch._int_mm needs K and N multiples of 8, got K={K}, N={N}"
    return None


def int_mm_scaled(a, a_scale, b, b_scale, out_dtype) -> torch.Tensor:
    """torch._int_mm (int32 accumulator) then the epilogue as separate torch ops: acc * a_scale * b_scale."""
    s = _validate.scaled(a, a_scale, b, b_scale, out_dtype, torch.int8)
    acc = torch._int_mm(a, b.t())
    if out_dtype == torch.int32:
        return acc
    sa = a_scale.view(-1, 1) if s.a_rows else a_scale
    sb = b_scale.view(1, -1) if s.b_rows else b_scale
    return (acc.to(torch.float32) * sa * sb).to(out_dtype)


# ---- int4 weight-only: tinygemm ----

TINYGEMM_GROUPS = (32, 64, 128, 256)


def tinygemm_problem(device, M: int, N: int, K: int, group: int, dtype: str) -> str | None:
    have = "_weight_int4pack_mm" if _common.capability(device) else "_weight_int4pack_mm_for_cpu"
    if not hasattr(torch, have):
        return f"torch {torch.__version__} has no torch.{have}"
    if dtype != "bf16":
        return "torch's int4 kernel (tinygemm) takes bf16 activations only"
    if group not in TINYGEMM_GROUPS:
        return f"torch's int4 kernel takes group sizes {TINYGEMM_GROUPS} only, got {group} (per-channel: K)"
    if K % 32 or N % 8:
        return f"torch's int4 kernel needs K a multiple of 32 and N of 8, got K={K}, N={N}"
    if _common.capability(device) is None and N % 16:  # _convert_weight_to_int4pack_for_cpu's own rule
        return f"torch's int4 kernel on the CPU needs N a multiple of 16, got N={N}"
    return None


def _inner_k_tiles(K: int) -> int:
    return next(t for t in (8, 4, 2) if K % (16 * t) == 0)


def tinygemm_operands(w_packed, w_scales, group: int):
    """(packed weights, scales_and_zeros) in tinygemm's layouts for our symmetric format: its
    dequantisation is (u - 8) * scale + zero with u the unsigned nibble, so u = q + 8 (our stored nibble)
    and zero = 0. Its CUDA packing takes [N, K/2] bytes with the even k in the high nibble; its CPU
    packing takes the [N, K] nibble values as int32."""
    q = quant.unpack_int4(w_packed).to(torch.int32) + 8  # [N, K] in [0, 15]
    K = q.shape[1]
    tiles = _inner_k_tiles(K)
    if w_packed.device.type == "cuda":
        swapped = ((q[:, 0::2] << 4) | q[:, 1::2]).to(torch.uint8)
        packed = torch._convert_weight_to_int4pack(swapped.contiguous(), tiles)
    else:
        packed = torch._convert_weight_to_int4pack_for_cpu(q.contiguous(), tiles)
    zeros = torch.zeros_like(w_scales)
    return packed, torch.stack((w_scales, zeros), dim=2).contiguous()  # [K/group, N, 2]


def tinygemm(x, packed, scales_and_zeros, group: int) -> torch.Tensor:
    if x.device.type == "cuda":
        return torch._weight_int4pack_mm(x, packed, group, scales_and_zeros)
    return torch._weight_int4pack_mm_for_cpu(x, packed, group, scales_and_zeros)


# ---- the dense baseline ----


def dense(x, w) -> torch.Tensor:
    """x @ w.T in x's dtype (fp16/bf16; cuBLAS on a GPU), w [N, K] as torch.nn.Linear stores it."""
    return torch.matmul(x, w.t())
