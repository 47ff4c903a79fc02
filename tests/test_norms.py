"""layernorm, layernorm_bwd and rmsnorm specifics: both Triton paths (on-chip and chunked) in the
interpreter, the backward and the autograd wrapper against float64 torch autograd, saved statistics,
rows with a large mean, wrong kernels rejected, bad inputs, and the CUDA C kernels run through the CPU
emulator of tests/test_softmax.py. The Triton kernels compiled for the GPU: tests/test_compile_gate.py."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")


import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from gpubench.bench.measure.correctness import CorrectnessError, check_variant  # noqa: E402
from gpubench.dtypes import kernel_suffix  # noqa: E402
from gpubench.kernels.fusion import fusion_bytes  # noqa: E402
from gpubench.kernels.layernorm import WORKLOAD as LN  # noqa: E402
from gpubench.kernels.layernorm import config as ln_config  # noqa: E402
from gpubench.kernels.layernorm import cupy_kernels as ln_cuda  # noqa: E402
from gpubench.kernels.layernorm import triton_kernels as ln_triton  # noqa: E402
from gpubench.kernels.layernorm.autograd import TritonLayerNorm, triton_layer_norm  # noqa: E402
from gpubench.kernels.layernorm.bwd import WORKLOAD as LN_BWD  # noqa: E402
from gpubench.kernels.rmsnorm import WORKLOAD as RMS  # noqa: E402
from gpubench.kernels.rmsnorm import config as rms_config  # noqa: E402
from gpubench.kernels.rmsnorm import cupy_kernels as rms_cuda  # noqa: E402
from gpubench.kernels.rmsnorm import triton_kernels as rms_triton  # noqa: E402
from gpubench.kernels.workload import (
    Variant,  # noqa: E402
    torch_dtype,  # noqa: E402
)
from tests.test_softmax import (  # noqa: E402
    CXX,
    HAVE_NVRTC,
    EmulatedCuda,
    needs_cxx,
)

CPU = torch.device("cpu")
DTYPES = ["fp32", "fp16", "bf16"]
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

# Configs forcing each Triton path at small sizes: everything on chip, or 64-column chunks.
ON_CHIP = ln_config.NormConfig(
    **{**ln_config.CPU.__dict__, "single_pass_max_cols": 1 << 16, "chunk": 64}
    | {"bwd_single_pass_max_cols": 1 << 16, "bwd_chunk": 64}
)
CHUNKED = ln_config.NormConfig(
    **ON_CHIP.__dict__ | {"single_pass_max_cols": 0, "bwd_single_pass_max_cols": 0}
)
# Backward with many programs (more than some row counts) and a tiny reduction tile.
MANY_PROGRAMS = ln_config.NormConfig(
    **{**CHUNKED.__dict__, "bwd_cpu_programs": 13, "reduce_rows": 4, "reduce_cols": 16}
)
RAGGED = [(1, 1), (2, 7), (13, 33), (5, 100), (3, 257), (1, 1000)]
PATHS = pytest.mark.parametrize("cfg", [ON_CHIP, CHUNKED], ids=["on_chip", "chunked"])


def _shape(rows, cols):
    return {"rows": rows, "cols": cols}


# ---- layernorm forward ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@PATHS
def test_layernorm_both_paths_on_ragged_shapes(cfg, dtype):
    for rows, cols in RAGGED:
        x, w, b, eps = LN.make_inputs(_shape(rows, cols), dtype, CPU, seed=rows + cols)
        LN.check(ln_triton.layernorm_with_config(x, w, b, eps, cfg), LN.reference(x, w, b, eps), dtype)


def test_default_cpu_config_takes_both_paths_on_test_shapes():
    blocks = {min(1 << (s["cols"] - 1).bit_length(), 1 << 30) for s in LN.shapes["test"] if s["cols"]}
    assert min(blocks) <= ln_config.CPU.single_pass_max_cols < max(blocks)


@PATHS
def test_layernorm_saved_statistics(cfg):
    x, w, b, eps = LN.make_inputs(_shape(7, 300), "bf16", CPU, seed=2)
    y, mean, rstd = ln_triton.layernorm_with_config(x, w, b, eps, cfg, save_stats=True)
    x64 = x.double()
    assert mean.dtype == rstd.dtype == torch.float32 and mean.shape == rstd.shape == (7,)
    torch.testing.assert_close(mean.double(), x64.mean(-1), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(rstd.double(), (x64.var(-1, unbiased=False) + eps).rsqrt(), atol=0, rtol=1e-5)
    LN.check(y, LN.reference(x, w, b, eps), "bf16")


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@PATHS
def test_rows_with_a_large_mean(cfg, dtype):
    """Rows of mean 1e3 and std 1: the two-pass / Welford statistics keep rstd to fp32 accuracy, where the
    one-pass E[x^2] - E[x]^2 in fp32 loses it (shown below on the same data). The outputs then carry only
    the rounding of a mean near 1e3 (torch's own fp32 layer_norm has the same), hence the looser atol."""
    g = torch.Generator().manual_seed(5)
    x = (1e3 + torch.randn(4, 777, generator=g)).to(torch_dtype(dtype))
    _, w, b, eps = LN.make_inputs(_shape(4, 777), dtype, CPU, seed=5)
    y, mean, rstd = ln_triton.layernorm_with_config(x, w, b, eps, cfg, save_stats=True)
    x64 = x.double()
    true_rstd = (x64.var(-1, unbiased=False) + eps).rsqrt()
    torch.testing.assert_close(rstd.double(), true_rstd, atol=0, rtol=1e-5)
    xf = x.float()
    naive = (xf.square().mean(-1) - xf.mean(-1).square() + eps).rsqrt()
    assert float(((naive.double() - true_rstd) / true_rstd).abs().max()) > 1e-3
    torch.testing.assert_close(y.double(), LN.reference(x, w, b, eps).double(), atol=2e-3, rtol=3e-2)
    xr = (1e3 + torch.randn(4, 777, generator=g)).to(torch_dtype(dtype))
    RMS.check(rms_triton.rmsnorm_with_config(xr, w, 1e-6, cfg), RMS.reference(xr, w, 1e-6), dtype)


def test_eps_is_used():
    x = torch.full((2, 16), 3.0)  # zero variance: y = b exactly, whatever eps; rstd = eps ** -0.5
    w, b = torch.ones(16), torch.linspace(-1, 1, 16)
    y, mean, rstd = ln_triton.layernorm_forward(x, w, b, 0.25)
    torch.testing.assert_close(y, b.expand(2, 16))
    torch.testing.assert_close(rstd, torch.full((2,), 2.0))
    x = torch.randn(3, 8)
    LN.check(ln_triton.layernorm(x, w[:8], b[:8], 0.5), LN.reference(x, w[:8], b[:8], 0.5), "fp32")


def test_unbiased_variance_is_rejected():
    """A LayerNorm using the unbiased variance (N - 1) instead of torch's biased one must fail."""

    def unbiased(x, weight, bias, eps):
        xf = x.float()
        var = xf.var(dim=-1, unbiased=True, keepdim=True)
        return ((xf - xf.mean(-1, keepdim=True)) * (var + eps).rsqrt() * weight + bias).to(x.dtype)

    for shape in (_shape(70, 100), _shape(4, 4097)):
        with pytest.raises(CorrectnessError, match="differs from the reference"):
            check_variant(LN, Variant("unbiased", "torch", unbiased), shape, "fp32", CPU)
    # while the same code with the biased variance passes
    biased = lambda x, w, b, eps: F.layer_norm(x.float(), (x.shape[1],), w, b, eps).to(x.dtype)  # noqa: E731
    check_variant(LN, Variant("biased", "torch", biased), _shape(70, 100), "fp32", CPU)


def test_layernorm_bytes_flops_by_hand():
    s = _shape(4096, 4096)
    n = 4096 * 4096
    assert LN.bytes(s, "fp32") == 2 * n * 4 + 2 * 4096 * 4
    assert LN.bytes(s, "bf16") == 2 * n * 2 + 2 * 4096 * 2
    assert LN.flops(s) == 7 * n + 3 * 4096
    assert RMS.bytes(s, "fp16") == 2 * n * 2 + 4096 * 2
    assert RMS.flops(s) == 4 * n + 2 * 4096
    assert LN_BWD.bytes(s, "bf16") == 3 * n * 2 + 3 * 4096 * 2 + 2 * 4096 * 4
    # torch's form is two kernels over dy and x (dx, then dw and db): its records count the second read
    assert LN_BWD.variants["torch_bwd"].bytes_of(LN_BWD, s, "bf16") == LN_BWD.bytes(s, "bf16") + 2 * n * 2
    for w, name in ((LN, "layernorm"), (RMS, "rmsnorm")):
        for shape in w.shapes["bench"]:
            for dt in w.dtypes:
                assert w.bytes(shape, dt) == fusion_bytes(name, shape, dt)["fused_bytes"]
        assert w.details(s, "fp32")["fusion"]["fused_bytes"] == w.bytes(s, "fp32")
        assert all(q in w.shapes["bench"] for q in w.shapes["quick"])
    assert all(q in LN_BWD.shapes["bench"] for q in LN_BWD.shapes["quick"])


# ---- layernorm backward and autograd -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "cfg", [ON_CHIP, CHUNKED, MANY_PROGRAMS], ids=["on_chip", "chunked", "many_programs"]
)
def test_backward_against_float64_autograd(cfg, dtype):
    for rows, cols in RAGGED + [(70, 100), (12, 5)]:
        dy, x, w, b, mean, rstd, eps = LN_BWD.make_inputs(
            _shape(rows, cols), dtype, CPU, seed=rows * 3 + cols
        )
        got = ln_triton.layernorm_backward_with_config(dy, x, w, mean, rstd, cfg)
        LN_BWD.check(got, LN_BWD.reference(dy, x, w, b, mean, rstd, eps), dtype)


def test_backward_with_forward_statistics_and_row_groups():
    """The statistics the Triton forward saves feed the backward; programs own ragged row groups."""
    x, w, b, eps = LN.make_inputs(_shape(70, 300), "fp32", CPU, seed=8)
    dy = torch.randn(70, 300, generator=torch.Generator().manual_seed(9))
    _, mean, rstd = ln_triton.layernorm_forward(x, w, b, eps)
    assert ln_config.CPU.bwd_cpu_programs == 8  # 70 rows: 8 programs of 9 rows, the last one of 7
    dx, dw, db = ln_triton.layernorm_backward(dy, x, w, mean, rstd)
    LN_BWD.check((dx, dw, db), LN_BWD.reference(dy, x, w, b, mean, rstd, eps), "fp32")
    assert dx.dtype == x.dtype and dw.dtype == db.dtype == w.dtype


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_autograd_wrapper_matches_torch(dtype):
    g = torch.Generator().manual_seed(11)
    t = torch_dtype(dtype)
    x = torch.randn(2, 5, 300, generator=g).to(t).requires_grad_()
    w = (1 + 0.5 * torch.randn(300, generator=g)).to(t).requires_grad_()
    b = (0.5 * torch.randn(300, generator=g)).to(t).requires_grad_()
    dy = torch.randn(2, 5, 300, generator=g).to(t)
    y = TritonLayerNorm.apply(x, w, b, 1e-5)
    assert y.shape == x.shape and y.dtype == t
    y.backward(dy)
    x64, w64, b64 = (v.detach().double().requires_grad_() for v in (x, w, b))
    y64 = F.layer_norm(x64, (300,), w64, b64, 1e-5)
    y64.backward(dy.double())
    LN.check(y.detach().reshape(10, 300), y64.detach().to(t).reshape(10, 300), dtype)
    LN_BWD.check(
        (x.grad.reshape(10, 300), w.grad, b.grad),
        (x64.grad.to(t).reshape(10, 300), w64.grad.to(t), b64.grad.to(t)),
        dtype,
    )
    # the functional form is the same thing
    torch.testing.assert_close(triton_layer_norm(x, w, b, 1e-5), y)


def test_wrong_backward_is_rejected():
    """A backward that forgets the mean(g * xhat) term of dx must fail the check."""

    def wrong(dy, x, weight, bias, mean, rstd, eps):
        dx, dw, db = ln_triton.layernorm_backward(dy, x, weight, mean, rstd)
        xf, g = x.float(), weight.float() * dy.float()
        xhat = (xf - mean) * rstd
        c1 = (g * xhat).mean(-1, keepdim=True)
        return (dx.float() + xhat * c1 * rstd).to(x.dtype), dw, db

    with pytest.raises(CorrectnessError):
        check_variant(LN_BWD, Variant("wrong", "triton", wrong), _shape(33, 1000), "fp32", CPU)


# ---- rmsnorm ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@PATHS
def test_rmsnorm_both_paths_on_ragged_shapes(cfg, dtype):
    for rows, cols in RAGGED:
        x, w, eps = RMS.make_inputs(_shape(rows, cols), dtype, CPU, seed=rows + cols)
        RMS.check(rms_triton.rmsnorm_with_config(x, w, eps, cfg), RMS.reference(x, w, eps), dtype)


def test_rmsnorm_by_hand_and_torch_fallback(monkeypatch):
    x = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    w = torch.tensor([1.0, 2.0])
    expected = torch.tensor([[3 / 12.5**0.5, 8 / 12.5**0.5], [1.0, 2.0]])
    torch.testing.assert_close(rms_triton.rmsnorm(x, w, 1e-30), expected)
    torch.testing.assert_close(RMS.reference(x, w, 1e-30), expected)
    torch.testing.assert_close(RMS.variant("torch").fn(x, w, 1e-30), expected)
    monkeypatch.delattr(F, "rms_norm", raising=False)  # torch < 2.4: the manual form
    torch.testing.assert_close(RMS.variant("torch").fn(x, w, 1e-30), expected)


def test_wrong_rmsnorm_is_rejected():
    """Dividing by the root of the sum of squares (not the mean) must fail the check."""

    def rss(x, weight, eps):
        return (x.float() * (x.float().square().sum(-1, keepdim=True) + eps).rsqrt() * weight).to(x.dtype)

    with pytest.raises(CorrectnessError):
        check_variant(RMS, Variant("rss", "torch", rss), _shape(33, 1000), "fp32", CPU)


# ---- bad input ----------------------------------------------------------------------------------------


def _ln_args():
    x = torch.randn(4, 8)
    return x, torch.ones(8), torch.zeros(8), 1e-5


@pytest.mark.parametrize(
    "fn",
    [ln_triton.layernorm, LN.variant("unfused").fn, lambda x, w, b, e: rms_triton.rmsnorm(x, w, e)],
    ids=["layernorm", "layernorm_unfused", "rmsnorm"],
)
def test_bad_inputs_get_clear_errors(fn):
    x, w, b, eps = _ln_args()
    with pytest.raises(ValueError, match=r"weight must have shape \(8,\)"):
        fn(x, torch.ones(7), b, eps)
    with pytest.raises(ValueError, match=r"weight must have shape \(8,\)"):
        fn(x, torch.ones(1, 8), b, eps)
    with pytest.raises(ValueError, match="eps must be a finite float > 0"):
        fn(x, w, b, 0.0)
    with pytest.raises(ValueError, match="eps must be a finite float > 0"):
        fn(x, w, b, -1e-5)
    with pytest.raises(ValueError, match="eps must be a finite float > 0"):
        fn(x, w, b, float("nan"))
    with pytest.raises(TypeError, match="eps must be a float"):
        fn(x, w, b, "1e-5")
    with pytest.raises(TypeError, match="eps must be a float"):
        fn(x, w, b, True)
    with pytest.raises(TypeError, match="dtype"):
        fn(torch.arange(32).reshape(4, 8), w, b, eps)
    with pytest.raises(TypeError, match="weight has dtype"):
        fn(x, w.half(), b, eps)
    with pytest.raises(TypeError, match="weight has dtype"):
        fn(x.bfloat16(), w, b.bfloat16(), eps)
    with pytest.raises(ValueError, match="2-D"):
        fn(torch.randn(8), w, b, eps)
    with pytest.raises(ValueError, match="contiguous"):
        fn(torch.randn(8, 4).t(), w, b, eps)
    with pytest.raises(TypeError, match="torch.Tensor"):
        fn(x, [1.0] * 8, b, eps)


def test_layernorm_bias_and_backward_bad_inputs():
    x, w, b, eps = _ln_args()
    with pytest.raises(ValueError, match=r"bias must have shape \(8,\)"):
        ln_triton.layernorm(x, w, torch.zeros(9), eps)
    with pytest.raises(TypeError, match="bias has dtype"):
        ln_triton.layernorm(x, w, b.double(), eps)
    _, mean, rstd = ln_triton.layernorm_forward(x, w, b, eps)
    dy = torch.randn(4, 8)
    with pytest.raises(ValueError, match="dy has shape"):
        ln_triton.layernorm_backward(torch.randn(4, 9), x, w, mean, rstd)
    with pytest.raises(TypeError, match="dy has dtype"):
        ln_triton.layernorm_backward(dy.half(), x, w, mean, rstd)
    with pytest.raises(TypeError, match="mean has dtype"):
        ln_triton.layernorm_backward(dy, x, w, mean.double(), rstd)
    with pytest.raises(ValueError, match="rstd must have shape"):
        ln_triton.layernorm_backward(dy, x, w, mean, rstd[:3])
    with pytest.raises(ValueError, match="weight must have shape"):
        ln_triton.layernorm_backward(dy, x, w[:4], mean, rstd)
    for fn in (ln_cuda.layernorm, lambda x, w, b, e: rms_cuda.rmsnorm(x, w, e)):
        with pytest.raises(ValueError, match="needs a cuda tensor"):
            fn(x, w, b, eps)


def test_empty_inputs():
    y, mean, rstd = ln_triton.layernorm_forward(torch.empty(3, 0), torch.empty(0), torch.empty(0))
    assert y.shape == (3, 0) and torch.isnan(mean).all() and torch.isnan(rstd).all()
    w, b = torch.ones(5), torch.zeros(5)
    assert ln_triton.layernorm(torch.empty(0, 5), w, b).shape == (0, 5)
    assert rms_triton.rmsnorm(torch.empty(0, 5), w).shape == (0, 5)
    dx, dw, db = ln_triton.layernorm_backward(
        torch.empty(0, 5), torch.empty(0, 5), w, torch.empty(0), torch.empty(0)
    )
    assert dx.shape == (0, 5) and torch.equal(dw, torch.zeros(5)) and torch.equal(db, torch.zeros(5))


# ---- compiled code: NVRTC plans (the Triton kernels: tests/test_compile_gate.py) ----------------------

NORM_COLS = [1, 7, 1000, 1024, 1025, 2048, 2049, 4096, 4097, 8192, 8193, 70000]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_NVRTC, reason="NVRTC not installed (pip install nvidia-cuda-nvrtc)")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_nvrtc_has_every_planned_kernel_without_spills(arch):
    from gpubench.bench.cpucheck import nvrtc

    for module, prefix, configs in (
        (ln_cuda, "layernorm", [ln_config._DEFAULT, *ln_config._BY_MAJOR.values()]),
        (rms_cuda, "rmsnorm", [rms_config._DEFAULT, *rms_config._BY_MAJOR.values()]),
    ):
        compiled = {k.name: k for k in nvrtc.compile_file(module.SOURCE, arch).kernels}
        names = {ln_cuda.plan(prefix, c, cfg)[0] for c in NORM_COLS for cfg in configs}
        assert any("stream" in n for n in names) and any("block" in n for n in names)
        for name in names:
            for suffix in ("fp32", "fp16", "bf16"):
                k = compiled[f"{name}_{suffix}"]
                assert k.spill_stores == 0 and k.spill_loads == 0 and 0 < k.registers <= 255, k


# ---- CUDA C on the CPU (emulator from tests/test_softmax.py) ------------------------------------------


def _emu_kernels(prefix, args_block, args_stream):
    names = {}
    for suffix in ("fp32", "fp16", "bf16"):
        for threads, items in ln_config.CUDA_BLOCK_MENU:
            names[f"{prefix}_block_t{threads}_i{items}_{suffix}"] = args_block
        names[f"{prefix}_stream_t{ln_config.CPU.cuda_stream_threads}_{suffix}"] = args_stream
    return names


@pytest.fixture(scope="module")
def norm_emus(tmp_path_factory):
    if CXX is None:
        pytest.skip("needs g++ (C++20) to build the CUDA host emulation")
    ln = EmulatedCuda(
        ln_cuda.SOURCE,
        _emu_kernels(
            "layernorm",
            "x.data(), w.data(), b.data(), y.data(), (int)cols, eps",
            "x.data(), w.data(), b.data(), y.data(), cols, eps",
        ),
        tmp_path_factory.mktemp("layernorm_emu"),
    )
    rms = EmulatedCuda(
        rms_cuda.SOURCE,
        _emu_kernels(
            "rmsnorm",
            "x.data(), w.data(), y.data(), (int)cols, eps",
            "x.data(), w.data(), y.data(), cols, eps",
        ),
        tmp_path_factory.mktemp("rmsnorm_emu"),
    )
    return {"layernorm": ln, "rmsnorm": rms}


def _emu_run(emu, prefix, x, params, eps, name=None, threads=None):
    if name is None:
        name, threads, _ = ln_cuda.plan(prefix, x.shape[1], ln_config._BY_MAJOR[9])
    return emu.run(f"{name}_{kernel_suffix(x.dtype)}", x, x.shape[0], threads, params, eps).to(x.dtype)


@pytest.mark.slow
@needs_cxx
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_norm_kernels_emulated_on_planned_shapes(norm_emus, dtype):
    # block kernels t128..t512_i16 (1 .. 5000 columns), the streaming kernels (9000)
    for rows, cols in [(3, 1), (4, 7), (3, 1000), (2, 1025), (2, 2500), (1, 5000), (2, 9000)]:
        x, w, b, eps = LN.make_inputs(_shape(rows, cols), dtype, CPU, seed=cols)
        LN.check(
            _emu_run(norm_emus["layernorm"], "layernorm", x, (w, b), eps), LN.reference(x, w, b, eps), dtype
        )
        x, w, eps = RMS.make_inputs(_shape(rows, cols), dtype, CPU, seed=cols)
        RMS.check(_emu_run(norm_emus["rmsnorm"], "rmsnorm", x, (w,), eps), RMS.reference(x, w, eps), dtype)


@pytest.mark.slow
@needs_cxx
def test_cuda_norm_stream_kernels_emulated_on_short_rows_and_large_means(norm_emus):
    """Streaming kernels with fewer columns than threads (idle threads' empty Welford states) and rows
    with mean 1e3 (Welford keeps the variance)."""
    for cols in (1, 7, 1000, 4099):
        x0, w, b, eps = LN.make_inputs(_shape(2, cols), "fp32", CPU, seed=cols)
        for offset in (0.0, 1e3):
            x = (x0 + offset).contiguous()
            for name, threads in (("layernorm_stream_t1024", 1024), ("layernorm_block_t512_i16", 512)):
                got = _emu_run(norm_emus["layernorm"], "layernorm", x, (w, b), eps, name, threads)
                ref = LN.reference(x, w, b, eps)
                if offset == 0:
                    LN.check(got, ref, "fp32")
                else:  # the rounding of a mean near 1e3 (as torch's fp32 layer_norm); a lost variance is 1e-2
                    torch.testing.assert_close(got, ref, atol=2e-3, rtol=3e-2)
        x, w, eps = RMS.make_inputs(_shape(2, cols), "fp32", CPU, seed=cols)
        got = _emu_run(norm_emus["rmsnorm"], "rmsnorm", x, (w,), eps, "rmsnorm_stream_t1024", 1024)
        RMS.check(got, RMS.reference(x, w, eps), "fp32")
