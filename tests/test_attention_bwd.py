"""attention_bwd specifics: the float64 backward reference and the Triton backward (several tile shapes,
fp32 in the interpreter) against torch autograd in float64, grouped-query attention and rows that see no
key, the autograd wrapper, the torch baselines' one-graph-per-input-set replay, bad input, and wrong
kernels (dS without the delta term, dK not scaled) that the workload's check must reject."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import gc  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from gpubench.kernels.attention import config, triton_bwd  # noqa: E402
from gpubench.kernels.attention import shape_of as S  # noqa: E402
from gpubench.kernels.attention.autograd import flash_attention  # noqa: E402
from gpubench.kernels.attention.bwd import WORKLOAD as BWD  # noqa: E402
from gpubench.kernels.attention.bwd import GradGraphs  # noqa: E402
from gpubench.kernels.attention.reference import backward_f64, forward_f64  # noqa: E402
from tests.test_attention import SRC, dense_f64, inputs, mutant  # noqa: E402

CPU = torch.device("cpu")
T = config.Tile
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
SHAPES = [S(2, 4, 2, 37, 37, 32, 1), S(1, 2, 1, 45, 17, 32, 1), S(1, 2, 2, 19, 70, 64, 1),
          S(1, 3, 3, 33, 50, 32, 0), S(1, 4, 1, 5, 40, 32, 1)]  # fmt: skip


def autograd_f64(q, k, v, do, causal):
    """torch autograd through the dense float64 formula: the independent form of the gradients."""
    leaves = [t.detach().to(torch.float64).requires_grad_() for t in (q, k, v)]
    out = dense_f64(*leaves, causal)
    return torch.autograd.grad(out, leaves, do.to(torch.float64))


def _rms_close(got, want, rel):
    for name, a, b in zip(("dq", "dk", "dv"), got, want):
        scale = float(b.square().mean().sqrt()) or 1.0
        torch.testing.assert_close(a.double(), b, atol=rel * scale, rtol=rel,
                                   msg=lambda m, n=name: f"{n}: {m}")  # fmt: skip


@pytest.mark.parametrize("shape", SHAPES[:3], ids=lambda s: f"{s['seq_q']}x{s['seq_k']}")
def test_reference_backward_matches_autograd_in_float64(shape):
    q, k, v, causal = inputs(shape)
    do = torch.randn(q.shape)
    _rms_close(backward_f64(q, k, v, do, causal), autograd_f64(q, k, v, do, causal), 1e-12)


TILES = [config.BwdTiles(kv=T(16, 16, 4, 1), q=T(16, 16, 4, 1)),
         config.BwdTiles(kv=T(16, 32, 4, 1), q=T(32, 16, 4, 1))]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("tiles", TILES, ids=["16x16", "kv16x32_q32x16"])
def test_triton_backward_fp32_matches_autograd(tiles):
    for shape in SHAPES:
        q, k, v, causal = inputs(shape)
        do = torch.randn(q.shape)
        o, lse = forward_f64(q, k, v, causal)
        got = triton_bwd.backward(do, q, k, v, o.float(), lse.float(), causal, tiles=tiles)
        _rms_close(got, autograd_f64(q, k, v, do, causal), 2e-5)
        if shape["causal"] and shape["seq_q"] > shape["seq_k"]:  # rows that see no key get no gradient
            assert torch.all(got[0][:, :, : shape["seq_q"] - shape["seq_k"]] == 0)


def test_autograd_wrapper():
    q, k, v, causal = inputs(S(1, 4, 2, 21, 30, 32, 1))
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    out = flash_attention(*leaves, causal)
    do = torch.randn(out.shape)
    out.backward(do)
    torch.testing.assert_close(out.detach().double(), forward_f64(q, k, v, causal)[0], atol=2e-6, rtol=1e-5)
    _rms_close([t.grad for t in leaves], autograd_f64(q, k, v, do, causal), 2e-5)


def test_baselines_replay_one_graph_per_input_set():
    calls = []

    def forward(q, k, v, causal):
        calls.append(1)
        return dense_f64(q, k, v, causal).to(q.dtype)

    run = GradGraphs(forward)
    args = BWD.make_inputs(S(1, 2, 2, 6, 9, 16, 1), "fp16", CPU, seed=1)
    first = run(*args)
    second = run(*args)
    assert len(calls) == 1  # the backward replays; the forward ran once
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    other = BWD.make_inputs(S(1, 2, 2, 6, 9, 16, 1), "fp16", CPU, seed=2)
    run(*other)
    assert len(calls) == 2 and len(run.graphs) == 2
    del args, first, second
    gc.collect()
    assert len(run.graphs) == 1  # a graph goes with its inputs


def test_bad_input():
    do, q, k, v, o, lse, causal = BWD.make_inputs(S(1, 2, 2, 6, 9, 32, 0), "fp16", CPU, seed=0)
    fn = BWD.variant("triton").fn
    with pytest.raises(ValueError, match="lse must have shape"):
        fn(do, q, k, v, o, lse[:, :, :3].contiguous(), causal)
    with pytest.raises(TypeError, match="lse must be float32"):
        fn(do, q, k, v, o, lse.double(), causal)
    with pytest.raises(ValueError, match="do has shape"):
        fn(do[:, :, :3].contiguous(), q, k, v, o, lse, causal)
    with pytest.raises(TypeError, match="dtype"):
        fn(do, q, k, v, o.float(), lse, causal)
    with pytest.raises(ValueError, match="head_dim differs"):
        fn(do, q, k[..., :16].contiguous(), v[..., :16].contiguous(), o, lse, causal)
    for name in ("naive", "sdpa_math"):
        with pytest.raises(ValueError, match="multiple of kv_heads"):
            BWD.variant(name).fn(do, q, k[:, :1].expand(1, 3, 9, 32).contiguous(),
                                 v[:, :1].expand(1, 3, 9, 32).contiguous(), o, lse, causal)  # fmt: skip


def _rejected(fn, shapes):
    from gpubench.bench.measure.correctness import CorrectnessError, check_variant
    from gpubench.kernels.workload import Variant

    for shape in shapes:
        with pytest.raises(CorrectnessError):
            check_variant(BWD, Variant("wrong", "triton", fn), shape, "fp16", CPU)


@pytest.mark.slow
@pytest.mark.parametrize("edit", [
    ("dst = pt * (dpt - delta[None, :])", "dst = pt * dpt"),
    ("(dk * sm_scale).to(DK.dtype.element_ty)", "dk.to(DK.dtype.element_ty)"),
], ids=["no_delta", "dk_unscaled"])  # fmt: skip
def test_wrong_backward_kernels_are_caught(tmp_path, edit):
    m = mutant(SRC / "triton_bwd.py", [edit], tmp_path, f"attn_bwd_{edit[1][:4]}")
    _rejected(lambda *a: m.backward(*a), [S(2, 4, 2, 37, 37, 32, 1), S(1, 3, 3, 33, 50, 64, 0)])
