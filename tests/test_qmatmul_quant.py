"""The quantisation formats of kernels/qmatmul/quant.py: error bounds of quantise/dequantise per format
and granularity, the int4 packing (round trip and the byte layout itself), the error metrics, and bad
input refused with a clear error."""

import math

import pytest
import torch

from gpubench.kernels.qmatmul import quant


def _x(rows, cols, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    # rows of very different magnitudes, so per-row and per-tensor scales differ
    mags = torch.logspace(-3, 2, rows, dtype=torch.float64).to(torch.float32)[:, None]
    return (torch.randn(rows, cols, generator=g) * mags).to(dtype)


@pytest.mark.parametrize("granularity", ["tensor", "row"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_int8_error_is_at_most_half_a_step(granularity, dtype):
    x = _x(12, 40, dtype=dtype)
    q, s = quant.quantize_int8(x, granularity)
    assert q.dtype == torch.int8 and s.dtype == torch.float32
    assert s.shape == ((1,) if granularity == "tensor" else (12,))
    assert int(q.abs().max()) == 127  # the largest magnitude lands on the grid's end
    err = (quant.dequantize(q, s) - x.double()).abs()
    step = s.double().reshape(-1, 1)
    assert bool((err <= step / 2 * (1 + 1e-6)).all())


@pytest.mark.parametrize("granularity", ["tensor", "row"])
def test_fp8_error_is_at_most_half_an_e4m3_ulp(granularity):
    x = _x(12, 40)
    q, s = quant.quantize_fp8(x, granularity)
    assert q.dtype == torch.float8_e4m3fn
    assert float(q.float().abs().max()) == 448.0
    scaled = x.double() / s.double().reshape(-1, 1)
    err = (q.double() - scaled).abs()
    # e4m3: 3 mantissa bits (half an ulp is 2^-4 relative) down to 2^-6, then subnormals 2^-9 apart
    bound = torch.maximum(scaled.abs() * 2.0**-4, torch.full_like(scaled, 2.0**-10))
    assert bool((err <= bound * (1 + 1e-9)).all())


def test_per_row_scales_beat_a_per_tensor_scale_on_uneven_rows():
    x = _x(12, 64)
    errs = {}
    for g in ("tensor", "row"):
        q, s = quant.quantize_int8(x, g)
        errs[g] = quant.error_stats(quant.dequantize(q, s), x)["rel_fro"]
    assert errs["row"] < errs["tensor"] / 2


@pytest.mark.parametrize("group", [16, 64, 128])
def test_int4_group_error_is_at_most_half_a_step(group):
    w = _x(6, 128, seed=1, dtype=torch.float16)
    packed, scales = quant.quantize_int4(w, group)
    assert packed.shape == (6, 64) and packed.dtype == torch.uint8
    assert scales.shape == (128 // group, 6) and scales.dtype == torch.float16
    deq = quant.dequantize_int4(packed, scales, group)
    step = scales.double().t().repeat_interleave(group, dim=1)
    assert bool(((deq - w.double()).abs() <= step / 2 * (1 + 1e-6)).all())
    q = quant.unpack_int4(packed)
    assert int(q.min()) >= -7 and int(q.max()) <= 7  # symmetric: -8 never used


def test_per_channel_is_one_group_of_k():
    w = _x(5, 96, dtype=torch.bfloat16)
    packed, scales = quant.quantize_int4(w, 96)
    assert scales.shape == (1, 5) and scales.dtype == torch.bfloat16
    g32 = quant.error_stats(quant.dequantize_int4(*quant.quantize_int4(w, 32), 32), w)["rel_fro"]
    per_channel = quant.error_stats(quant.dequantize_int4(packed, scales, 96), w)["rel_fro"]
    assert g32 <= per_channel


def test_pack_layout_low_nibble_is_the_even_k():
    q = torch.tensor([[-8, 7, 0, -1]], dtype=torch.int8)
    packed = quant.pack_int4(q)
    # offset binary: -8 -> 0, 7 -> 15, 0 -> 8, -1 -> 7; even k in the low nibble
    assert packed.tolist() == [[0xF0, 0x78]]
    assert torch.equal(quant.unpack_int4(packed), q)


def test_pack_unpack_round_trip_every_value():
    g = torch.Generator().manual_seed(3)
    q = torch.randint(-8, 8, (33, 70), generator=g, dtype=torch.int8)
    q[0, :16] = torch.arange(-8, 8, dtype=torch.int8)
    assert torch.equal(quant.unpack_int4(quant.pack_int4(q)), q)


def test_zero_tiny_and_huge_magnitudes():
    x = torch.zeros(3, 8)
    x[1] = 1e-30  # a tiny amax must not give a zero scale
    x[2] = torch.tensor([-3e38, -1e38, -1.0, 0.0, 1e-3, 1e30, 2e38, 3e38])  # up to near fp32's largest
    for qf in (quant.quantize_int8, quant.quantize_fp8):
        q, s = qf(x, "row")
        assert bool(torch.isfinite(s).all()) and bool((s > 0).all())
        deq = quant.dequantize(q, s)
        assert bool(torch.isfinite(deq).all())
        assert float(deq[0].abs().max()) == 0.0  # an all-zero row stays exactly zero
        big = x[2].abs() >= 1e37  # the rest is below half a step of this row's grid
        torch.testing.assert_close(deq[2][big], x[2][big].double(), rtol=0.07, atol=0)
    w = torch.full((2, 32), 1e-7, dtype=torch.float16)  # below fp16's smallest normal / 7
    packed, scales = quant.quantize_int4(w, 32)
    assert bool((scales > 0).all())
    assert bool(torch.isfinite(quant.dequantize_int4(packed, scales, 32)).all())


def test_error_metrics():
    exact = torch.randn(4, 5, dtype=torch.float64)
    assert quant.error_stats(exact, exact) == {"rel_fro": 0.0, "sqnr_db": math.inf}
    off = quant.error_stats(exact * 1.1, exact)
    assert off["rel_fro"] == pytest.approx(0.1) and off["sqnr_db"] == pytest.approx(20.0)
    nan = quant.error_stats(exact, torch.zeros_like(exact))
    assert math.isnan(nan["rel_fro"]) and math.isnan(nan["sqnr_db"])
    with pytest.raises(ValueError, match="shapes differ"):
        quant.error_stats(exact, exact[:2])


def test_bad_input_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="NaN or inf"):
        quant.quantize_int8(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match="NaN or inf"):
        quant.quantize_int4(torch.tensor([[1.0, float("inf")]]), 2)
    with pytest.raises(ValueError, match="not a multiple of the group size 64"):
        quant.quantize_int4(torch.randn(4, 96), 64)
    with pytest.raises(ValueError, match="even K"):
        quant.quantize_int4(torch.randn(4, 33), 33)
    with pytest.raises(ValueError, match="even K"):
        quant.pack_int4(torch.zeros(2, 3, dtype=torch.int8))
    with pytest.raises(ValueError, match=r"\[-8, 7\]"):
        quant.pack_int4(torch.full((2, 2), 9, dtype=torch.int8))
    with pytest.raises(TypeError, match="int8"):
        quant.pack_int4(torch.zeros(2, 2, dtype=torch.int32))
    with pytest.raises(ValueError, match="positive int"):
        quant.quantize_int4(torch.randn(4, 32), 0)
    with pytest.raises(ValueError, match="granularity"):
        quant.quantize_int8(torch.randn(4, 8), "column")
    with pytest.raises(TypeError, match="int64"):
        quant.quantize_fp8(torch.zeros(2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="2-D"):
        quant.quantize_int8(torch.randn(8))
    with pytest.raises(ValueError, match=r"expected \(1,\) .* or \(4,\)"):
        quant.dequantize(torch.zeros(4, 8, dtype=torch.int8), torch.ones(3))
    with pytest.raises(TypeError, match="float16"):
        quant.dequantize(torch.zeros(4, 8, dtype=torch.int8), torch.ones(4, dtype=torch.float16))
    packed, scales = quant.quantize_int4(torch.randn(4, 64), 32)
    with pytest.raises(ValueError, match=r"expected \(K/group, N\) = \(2, 4\)"):
        quant.dequantize_int4(packed, scales.t().contiguous()[:, :1], 32)
