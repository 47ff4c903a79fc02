"""The quantised matmuls on the CPU: byte accounting per format, the Triton kernels in the interpreter
against the float64 product of the dequantised operands at the kernels' own (tight) tolerance, int8
exact against an int32 reference, deliberately wrong kernels (scales on the wrong axis, nibbles swapped,
a K tile dropped) caught, NaN/inf propagation, and the error each format costs in the record. Bad input
and skip reasons: tests/test_qmatmul_refusals.py; the generic interpreter test (tests/test_interpreter.py)
runs every variant on the "test" shapes too."""

import math
import re
from pathlib import Path

import pytest
import torch

from gpubench import kernels
from gpubench.bench.measure.correctness import CorrectnessError, check_variant
from gpubench.kernels.qmatmul import (
    baselines,
    config,
    cupy_scaled,
    quant,
    triton_int4,
    triton_scaled,
)
from gpubench.kernels.qmatmul import (
    common as _common,
)
from gpubench.kernels.workload import Variant, torch_dtype

CPU = torch.device("cpu")
NAMES = ("qmatmul_fp8", "qmatmul_fp8_rowwise", "qmatmul_int8", "qmatmul_int4")
FP8, FP8R, INT8, INT4 = (kernels.get(n) for n in NAMES)
SCALED = (FP8, FP8R, INT8)


def _s(M, N, K, group=None):
    return {"M": M, "N": N, "K": K, **({} if group is None else {"group": group})}


def _uneven(rows, cols, seed, dtype=torch.float16):
    """Rows 100x apart in magnitude: scales on the wrong axis or of the wrong row cannot go unnoticed."""
    g = torch.Generator().manual_seed(seed)
    mags = torch.logspace(-1, 1, rows, dtype=torch.float64).to(torch.float32)
    mags = mags[torch.randperm(rows, generator=g)]
    return (torch.randn(rows, cols, generator=g) * mags[:, None] * cols**-0.25).to(dtype)


# ---- registry, shapes, accounting ----


def test_four_workloads_one_per_format():
    assert [w.name for w in (FP8, FP8R, INT8, INT4)] == [
        "qmatmul_fp8", "qmatmul_fp8_rowwise", "qmatmul_int8", "qmatmul_int4",
    ]  # fmt: skip
    assert INT4.axes == ("M", "N", "K", "group") and FP8.axes == INT8.axes == ("M", "N", "K")
    for w in (FP8, FP8R, INT8, INT4):
        assert w.dtypes == ("bf16", "fp16") and w.uses_tensor_cores
        assert "torch_dense" in w.variants
        bench = {(s["M"], s["N"], s["K"]) for s in w.shapes["bench"]}
        assert {(M, N, K) for M in (1, 16, 128, 4096) for N, K in _common.LAYERS} <= bench
    # fp8/int8 dots are placed under their own roof; torch_dense and int4 (dequantised) under fp16/bf16
    for w, dots in ((FP8, "fp8"), (FP8R, "fp8"), (INT8, "int8"), (INT4, None)):
        assert {v.compute_dtype for n, v in w.variants.items() if n != "torch_dense"} == {dots}
        assert w.variants["torch_dense"].compute_dtype is None
        # the dense baseline counts the unquantised operands' bytes; the quantised variants the format's
        shape = w.shapes["quick"][0]
        dense = w.variants["torch_dense"].bytes_of(w, shape, "bf16")
        assert dense == _common.dense_bytes(shape, "bf16") > w.bytes(shape, "bf16")
        assert {v.bytes_of(w, shape, "bf16") for n, v in w.variants.items() if n != "torch_dense"} == {
            w.bytes(shape, "bf16")
        }
    assert (8192, 8192, 4096) in {(s["M"], s["N"], s["K"]) for s in FP8.shapes["quick"]}  # the fp8 target


def test_bytes_per_format_line_by_line():
    M, N, K = 16, 8192, 28672
    out = M * N * 2
    assert FP8.bytes(_s(M, N, K), "bf16") == M * K + 4 + N * K + 4 + out  # one fp32 scale per tensor
    rowwise = M * K + M * 4 + N * K + N * 4 + out  # a scale per token and per output column
    assert FP8R.bytes(_s(M, N, K), "bf16") == rowwise == INT8.bytes(_s(M, N, K), "fp16")
    assert INT4.bytes(_s(1, N, K, 128), "bf16") == 1 * K * 2 + N * K // 2 + (K // 128) * N * 2 + N * 2
    assert INT4.bytes(_s(1, N, K, K), "fp16") == K * 2 + N * K // 2 + N * 2 + N * 2  # per-channel
    dense = _common.dense_bytes(_s(1, N, K), "bf16")
    assert dense == K * 2 + N * K * 2 + N * 2
    assert 3.7 < dense / INT4.bytes(_s(1, N, K, 128), "bf16") < 3.9  # the memory-bound saving at M = 1
    for w in (FP8, FP8R, INT8, INT4):
        assert w.flops(_s(3, 5, 8, 8)) == 2 * 3 * 5 * 8


# ---- the kernels at their own tolerance ----

KERNELS = [
    (FP8, "triton"), (FP8, "triton_persistent_tma"), (FP8R, "triton"), (FP8R, "triton_persistent_tma"),
    (INT8, "triton"), (INT8, "triton_persistent_tma"), (INT4, "triton"), (INT4, "triton_splitk"),
]  # fmt: skip
EXTRA_SHAPES = {
    "scaled": [_s(65, 72, 160), _s(2, 96, 64)],
    "int4": [_s(16, 72, 256, 128), _s(40, 24, 64, 64)],
}


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("w,vname", KERNELS, ids=[f"{w.name}-{v}" for w, v in KERNELS])
def test_kernel_matches_the_dequantised_product_tightly(w, vname, dtype):
    v = w.variant(vname)
    shapes = list(w.shapes["test"]) + EXTRA_SHAPES["int4" if w is INT4 else "scaled"]
    ran = 0
    for shape in shapes:
        if v.skip_reason(CPU, shape, dtype):
            continue
        inputs = w.make_inputs(shape, dtype, CPU, seed=11)
        tol = _common.KERNEL_TOLERANCES[dtype]
        out = v.fn(*inputs)
        assert out.dtype == torch_dtype(dtype) and out.shape == (shape["M"], shape["N"])
        torch.testing.assert_close(out.double(), w.reference(*inputs).double(), atol=tol.atol, rtol=tol.rtol)
        ran += 1
    if not ran:
        pytest.skip(v.skip_reason(CPU, shapes[0], dtype))


def _extreme_int8(M, N, K, seed=5):
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(-128, 128, (M, K), generator=g, dtype=torch.int8)
    b = torch.randint(-128, 128, (N, K), generator=g, dtype=torch.int8)
    a[0] = 127
    b[0] = 127  # out[0, 0] = 127^2 K: past 2^24, where an fp32 accumulator stops being exact
    a[1] = -128
    b[1] = -128
    return a, b


@pytest.mark.parametrize("M", [33, 7])  # 7 <= SCALED_SPLITK_MAX_M: int32 partials per split, summed
@pytest.mark.parametrize("fn", [triton_scaled.scaled_matmul, triton_scaled.scaled_matmul_tma])
def test_int8_accumulator_is_exact_against_int32(fn, M):
    N, K = 40, 2048
    a, b = _extreme_int8(M, N, K)
    ones_a, ones_b = torch.ones(M), torch.ones(N)
    got = fn(a, ones_a, b, ones_b, torch.int32)
    want = a.to(torch.int32) @ b.to(torch.int32).t()  # torch's own int32 matmul
    assert int(want[0, 0]) == 127 * 127 * K > 2**24
    assert got.dtype == torch.int32 and torch.equal(got, want)


def test_scale_granularities_mix_and_match():
    x, wt = _uneven(9, 64, 1), _uneven(24, 64, 2)
    for ga, gb in (("row", "tensor"), ("tensor", "row"), ("row", "row"), ("tensor", "tensor")):
        for qf in (quant.quantize_int8, quant.quantize_fp8):
            a, sa = qf(x, ga)
            b, sb = qf(wt, gb)
            want = _common.matmul64(quant.dequantize(a, sa), quant.dequantize(b, sb), torch.float16)
            got = triton_scaled.scaled_matmul(a, sa, b, sb, torch.float16)
            tol = _common.KERNEL_TOLERANCES["fp16"]
            torch.testing.assert_close(got.double(), want.double(), atol=tol.atol, rtol=tol.rtol)


def test_splitk_sums_every_split():
    x = _uneven(3, 512, 4)
    wp, ws = quant.quantize_int4(_uneven(40, 512, 5), 64)
    want = _common.matmul64(x.double(), quant.dequantize_int4(wp, ws, 64), torch.float16)
    for split in (1, 3, 8, 64):  # 64 splits of a 512-deep K at 32 per tile: the empty ones are dropped
        t = config.Tile(16, 32, 64, 1, 1, 1, split)
        got = triton_int4._launch(x, wp, ws, 64, t)
        torch.testing.assert_close(got.double(), want.double(), atol=1e-3, rtol=2e-3)


# ---- deliberately wrong kernels are caught ----


def _wrong(name, fn):
    return Variant(name, "triton", fn)


def test_scales_on_the_wrong_axis_are_caught():
    shape = _s(40, 40, 64)  # square: row and column scale vectors have the same length

    def swapped(a, sa, b, sb, a_deq, b_deq):
        return triton_scaled.scaled_matmul(a, sb, b, sa, a_deq.dtype)  # a's scales on the columns

    for w in (FP8R, INT8):
        with pytest.raises(CorrectnessError, match="differs from the reference"):
            check_variant(w, _wrong("swapped_scales", swapped), shape, "fp16", CPU)
        check_variant(w, w.variant("triton"), shape, "fp16", CPU)  # the right kernel passes the same check


def test_int4_scales_transposed_are_caught():
    shape = _s(8, 4, 128, 32)  # K / group == N: transposed scales still have the expected shape

    def transposed(x, wp, ws, group, *rest):
        return triton_int4.int4_matmul(x, wp, ws.t().contiguous(), group)

    with pytest.raises(CorrectnessError, match="differs from the reference"):
        check_variant(INT4, _wrong("transposed_scales", transposed), shape, "fp16", CPU)


@pytest.mark.parametrize("fn", [triton_int4.int4_matmul, triton_int4.int4_matmul_splitk])
def test_swapped_nibbles_are_caught(fn):
    shape = _s(5, 24, 128, 64)
    inputs = INT4.make_inputs(shape, "fp16", CPU, seed=2)
    x, wp, ws, group = inputs[:4]
    swapped = ((wp & 0xF) << 4) | (wp >> 4)
    expected = INT4.reference(*inputs)
    INT4.check(fn(x, wp, ws, group), expected, "fp16", shape)
    with pytest.raises(AssertionError):
        INT4.check(fn(x, swapped, ws, group), expected, "fp16", shape)


def test_a_dropped_k_tile_is_caught():
    shape = _s(33, 40, 96)

    def short_k(a, sa, b, sb, a_deq, b_deq):
        a, b = a[:, :-32].contiguous(), b[:, :-32].contiguous()
        return triton_scaled.scaled_matmul(a, sa, b, sb, a_deq.dtype)

    for w in SCALED:
        with pytest.raises(CorrectnessError):
            check_variant(w, _wrong("short_k", short_k), shape, "bf16", CPU)


# ---- NaN, inf, empty ----


@pytest.mark.parametrize("fn", [triton_int4.int4_matmul, triton_int4.int4_matmul_splitk])
def test_int4_propagates_nan_and_inf_like_the_reference(fn):
    shape = _s(6, 16, 64, 32)
    inputs = list(INT4.make_inputs(shape, "fp16", CPU, seed=3))
    x = inputs[0].clone()
    x[1, 3] = float("inf")
    x[2, 5] = float("nan")
    x[3, 7], x[3, 9] = float("inf"), float("-inf")
    x[4] = 6e4  # huge: the output overflows fp16 on both sides alike
    inputs[0] = x
    out, ref = fn(*inputs[:4]), INT4.reference(*inputs)
    assert bool(torch.isnan(out[2]).all()) and bool(torch.isinf(ref[4]).any())
    torch.testing.assert_close(out.double(), ref.double(), atol=1e-3, rtol=2e-3, equal_nan=True)


def test_scaled_propagates_nan_scales():
    a, sa, b, sb, *_ = INT8.make_inputs(_s(5, 24, 48), "fp16", CPU, seed=4)
    sa = sa.clone()
    sa[2] = float("nan")
    out = triton_scaled.scaled_matmul(a, sa, b, sb, torch.float16)
    assert bool(torch.isnan(out[2]).all()) and not bool(torch.isnan(out[[0, 1, 3, 4]]).any())


def test_degenerate_sizes():
    mm, one, i8 = triton_scaled.scaled_matmul, torch.ones(1), torch.int8
    b = torch.ones(8, 16, dtype=i8)
    assert mm(torch.empty(0, 16, dtype=i8), one, b, one, torch.float16).shape == (0, 8)
    z = mm(torch.ones(3, 0, dtype=torch.int8), one, torch.ones(4, 0, dtype=torch.int8), one, torch.bfloat16)
    assert z.shape == (3, 4) and not bool(z.any())
    wp, ws = quant.quantize_int4(torch.randn(4, 64), 32)
    assert triton_int4.int4_matmul(torch.empty(0, 64).half(), wp, ws.half(), 32).shape == (0, 4)


# ---- the error each format costs, kept in the record ----


def test_record_keeps_the_format_error_and_the_dense_bytes():
    sqnr = {}
    for w, shape in ((FP8, _s(16, 64, 256)), (FP8R, _s(16, 64, 256)), (INT8, _s(16, 64, 256)),
                     (INT4, _s(16, 64, 256, 64)), (INT4, _s(16, 64, 256, 256))):  # fmt: skip
        d = w.details(shape, "bf16")
        assert set(d) == {"format", "dense_bytes", "quant_error"}
        assert d["dense_bytes"] == _common.dense_bytes(shape, "bf16") > w.bytes(shape, "bf16")
        e = d["quant_error"]
        assert 0 < e["rel_fro"] < 0.2 and e["sqnr_db"] == pytest.approx(-20 * math.log10(e["rel_fro"]))
        assert e["seed"] == _common.ERROR_SEED and "unquantised" in e["against"]
        sqnr[(w.name, shape.get("group"))] = e["sqnr_db"]
        assert w.details(shape, "bf16") == d  # cached, and the same each time
    # more bits, less error; finer scales, less error
    assert sqnr[("qmatmul_int8", None)] > sqnr[("qmatmul_fp8_rowwise", None)] > sqnr[("qmatmul_int4", 64)]
    assert sqnr[("qmatmul_fp8_rowwise", None)] >= sqnr[("qmatmul_fp8", None)]
    assert sqnr[("qmatmul_int4", 64)] > sqnr[("qmatmul_int4", 256)]
    assert 35 < sqnr[("qmatmul_int8", None)] < 45  # ~6 dB a bit: 7-bit grid on Gaussian data


def test_the_recorded_error_is_the_reference_s_own():
    """The error in the record is that of the very operands the kernels and the reference use."""
    shape = _s(8, 32, 128)
    a, sa, b, sb, *_ = INT8.make_inputs(shape, "fp16", CPU, _common.ERROR_SEED)
    x, w = _common.unquantised(shape, "fp16", CPU, _common.ERROR_SEED)
    exact = x.double() @ w.double().t()
    got = quant.error_stats(INT8.reference(a, sa, b, sb, x, w).double(), exact)["rel_fro"]
    assert got == pytest.approx(INT8.details(shape, "fp16")["quant_error"]["rel_fro"], rel=0.05)


# ---- tuning tables and CUDA C mirrors ----


def test_block_k_stays_inside_a_group():
    assert triton_int4.block_k_for(128, 128, 4096) == 128
    assert triton_int4.block_k_for(128, 64, 4096) == 64
    assert triton_int4.block_k_for(256, 96, 4096) == 32
    assert triton_int4.block_k_for(128, 4096, 4096) == 128  # per-channel: any tile
    assert triton_int4.block_k_for(128, 16, 4096) is None
    assert triton_int4.group_problem(16, 4096) and triton_int4.group_problem(4096, 4096) is None


def _constexprs(path: Path) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"constexpr int (k\w+) = (\d+);", path.read_text())}


def test_cuda_tile_constants_mirror_the_source():
    c = {**_constexprs(cupy_scaled.SOURCE), **_constexprs(cupy_scaled.MMA_HEADER)}
    assert (c["kMmaBM"], c["kMmaBN"], c["kMmaBK"]) == config.MMA_TILE
    assert (c["kMmaStages"], c["kMmaThreads"]) == (config.MMA_STAGES, config.MMA_THREADS)
    assert (c["kDpBM"], c["kDpBN"], c["kDpBK"]) == config.DP4A_TILE and c["kDpThreads"] == config.DP4A_THREADS


def test_cuda_launch_plan():
    p = cupy_scaled.plan("mma", "bf16", 300, 200, 64)
    assert p.kernel == "gemm_int8_mma_bf16" and p.grid == (3 * 2,) and p.block == (256,)
    d = cupy_scaled.plan("dp4a", "i32", 65, 64, 20)
    assert d.kernel == "gemm_int8_dp4a_i32" and d.grid == (2 * 1,)
    with pytest.raises(ValueError, match="multiple of 16"):
        cupy_scaled.plan("mma", "fp16", 64, 64, 20)
    with pytest.raises(ValueError, match="16-byte aligned"):
        cupy_scaled.plan("mma", "fp16", 64, 64, 32, aligned=False)
    with pytest.raises(ValueError, match="unknown kernel kind"):
        cupy_scaled.plan("wmma", "fp16", 64, 64, 32)


def test_tinygemm_operands_follow_its_dequantisation():
    """Our symmetric weights in tinygemm's form: (u - 8) * scale + 0 with u the stored nibble (CPU op)."""
    if baselines.tinygemm_problem(CPU, 3, 16, 128, 64, "bf16"):
        pytest.skip(baselines.tinygemm_problem(CPU, 3, 16, 128, 64, "bf16"))
    x = _uneven(3, 128, 6, torch.bfloat16)
    wp, ws = quant.quantize_int4(_uneven(16, 128, 7, torch.bfloat16), 64)
    got = baselines.tinygemm(x, *baselines.tinygemm_operands(wp, ws, 64), 64)
    want = _common.matmul64(x.double(), quant.dequantize_int4(wp, ws, 64), torch.bfloat16)
    torch.testing.assert_close(got.double(), want.double(), atol=3e-2, rtol=1.6e-2)


def test_small_m_splits_k_and_sums_every_split():
    """M <= 16 takes the split-K schedule: every split's partial sum reaches the output, scaled once."""
    assert config.SCALED_SPLITK_MAX_M >= 16 and config.SCALED_SPLITK_INTERPRETER.split_k > 1
    x, wt = _uneven(5, 200, 6), _uneven(24, 200, 7)
    for qf in (quant.quantize_int8, quant.quantize_fp8):
        a, sa = qf(x, "row")
        b, sb = qf(wt, "row")
        want = _common.matmul64(quant.dequantize(a, sa), quant.dequantize(b, sb), torch.float16)
        t = config.SCALED_SPLITK_INTERPRETER
        assert triton_scaled.split_plan(t, 200)[1] == 2  # 200 = 4 K tiles of 32 and a ragged one, in 2 splits
        tol = _common.KERNEL_TOLERANCES["fp16"]
        got = triton_scaled.scaled_matmul(a, sa, b, sb, torch.float16)
        torch.testing.assert_close(got.double(), want.double(), atol=tol.atol, rtol=tol.rtol)


def _truncate(x: torch.Tensor, bits: int) -> torch.Tensor:
    """x with `bits` significant bits kept, the rest truncated toward zero."""
    m, e = torch.frexp(x)
    return torch.ldexp(torch.trunc(torch.ldexp(m, torch.full_like(e, bits))), e - bits)


def test_fp8_accumulation_model_bounds_a_simulated_truncating_accumulator():
    """The model behind the fp8 kernels' tolerance (kernel_tolerance): instructions of 32 products added
    to a partial sum kept to 14 bits, promoted exactly every BLOCK_K, on the workload's own fp8 inputs.
    The simulated error's spread stays under the model's sigma and its largest under FP8_SIGMAS of it;
    and the workloads' tolerance covers it at the bench's largest K."""
    shape, block_k = _s(16, 32, 4096), 256
    a, sa, b, sb, _, _ = FP8.make_inputs(shape, "fp16", CPU, seed=4)
    x, w = quant.dequantize(a, sa), quant.dequantize(b, sb)
    prods = (x[:, None, :] * w[None, :, :]).reshape(-1, shape["K"])  # [M*N, K] float64, exact
    acc = torch.zeros(prods.shape[0], dtype=torch.float64)
    for k0 in range(0, shape["K"], block_k):
        s = torch.zeros_like(acc)
        for i0 in range(k0, k0 + block_k, _common.FP8_INSTR_K):
            s = _truncate(s + prods[:, i0 : i0 + _common.FP8_INSTR_K].sum(1), _common.FP8_KEPT_BITS)
        acc += s
    err = acc - prods.sum(1)
    sigma = _common.fp8_accumulation_sigma(shape["K"], block_k)
    assert 0 < float(err.std()) < sigma and float(err.abs().max()) < _common.FP8_SIGMAS * sigma
    assert float(err.abs().max()) > 1e-5  # the simulation truncates: not a test that cannot fail
    largest_k = max(s["K"] for s in FP8.shapes["bench"])
    for dtype in ("fp16", "bf16"):
        model = _common.FP8_SIGMAS * _common.fp8_accumulation_sigma(largest_k, config.deepest_block_k("fp8"))
        assert model < _common.TOLERANCES[dtype].atol
        assert _common.kernel_tolerance(dtype, largest_k, "fp8").atol > _common.KERNEL_TOLERANCES[dtype].atol


def test_the_compile_gate_builds_every_gpu_tile():
    """Every tile of config's GPU tables (the interpreter's aside), with its BLOCK_K, warps and stages, is
    among the builds of its kernels in the compile gate (tests/test_compile_gate_gemmlike.py): a table the
    gate does not reach would reach a GPU uncompiled."""
    from gpubench.kernels.tiles import Tile
    from tests import test_compile_gate_gemmlike as gate

    def tiles_of(value):
        return {t for t in (value if isinstance(value, tuple) else (value,)) if isinstance(t, Tile)}

    tables = {n: tiles_of(v) for n, v in vars(config).items() if tiles_of(v) and "INTERPRETER" not in n}
    groups = {"SCALED": ("qmatmul_fp8", "qmatmul_fp8_rowwise", "qmatmul_int8"), "INT4": ("qmatmul_int4",)}
    assert all(any(g in name for g in groups) for name in tables), sorted(tables)  # each has its kernels
    for prefix, families in groups.items():
        built = set()
        for b in (b for family in families for b in gate.FAMILIES[family]()):
            cx = dict(b.constexprs)
            if "BLOCK_M" in cx:
                blocks = tuple(cx[k] for k in ("BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M"))
                built.add((*blocks, b.num_warps, b.num_stages))
        tiles = set().union(*(t for name, t in tables.items() if prefix in name))
        key = lambda t: (t.block_m, t.block_n, t.block_k, t.group_m, t.num_warps, t.num_stages)  # noqa: E731
        missing = [t for t in tiles if key(t) not in built]
        assert len(tiles) > 5 and not missing, (prefix, missing)
