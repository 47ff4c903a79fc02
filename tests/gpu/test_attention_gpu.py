"""GPU correctness of attention and attention_bwd: every variant (Triton compiled, TMA, decode, CUDA C via
CuPy, naive, every SDPA backend the GPU has) in fp16 and bf16 on the test shapes and on larger ones (bench
head_dim 128 at 1K-4K, d32/d64/d256, ragged, grouped-query, decode contexts; torch's own attention at two
of them), every autotune candidate and backward tile of this GPU's config run directly, the LSE of each
kernel, NaN and huge magnitudes, and CUDA-graph capture. Run with `nox -s gpu -- -k attention`."""

import math

import pytest
import torch

from gpubench.bench.measure.correctness import check_variant
from gpubench.kernels.attention import WORKLOAD as ATT
from gpubench.kernels.attention import config, cupy_kernels, triton_bwd, triton_decode, triton_fwd
from gpubench.kernels.attention import shape_of as S
from gpubench.kernels.attention.bwd import WORKLOAD as BWD
from gpubench.kernels.attention.reference import forward_f64
from tests.support.gpu_cases import shapes_for

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
GPU = torch.device("cuda")
DTYPES = ["fp16", "bf16"]

LARGE = [
    S(2, 16, 16, 1024, 1024, 128, 0),
    S(2, 16, 16, 1024, 1024, 128, 1),
    S(1, 16, 16, 4096, 4096, 128, 1),
    S(1, 8, 2, 1000, 1500, 128, 1),  # ragged tiles, GQA, bottom-right diagonal
    S(1, 8, 8, 1500, 700, 64, 1),  # more queries than keys: 800 rows per head see no key
    S(2, 8, 8, 2048, 2048, 64, 0),
    S(1, 4, 4, 777, 1029, 32, 1),
    S(1, 4, 4, 1024, 1024, 256, 0),
    S(2, 32, 8, 1, 32768, 128, 1),  # decode
    S(1, 32, 8, 16, 8192, 128, 1),
    S(4, 32, 32, 1, 4097, 64, 0),  # decode, MHA, a ragged last split
]
BWD_LARGE = [LARGE[i] for i in (0, 1, 3, 4, 5, 6, 7)]
# torch's own attention (naive, every SDPA backend) at the large shapes: only the ones that tell something
# new about the suite's wrapper around it (grouped-query K/V at a bench head_dim with the bottom-right
# diagonal, and a long decode context); the test shapes already hold its layout, GQA and causal cases,
# and the rest of the large grid would test torch's kernels rather than the suite's.
BASELINE_LARGE = [LARGE[3], LARGE[8]]


def _cases(w, shapes, baseline_shapes):
    """(variant, shape, dtype): every variant on the test shapes, the suite's kernels on `shapes` and
    torch's on `baseline_shapes`; the variants of one shape and dtype in a row, so that they share one
    reference (the `references` fixture keeps the last one)."""
    every = [*w.shapes["test"], *shapes, *(s for s in baseline_shapes if s not in shapes)]
    for shape in every:
        for dtype in DTYPES:
            for vname, v in w.variants.items():
                large = baseline_shapes if v.backend == "torch" else shapes
                if shape in shapes_for(w, v, large):
                    sid = ",".join(str(shape[a]) for a in w.axes)
                    yield pytest.param(vname, shape, dtype, id=f"{vname}-{dtype}-{sid}")


FORWARD_CASES = list(_cases(ATT, LARGE, BASELINE_LARGE))
BACKWARD_CASES = list(_cases(BWD, BWD_LARGE, BASELINE_LARGE[:1]))


@pytest.mark.parametrize("vname,shape,dtype", FORWARD_CASES)
def test_forward_variant_matches_reference(vname, shape, dtype, references):
    v = ATT.variant(vname)
    reason = v.skip_reason(GPU, shape, dtype)
    if reason:
        pytest.skip(reason)
    check_variant(ATT, v, shape, dtype, GPU, references=references)


@pytest.mark.parametrize("vname,shape,dtype", BACKWARD_CASES)
def test_backward_variant_matches_reference(vname, shape, dtype, references):
    v = BWD.variant(vname)
    reason = v.skip_reason(GPU, shape, dtype)
    if reason:
        pytest.skip(reason)
    check_variant(BWD, v, shape, dtype, GPU, references=references)


def test_nothing_is_skipped_that_should_run():
    major = torch.cuda.get_device_capability(GPU)[0]
    square, rect = S(1, 8, 8, 512, 512, 128, 1), S(1, 8, 2, 16, 4096, 128, 1)
    must = {"triton", "triton_decode", "cuda", "naive", "sdpa_math"} | (
        {"triton_tma"} if major == 9 else set()
    )
    for vname in must:
        shape = rect if vname == "triton_decode" else square
        assert ATT.variant(vname).skip_reason(GPU, shape, "bf16") is None, vname
    if major >= 8:  # SDPA's flash and efficient backends exist on every sm_80+ build of torch
        for vname in ("sdpa_flash", "sdpa_efficient"):
            assert ATT.variant(vname).skip_reason(GPU, square, "bf16") is None, vname
    assert BWD.variant("triton").skip_reason(GPU, square, "bf16") is None


def _tensors(shape, dtype, seed=0):
    return ATT.make_inputs(shape, dtype, GPU, seed)


def _lse_close(lse, ref):
    assert torch.equal(torch.isinf(lse), torch.isinf(ref))
    finite = torch.isfinite(ref)
    torch.testing.assert_close(lse[finite].double(), ref[finite], atol=2e-2, rtol=1e-3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [LARGE[3], LARGE[4], LARGE[6]], ids=["gqa", "no_key_rows", "d32"])
def test_every_forward_candidate_and_its_lse(shape, dtype):
    q, k, v, causal = _tensors(shape, dtype)
    o64, lse64 = forward_f64(q, k, v, causal)
    cfg = config.config_for(GPU)
    for tma, table in ((False, cfg.fwd), (True, cfg.fwd_tma)):
        for tile in table.get(shape["head_dim"], ()):
            o, lse = triton_fwd.forward(q, k, v, causal, tma=tma, tiles=(tile,))
            ATT.check(o, o64.to(q.dtype), dtype)
            _lse_close(lse, lse64)
    if shape["head_dim"] in config.CUDA_HEAD_DIMS:
        o, lse = cupy_kernels.forward(q, k, v, causal)
        ATT.check(o, o64.to(q.dtype), dtype)
        _lse_close(lse, lse64)


@pytest.mark.parametrize("splits", [1, 7, None])
def test_decode_splits_and_lse(splits):
    shape = S(2, 32, 8, 5, 20000, 128, 1)
    q, k, v, causal = _tensors(shape, "bf16")
    o, lse = triton_decode.decode(q, k, v, causal, splits=splits)
    o64, lse64 = forward_f64(q, k, v, causal)
    ATT.check(o, o64.to(q.dtype), "bf16")
    _lse_close(lse, lse64)


@pytest.mark.parametrize("head_dim", sorted(config.config_for(torch.device("cpu")).bwd))
def test_backward_tiles_of_this_gpu(head_dim):
    table = config.config_for(GPU).bwd
    if head_dim not in table:
        pytest.skip(f"head_dim {head_dim} has no backward tiles on this GPU")
    shape = S(1, 4, 2, 333, 517, head_dim, 1)
    inputs = BWD.make_inputs(shape, "bf16", GPU, seed=head_dim)
    got = triton_bwd.backward(*inputs, tiles=table[head_dim])
    BWD.check(got, BWD.reference(*inputs), "bf16")


@pytest.mark.parametrize("vname", ["triton", "triton_tma", "triton_decode", "cuda", "sdpa_math"])
@pytest.mark.parametrize("kind", ["huge", "nan_query"])
def test_nan_and_huge_magnitudes(vname, kind):
    shape = S(1, 4, 2, 5, 3000, 64, 1)
    q, k, v, causal = _tensors(shape, "fp16", seed=5)
    if kind == "huge":
        q = (q.float() * 60).to(
            q.dtype
        )  # scores of thousands: exp overflows unless the maximum is subtracted
    else:
        q[0, 1, 2, 7] = math.nan
    reason = ATT.variant(vname).skip_reason(GPU, shape, "fp16")
    if reason:
        pytest.skip(reason)
    ATT.check(ATT.variant(vname).fn(q, k, v, causal), ATT.reference(q, k, v, causal), "fp16")


@pytest.mark.parametrize("vname", ["triton", "triton_decode", "cuda"])
def test_launchers_replay_in_cuda_graphs(vname):
    shape = S(2, 8, 2, 4, 3000, 128, 1)
    inputs = _tensors(shape, "bf16", seed=3)
    fn = ATT.variant(vname).fn
    fn(*inputs)  # compile and autotune outside the capture
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        with torch.cuda.graph(graph, stream=stream):
            out = fn(*inputs)
    graph.replay()
    torch.cuda.synchronize()
    ATT.check(out, ATT.reference(*inputs), "bf16")


def test_cpu_tensors_rejected_by_cuda_variants():
    q = torch.randn(1, 2, 4, 64, dtype=torch.float16)
    with pytest.raises(ValueError, match="cuda"):
        cupy_kernels.attention(q, q, q, False)
    with pytest.raises(ValueError, match="is on"):
        triton_fwd.flash_attention(q.to(GPU), q, q.to(GPU), False)
