"""GPU correctness of the quantised matmuls: every variant (Triton, CUDA C via CuPy, torch) and dtype with
the harness's check on the test shapes and large, ragged, unaligned and skinny ones; the suite's kernels
at their own tight tolerance; int8 exact against int32; what must run on this GPU does; a wrong kernel
is rejected; the recorded error at a real layer (run with `nox -s gpu`)."""

import pytest
import torch

from gpubench import kernels
from gpubench.bench.measure.correctness import CorrectnessError, check_variant
from gpubench.kernels.qmatmul import common as _common
from gpubench.kernels.workload import Variant
from tests.support.gpu_cases import shapes_for

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

NAMES = ("qmatmul_fp8", "qmatmul_fp8_rowwise", "qmatmul_int8", "qmatmul_int4")
DEV = torch.device("cuda")


def _s(M, N, K, group=None):
    return {"M": M, "N": N, "K": K, **({} if group is None else {"group": group})}


LARGE = {
    "scaled": [
        _s(1, 4096, 4096),
        _s(16, 4096, 14336),
        _s(1000, 1000, 1008),  # ragged tiles, aligned strides
        _s(1001, 999, 1003),  # ragged and unaligned: Triton's masks; TMA, mma.sync and cuBLASLt skip
        _s(4096, 4096, 4096),
        _s(8192, 8192, 4096),  # the fp8 target's shape
    ],
    "int4": [
        _s(1, 4096, 4096, 128),
        _s(16, 8192, 4096, 64),
        _s(3, 4096, 4096, 4096),  # per-channel
        _s(128, 4096, 4096, 128),
        _s(1000, 1000, 1024, 128),  # ragged N and M
        _s(16, 8192, 28672, 128),  # the int4 target's layer
    ],
}


def _large(w):
    return LARGE["int4" if w.name == "qmatmul_int4" else "scaled"]


def _cases():
    for name in NAMES:
        w = kernels.get(name)
        for vname, v in w.variants.items():
            for dtype in w.dtypes:
                for shape in shapes_for(w, v, _large(w)):
                    sid = "x".join(str(v) for v in shape.values())
                    yield pytest.param(name, vname, shape, dtype, id=f"{name}-{vname}-{dtype}-{sid}")


@pytest.mark.parametrize("name,vname,shape,dtype", list(_cases()))
def test_variant_matches_reference(name, vname, shape, dtype):
    w = kernels.get(name)
    v = w.variant(vname)
    reason = v.skip_reason(DEV, shape, dtype)
    if reason:
        pytest.skip(reason)
    check_variant(w, v, shape, dtype, DEV)


OURS = [(n, v) for n in NAMES for v in kernels.get(n).variants if v.startswith(("triton", "cuda"))]


@pytest.mark.parametrize("name,vname", OURS, ids=[f"{n}-{v}" for n, v in OURS])
def test_our_kernels_at_their_own_tolerance(name, vname):
    """The suite's kernels read the quantised operands exactly: two output ulps, at every size, plus the
    fp8 tensor cores' accumulation error (its model, _common.kernel_tolerance, with K in it)."""
    w = kernels.get(name)
    v = w.variant(vname)
    ran = 0
    for dtype in w.dtypes:
        for shape in _large(w):
            if v.skip_reason(DEV, shape, dtype):
                continue
            inputs = w.make_inputs(shape, dtype, DEV, seed=5)
            tol = _common.kernel_tolerance(dtype, shape["K"], v.compute_dtype)
            torch.testing.assert_close(v.fn(*inputs).double(), w.reference(*inputs).double(),
                                       atol=tol.atol, rtol=tol.rtol)  # fmt: skip
            ran += 1
    if not ran:
        pytest.skip("runs nowhere on this GPU")


def _raw_int8(vname):
    from gpubench.kernels.qmatmul import baselines, cupy_scaled, triton_scaled

    return {
        "triton": triton_scaled.scaled_matmul,
        "triton_persistent_tma": triton_scaled.scaled_matmul_tma,
        "cuda_mma": cupy_scaled.int8_mma,
        "cuda_dp4a": cupy_scaled.int8_dp4a,
        "torch_int_mm": baselines.int_mm_scaled,
    }[vname]


RAW = ["triton", "triton_persistent_tma", "cuda_mma", "cuda_dp4a", "torch_int_mm"]


@pytest.mark.parametrize("vname", RAW)
def test_int8_accumulators_exact(vname):
    w = kernels.get("qmatmul_int8")
    shape = _s(257, 264, 4096)
    if w.variant(vname).skip_reason(DEV, shape, "bf16"):
        pytest.skip(w.variant(vname).skip_reason(DEV, shape, "bf16"))
    g = torch.Generator(device="cuda").manual_seed(0)
    a = torch.randint(-128, 128, (257, 4096), generator=g, device=DEV, dtype=torch.int8)
    b = torch.randint(-128, 128, (264, 4096), generator=g, device=DEV, dtype=torch.int8)
    a[0], b[0] = 127, 127  # 127^2 x 4096 > 2^24: an fp32 accumulator would round it
    one = torch.ones(1, device=DEV)
    got = _raw_int8(vname)(a, one, b, one, torch.int32)
    want = (a.cpu().to(torch.int64) @ b.cpu().to(torch.int64).t()).to(torch.int32)
    assert torch.equal(got.cpu(), want)


def _expected_to_run(name, vname, dtype, cap):
    if vname == "triton_persistent_tma":
        return cap[0] == 9
    if name.startswith("qmatmul_fp8") and vname in ("triton", "cuda_mma", "torch_scaled_mm", "torch_compile"):
        if name == "qmatmul_fp8_rowwise" and vname in ("torch_scaled_mm", "torch_compile"):
            return cap >= (9, 0) and dtype == "bf16"
        return cap >= (8, 9)
    if vname == "torch_int4pack":
        return dtype == "bf16" and hasattr(torch, "_weight_int4pack_mm")
    return True


def test_nothing_is_skipped_that_should_run():
    """At M = 4096 (M = 16 for split-K) on 4096 x 4096, every variant runs what it is meant for."""
    cap = torch.cuda.get_device_capability()
    if cap < (8, 0):
        pytest.skip("the suite's kernels target sm_80 and newer")
    for name in NAMES:
        w = kernels.get(name)
        for vname, v in w.variants.items():
            for dtype in w.dtypes:
                shape = _s(16 if vname == "triton_splitk" else 4096, 4096, 4096)
                if name == "qmatmul_int4":
                    shape["group"] = 128
                reason = v.skip_reason(DEV, shape, dtype)
                expected = _expected_to_run(name, vname, dtype, cap)
                assert (reason is None) == expected, (name, vname, dtype, reason)


def test_wrong_axis_scales_rejected_on_the_gpu():
    from gpubench.kernels.qmatmul import cupy_scaled, triton_scaled

    w = kernels.get("qmatmul_int8")
    for fn in (triton_scaled.scaled_matmul, cupy_scaled.int8_mma):
        def swapped(a, sa, b, sb, a_deq, b_deq, fn=fn):
            return fn(a, sb, b, sa, a_deq.dtype)

        with pytest.raises(CorrectnessError):
            check_variant(w, Variant("swapped", "triton", swapped), _s(512, 512, 1024), "bf16", DEV)


def test_recorded_error_at_a_real_layer():
    shape = _s(16, 8192, 28672)
    sqnr = {}
    for name in NAMES:
        s = {**shape, "group": 128} if name == "qmatmul_int4" else shape
        e = kernels.get(name).details(s, "bf16")["quant_error"]
        assert 0 < e["rel_fro"] < 0.2
        sqnr[name] = e["sqnr_db"]
    assert sqnr["qmatmul_int8"] > sqnr["qmatmul_fp8_rowwise"] > sqnr["qmatmul_int4"]
