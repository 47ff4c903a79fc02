"""Bad input to the quantised matmuls refused with a clear error naming the argument (K not a multiple
of the group, odd K, scales of the wrong shape or dtype, a dtype the format does not take, CPU tensors
for the CUDA launchers), and the skip reasons where a GPU or a shape rules a variant out (fp8 without
fp8 tensor cores, TMA off Hopper, torch's own constraints)."""

import pytest
import torch

from gpubench import kernels
from gpubench.kernels.qmatmul import common as _common
from gpubench.kernels.qmatmul import cupy_scaled, quant, triton_int4, triton_scaled

CPU = torch.device("cpu")
FP8, FP8R, INT8, INT4 = (
    kernels.get(n) for n in ("qmatmul_fp8", "qmatmul_fp8_rowwise", "qmatmul_int8", "qmatmul_int4")
)


def _s(M, N, K, group=None):
    return {"M": M, "N": N, "K": K, **({} if group is None else {"group": group})}


# ---- bad input ----


def test_int4_bad_input():
    x = torch.randn(3, 64).half()
    wp, ws = quant.quantize_int4(torch.randn(8, 64).half(), 32)
    with pytest.raises(ValueError, match="not a multiple of the group size 48"):
        triton_int4.int4_matmul(x, wp, ws, 48)
    with pytest.raises(ValueError, match="K must be even"):
        triton_int4.int4_matmul(torch.randn(3, 63).half(), wp, ws, 32)
    with pytest.raises(ValueError, match=r"expected \(N, K/2\)"):
        triton_int4.int4_matmul(torch.randn(3, 32).half(), wp, ws, 32)
    with pytest.raises(ValueError, match=r"expected \(K/group, N\) = \(2, 8\)"):
        triton_int4.int4_matmul(x, wp, ws.t().contiguous(), 32)
    with pytest.raises(TypeError, match="w_scales has dtype float32"):
        triton_int4.int4_matmul(x, wp, ws.float(), 32)
    with pytest.raises(TypeError, match="x has dtype float32"):
        triton_int4.int4_matmul(x.float(), wp, ws, 32)
    with pytest.raises(TypeError, match="w_packed has dtype int8"):
        triton_int4.int4_matmul(x, wp.to(torch.int8), ws, 32)
    with pytest.raises(ValueError, match="multiple of 32"):
        triton_int4.int4_matmul(x, *quant.quantize_int4(torch.randn(8, 64).half(), 16), 16)


def test_scaled_bad_input():
    a, sa, b, sb, *_ = INT8.make_inputs(_s(5, 24, 48), "fp16", CPU, seed=0)
    f8 = b.to(torch.float32).to(torch.float8_e4m3fn)
    mm = triton_scaled.scaled_matmul
    with pytest.raises(TypeError, match="supported: int8, float8_e4m3fn"):
        mm(a.half(), sa, b, sb, torch.float16)
    with pytest.raises(TypeError, match="b has dtype float8_e4m3fn; supported: int8"):
        mm(a, sa, f8, sb, torch.float16)
    with pytest.raises(ValueError, match=r"a_scale has shape \(6,\): expected \(1,\) .* or \(5,\)"):
        mm(a, torch.ones(6), b, sb, torch.float16)
    with pytest.raises(ValueError, match=r"b_scale has shape \(24, 1\)"):
        mm(a, sa, b, sb.view(-1, 1), torch.float16)
    with pytest.raises(TypeError, match="a_scale has dtype float16"):
        mm(a, sa.half(), b, sb, torch.float16)
    with pytest.raises(TypeError, match="out_dtype must be one of float16, bfloat16, int32"):
        mm(a, sa, b, sb, torch.float32)
    with pytest.raises(TypeError, match="out_dtype must be one of float16, bfloat16, got torch.int32"):
        mm(a.float().to(torch.float8_e4m3fn), sa, f8, sb, torch.int32)
    with pytest.raises(ValueError, match="inner dimensions differ"):
        mm(a, sa, b[:, :32].contiguous(), sb, torch.float16)
    with pytest.raises(ValueError, match="contiguous"):
        mm(a.t().contiguous().t(), sa, b, sb, torch.float16)
    with pytest.raises(ValueError, match="K must be a multiple of 16"):
        triton_scaled.scaled_matmul_tma(a[:, :20].contiguous(), sa, b[:, :20].contiguous(), sb, torch.float16)
    with pytest.raises(ValueError, match="cuda"):
        cupy_scaled.int8_mma(a, sa, b, sb, torch.float16)  # the CUDA launchers want CUDA tensors
    with pytest.raises(ValueError, match="cuda"):
        cupy_scaled.int8_dp4a(a, sa, b, sb, torch.float16)


# ---- where each variant runs, and why not ----


def _gpu(monkeypatch, cap):
    monkeypatch.setattr(_common, "capability", lambda device: cap)
    return torch.device("cuda", 0)


def test_skip_reasons_on_older_gpus(monkeypatch):
    ampere = _gpu(monkeypatch, (8, 0))
    big = _s(4096, 4096, 4096)
    assert "fp8 e4m3 tensor cores need sm_89" in FP8.variant("triton").skip_reason(ampere, big, "bf16")
    assert "needs Hopper (sm_90) TMA" in FP8.variant("triton_persistent_tma").skip_reason(ampere, big, "bf16")
    assert "sm_89+" in FP8.variant("torch_scaled_mm").skip_reason(ampere, big, "bf16")
    assert INT8.variant("triton").skip_reason(ampere, big, "bf16") is None
    assert INT8.variant("torch_int_mm").skip_reason(ampere, big, "bf16") is None
    ada = _gpu(monkeypatch, (8, 9))
    assert FP8.variant("triton").skip_reason(ada, big, "bf16") is None
    assert FP8.variant("torch_scaled_mm").skip_reason(ada, big, "bf16") is None
    assert "row-wise scales needs sm_90" in FP8R.variant("torch_scaled_mm").skip_reason(ada, big, "bf16")
    turing = _gpu(monkeypatch, (7, 5))
    assert "sm_80 and newer" in INT8.variant("triton").skip_reason(turing, big, "fp16")
    assert "bf16 needs compute capability 8.0" in INT8.variant("torch_dense").skip_reason(turing, big, "bf16")
    hopper = _gpu(monkeypatch, (9, 0))
    for w in (FP8, FP8R, INT8, INT4):
        for vname in w.variants:
            if vname.startswith("cuda") or vname == "torch_int4pack":
                continue  # CuPy's availability; tinygemm's op is looked up on torch (checked below)
            M = 16 if vname == "triton_splitk" else 4096
            assert w.variant(vname).supported(hopper, _s(M, 4096, 4096, 128), "bf16") is None, (w.name, vname)


def test_skip_reasons_from_the_shape(monkeypatch):
    hopper = _gpu(monkeypatch, (9, 0))
    assert "writes bf16 only" in FP8R.variant("torch_scaled_mm").supported(hopper, _s(64, 64, 64), "fp16")
    assert "multiples of 16" in FP8.variant("torch_scaled_mm").supported(hopper, _s(64, 72, 64), "bf16")
    assert "M > 16" in INT8.variant("torch_int_mm").supported(hopper, _s(16, 64, 64), "bf16")
    assert "K must be a multiple of 16" in INT8.variant("cuda_mma").supported(hopper, _s(64, 64, 72), "bf16")
    assert "too slow" in INT8.variant("cuda_dp4a").supported(hopper, _s(4096, 8192, 28672), "bf16")
    assert "small batches" in INT4.variant("triton_splitk").supported(hopper, _s(128, 64, 64, 32), "fp16")
    tiny = INT4.variant("torch_int4pack").supported
    assert "bf16 activations only" in tiny(CPU, _s(1, 64, 128, 128), "fp16")
    assert "group sizes (32, 64, 128, 256) only, got 96" in tiny(CPU, _s(1, 64, 192, 96), "bf16")
    assert "got 512 (per-channel: K)" in tiny(CPU, _s(1, 64, 512, 512), "bf16")
    cpu_bf16 = INT4.variant("triton").skip_reason(CPU, _s(1, 64, 64, 32), "bf16")
    assert "interpreter" in cpu_bf16 and "11584" in cpu_bf16
