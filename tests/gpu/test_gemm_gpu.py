"""GPU correctness of gemm: every variant (Triton, CUDA C via CuPy, torch), every dtype including bf16,
on the test shapes plus large, ragged, unaligned and skinny ones (run with `nox -s gpu`)."""

import pytest
import torch

from gpubench.bench.measure.correctness import CorrectnessError, check_variant
from gpubench.kernels.gemm import WORKLOAD
from gpubench.kernels.workload import Variant
from tests.support.gpu_cases import shapes_for

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _s(M, N, K):
    return {"M": M, "N": N, "K": K}


LARGE = [
    _s(1024, 1024, 1024),
    _s(1000, 1000, 1000),  # ragged tiles (1000 = 7 * 128 + 104), aligned strides
    _s(1001, 999, 1003),  # ragged and unaligned: the element-wise CUDA paths, masked Triton loads
    _s(1, 4096, 4096),  # skinny
    _s(16, 8192, 8192),  # skinny, as benchmarked
    _s(256, 256, 4096),  # long K: fp32 must stay IEEE (a TF32 leak fails the fp32 tolerance here)
    _s(2048, 2048, 2048),
]


def _cases():
    for vname, v in WORKLOAD.variants.items():
        for dtype in WORKLOAD.dtypes:
            for shape in shapes_for(WORKLOAD, v, LARGE):
                sid = f"{shape['M']}x{shape['N']}x{shape['K']}"
                yield pytest.param(vname, shape, dtype, id=f"{vname}-{dtype}-{sid}")


@pytest.mark.parametrize("vname,shape,dtype", list(_cases()))
def test_variant_matches_reference(vname, shape, dtype):
    v = WORKLOAD.variant(vname)
    device = torch.device("cuda")
    reason = v.skip_reason(device, shape, dtype)
    if reason:
        pytest.skip(reason)
    check_variant(WORKLOAD, v, shape, dtype, device)


def _expected_to_run(vname, dtype, major):
    if vname == "cuda_simt":
        return dtype == "fp32"
    if vname == "cuda_mma":
        return dtype in ("fp16", "bf16")
    if vname == "triton_persistent_tma":
        return major == 9
    return True


def test_nothing_is_skipped_that_should_run():
    """At 1024^3 on this GPU, every variant runs every dtype it is meant for (no silent coverage loss)."""
    device = torch.device("cuda")
    major = torch.cuda.get_device_capability()[0]
    if major < 8:
        pytest.skip("the suite's kernels target sm_80 and newer")
    for vname, v in WORKLOAD.variants.items():
        for dtype in WORKLOAD.dtypes:
            reason = v.skip_reason(device, _s(1024, 1024, 1024), dtype)
            assert (reason is None) == _expected_to_run(vname, dtype, major), (vname, dtype, reason)


@pytest.mark.parametrize("vname", ["triton", "triton_persistent_tma", "cuda_simt", "cuda_mma", "torch"])
def test_bench_shapes_at_scale(vname):
    """The largest and the ragged bench shapes once per variant, in its main dtype."""
    v = WORKLOAD.variant(vname)
    device = torch.device("cuda")
    dtype = "fp32" if vname == "cuda_simt" else "bf16"
    for shape in (_s(4096, 4096, 4096), _s(4095, 4097, 4093), _s(4096, 11008, 4096)):
        reason = v.skip_reason(device, shape, dtype)
        if reason is None:
            check_variant(WORKLOAD, v, shape, dtype, device)


@pytest.mark.parametrize("vname", ["cuda_naive", "cuda_smem", "cuda_simt", "cuda_mma", "triton", "torch"])
def test_misaligned_views(vname):
    """Operands that start 2 bytes into their storage: the CUDA launchers fall back to element-wise paths."""
    v = WORKLOAD.variant(vname)
    dtype = "fp32" if vname == "cuda_simt" else "fp16"
    shape = _s(130, 136, 72)
    tdt = torch.float32 if dtype == "fp32" else torch.float16
    M, N, K = shape["M"], shape["N"], shape["K"]
    a = torch.randn(M * K + 1, device="cuda").mul_(K**-0.25).to(tdt)[1:].view(M, K)
    b = torch.randn(K * N + 1, device="cuda").mul_(K**-0.25).to(tdt)[1:].view(K, N)
    assert a.data_ptr() % 16 and b.data_ptr() % 16
    WORKLOAD.check(v.fn(a, b, False), WORKLOAD.reference(a, b, False), dtype)


def test_tma_refuses_misaligned_pointers():
    if torch.cuda.get_device_capability()[0] != 9:
        pytest.skip("TMA variant is Hopper only")
    from gpubench.kernels.gemm.triton_kernels import matmul_persistent_tma

    a = torch.randn(64 * 64 + 1, device="cuda", dtype=torch.float16)[1:].view(64, 64)
    with pytest.raises(ValueError, match="16-byte aligned"):
        matmul_persistent_tma(a, torch.randn(64, 64, device="cuda", dtype=torch.float16), False)


def test_torch_baseline_restores_the_tf32_flag():
    m = torch.backends.cuda.matmul
    before = m.allow_tf32
    v = WORKLOAD.variant("torch")
    a, b, _ = WORKLOAD.make_inputs(_s(64, 64, 64), "tf32", torch.device("cuda"), 0)
    v.fn(a, b, True)
    v.fn(a, b, False)
    assert m.allow_tf32 == before


def test_cpu_and_mixed_device_tensors_rejected_by_cuda_variants():
    from gpubench.kernels.gemm.cupy_kernels import gemm_mma, gemm_naive

    with pytest.raises(ValueError, match="cuda"):
        gemm_naive(torch.randn(4, 4), torch.randn(4, 4), False)
    with pytest.raises(ValueError, match="cuda"):
        gemm_mma(torch.randn(4, 4, device="cuda").half(), torch.randn(4, 4).half(), False)


def test_wrong_cuda_kernel_is_caught():
    """A CUDA variant that skips the last K element must be rejected by the correctness check."""
    from gpubench.kernels.gemm.cupy_kernels import gemm_mma

    def short_k(a, b, allow_tf32):
        return gemm_mma(a[:, :-1].contiguous(), b[:-1].contiguous(), allow_tf32)

    with pytest.raises(CorrectnessError):
        check_variant(
            WORKLOAD, Variant("short_k", "cupy", short_k), _s(1000, 1000, 1000), "bf16", torch.device("cuda")
        )


def test_degenerate_sizes_on_gpu():
    from gpubench.kernels.gemm.cupy_kernels import gemm_simt

    a = torch.randn(5, 0, device="cuda")
    out = gemm_simt(a, torch.randn(0, 7, device="cuda"), False)
    assert out.shape == (5, 7) and torch.count_nonzero(out) == 0
    assert gemm_simt(torch.randn(0, 3, device="cuda"), torch.randn(3, 7, device="cuda"), False).shape == (
        0,
        7,
    )
