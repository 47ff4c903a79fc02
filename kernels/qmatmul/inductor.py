"""The quantised matmuls' torch.compile baselines (kernels/compiled.py), in max-autotune: each format
written the way torch expresses it, which inductor compiles to its own kernels.

  fp8   torch._scaled_mm: inductor's scaled-mm templates (Triton, fp8 tensor cores) against cuBLASLt.
  int8  torch._int_mm and the scaling epilogue: inductor's int8 mm templates with the epilogue fused.
  int4  the weights dequantised in torch ops (unpack the nibbles, subtract 8, times the group scale) and
        the fp16/bf16 matmul: inductor fuses the dequantisation into one kernel or into its GEMM's prologue.
        torch's own int4 kernel (tinygemm) is an opaque op to inductor: compiling it would time tinygemm.

The compiled functions take the operands ready (scales shaped for broadcasting); the launchers check the
workload's inputs and shape them outside the compiled call. Imports torch only when called.
"""

from __future__ import annotations

from gpubench.kernels import compiled


def _fp8(a, bt, sa, sb, out_dtype):  # compiled by torch_compile
    import torch

    return torch._scaled_mm(a, bt, scale_a=sa, scale_b=sb, out_dtype=out_dtype)


def _int8(a, bt, sa, sb, out_dtype):  # compiled by torch_compile
    import torch

    return (torch._int_mm(a, bt).to(torch.float32) * sa * sb).to(out_dtype)


def _int4(x, w_packed, w_scales, group):  # compiled by torch_compile
    import torch

    lo = (w_packed & 0xF).to(torch.int8) - 8  # k = 2j (kernels/qmatmul/quant.py's packing)
    hi = (w_packed >> 4).to(torch.int8) - 8  # k = 2j + 1
    q = torch.stack((lo, hi), dim=2).reshape(w_packed.shape[0], 2 * w_packed.shape[1])
    w = q.to(x.dtype) * w_scales.t().repeat_interleave(group, dim=1)
    return torch.matmul(x, w.t())


FP8 = compiled.Compiled(_fp8, compiled.MAX_AUTOTUNE)
INT8 = compiled.Compiled(_int8, compiled.MAX_AUTOTUNE)
INT4 = compiled.Compiled(_int4, compiled.MAX_AUTOTUNE)


def _scales(a_scale, b_scale, s):
    """Row scales as [M, 1] and column scales as [1, N] (torch._scaled_mm's row-wise form); a tensor's one
    scale as it is."""
    sa = a_scale.view(-1, 1).expand(s.M, 1).contiguous() if s.a_rows or s.b_rows else a_scale
    sb = b_scale.view(1, -1).expand(1, s.N).contiguous() if s.a_rows or s.b_rows else b_scale
    return sa, sb


def fp8(a, a_scale, b, b_scale, a_deq, b_deq):
    import torch

    from gpubench.kernels.qmatmul import validate

    s = validate.scaled(a, a_scale, b, b_scale, a_deq.dtype, torch.float8_e4m3fn)
    return FP8(a, b.t(), *_scales(a_scale, b_scale, s), a_deq.dtype)


def int8(a, a_scale, b, b_scale, a_deq, b_deq):
    import torch

    from gpubench.kernels.qmatmul import validate

    s = validate.scaled(a, a_scale, b, b_scale, a_deq.dtype, torch.int8)
    sa = a_scale.view(-1, 1) if s.a_rows else a_scale
    sb = b_scale.view(1, -1) if s.b_rows else b_scale
    return INT8(a, b.t(), sa, sb, a_deq.dtype)


def int4(x, w_packed, w_scales, group, w_deq, tiny_w, tiny_sz):
    from gpubench.kernels.qmatmul import validate

    validate.int4(x, w_packed, w_scales, group)
    return INT4(x, w_packed, w_scales, group)


def variant(which, supported, description: str):
    """The workload's torch_compile variant of format `which` (this module's fp8, int8 or int4): fp8 and
    int8 dots under their own roof, int4's dequantised fp16/bf16 ones under the record's."""
    core, dots = {fp8: (FP8, "fp8"), int8: (INT8, "int8"), int4: (INT4, None)}[which]
    return compiled.variant(core, description, supported, which, dots)
