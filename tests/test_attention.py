"""attention (forward) specifics: the float64 reference and the bottom-right mask against independent
forms (dense float64 formula, torch SDPA's math in float64), FLOPs and bytes against brute-force counts,
the Triton forward (several tile shapes), the TMA form and flash-decoding (forced splits) in the
interpreter in fp32 (tight) and with their LSE, rows that see no key, NaN and huge magnitudes, bad input,
skip reasons, and deliberately wrong kernels (no rescale of the accumulator, the mask off by one, a
split combine that ignores the LSE) that the workload's check must reject. The generic interpreter test
(tests/test_interpreter.py) runs every variant on the "test" shapes in fp16 and bf16."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import importlib.util  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from gpubench import kernels  # noqa: E402
from gpubench.bench.measure.correctness import CorrectnessError, check_variant  # noqa: E402
from gpubench.kernels.attention import WORKLOAD as ATT  # noqa: E402
from gpubench.kernels.attention import baselines, config, cupy_kernels, triton_decode, triton_fwd  # noqa: E402
from gpubench.kernels.attention import shape_of as S  # noqa: E402
from gpubench.kernels.attention.reference import forward_f64, visible  # noqa: E402
from gpubench.kernels.workload import Variant, torch_dtype  # noqa: E402

CPU = torch.device("cpu")
SRC = Path(kernels.__file__).parent / "attention"
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
T = config.Tile


def dense_f64(q, k, v, causal):
    """Textbook attention in float64 with K/V expanded to the query heads: an independent form."""
    group = q.shape[1] // k.shape[1]
    q, k, v = (t.to(torch.float64) for t in (q, k, v))
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    sq, sk = q.shape[2], k.shape[2]
    if causal:
        i = torch.arange(sq)[:, None]
        j = torch.arange(sk)[None, :]
        s = s.masked_fill(j > i + sk - sq, -math.inf)
    p = torch.softmax(s, dim=-1).nan_to_num(0.0)  # rows with no key: 0/0 -> 0
    return p @ v


def inputs(shape, dtype="fp32", seed=0):
    q, k, v, causal = ATT.make_inputs(shape, "fp16", CPU, seed)  # fp16-representable values
    dt = torch_dtype(dtype)
    return q.to(dt), k.to(dt), v.to(dt), causal


def assert_lse_close(lse, ref, atol=1e-5):
    assert torch.equal(torch.isinf(lse), torch.isinf(ref)), "rows that see no key must have LSE +inf"
    finite = torch.isfinite(ref)
    torch.testing.assert_close(lse[finite].double(), ref[finite], atol=atol, rtol=1e-5)


# ---- the reference and the mask --------------------------------------------------------------------------

REF_SHAPES = [
    S(2, 4, 2, 7, 7, 16, 1), S(1, 2, 1, 9, 4, 8, 1), S(1, 3, 3, 4, 11, 8, 1), S(2, 2, 2, 5, 6, 8, 0),
    S(1, 4, 1, 1, 9, 8, 1),
]  # fmt: skip


@pytest.mark.parametrize("shape", REF_SHAPES, ids=lambda s: f"{s['seq_q']}x{s['seq_k']}c{s['causal']}")
def test_reference_matches_the_dense_formula(shape):
    q, k, v, causal = inputs(shape)
    o, lse = forward_f64(q, k, v, causal)
    torch.testing.assert_close(o, dense_f64(q, k, v, causal), atol=1e-12, rtol=1e-12)
    qd, kd = q.double(), k.double().repeat_interleave(q.shape[1] // k.shape[1], dim=1)
    sc = qd @ kd.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if causal:
        sc = sc.masked_fill(~visible(q.shape[2], k.shape[2], CPU), -math.inf)
    expect = torch.logsumexp(sc, dim=-1)
    assert_lse_close(lse, torch.where(expect == -math.inf, math.inf, expect), atol=1e-12)


def test_bottom_right_mask_and_sdpa_conventions():
    assert visible(3, 5, CPU).int().tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]
    assert visible(4, 2, CPU).int().tolist() == [[0, 0], [0, 0], [1, 0], [1, 1]]
    # Square: equal to SDPA's is_causal (top-left); otherwise SDPA with the explicit mask, in float64.
    for shape in (S(1, 2, 2, 6, 6, 8, 1), S(1, 2, 2, 3, 8, 8, 1)):
        q, k, v, _ = inputs(shape)
        q, k, v = q.double(), k.double(), v.double()
        sq, sk = shape["seq_q"], shape["seq_k"]
        if sq == sk:
            want = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            want = F.scaled_dot_product_attention(q, k, v, attn_mask=visible(sq, sk, CPU))
        torch.testing.assert_close(forward_f64(q, k, v, True)[0], want, atol=1e-12, rtol=1e-12)


def test_flops_and_bytes_against_brute_force_counts():
    for shape in [*ATT.shapes["test"], S(1, 1, 1, 9, 4, 8, 1), S(1, 1, 1, 0, 4, 8, 1)]:
        pairs = int(visible(shape["seq_q"], shape["seq_k"], CPU).sum()) if shape["causal"] else (
            shape["seq_q"] * shape["seq_k"])  # fmt: skip
        assert ATT.flops(shape) == 4 * shape["batch"] * shape["heads"] * shape["head_dim"] * pairs
        b, h, kvh, sq, sk, d = (shape[a] for a in ATT.axes[:6])
        q_o = 2 * b * h * sq * d * 2  # Q read, O written (fp16)
        k_v = 2 * b * kvh * sk * d * 2  # K and V read once per kv head
        assert ATT.bytes(shape, "fp16") == q_o + k_v
        extra = ATT.details(shape, "fp16")["attention"]
        assert extra["materialised_bytes"] == q_o + k_v + 2 * b * h * sq * sk * 2
        assert extra["pairs"] == pairs
        # the naive form's records count S as its own traffic; every other variant the compulsory bytes
        for name, v in ATT.variants.items():
            want = extra["materialised_bytes"] if name == "naive" else q_o + k_v
            assert v.bytes_of(ATT, shape, "fp16") == want, name
    causal = S(1, 1, 1, 1024, 1024, 64, 1)
    assert ATT.flops(causal) == 4 * 64 * 1024 * 1025 // 2  # about half of the non-causal count


def test_the_reference_computes_exactly_the_counted_pairs():
    """torch's FlopCounterMode over the float64 reference (which computes only the scores a query sees)
    equals the declared count: an independent check of the pair counting, forward and backward."""
    from gpubench.bench.measure.flopcheck import counted_call
    from gpubench.kernels.attention.bwd import WORKLOAD as BWD

    for w in (ATT, BWD):
        for shape in w.shapes["test"]:
            _, counted = counted_call(w.reference, *w.make_inputs(shape, "fp16", CPU, 0))
            assert counted == w.flops(shape), (w.name, shape)


def test_shape_sets_are_valid_and_cover_the_report():
    for name, shapes in ATT.shapes.items():
        for s in shapes:
            assert s["heads"] % s["kv_heads"] == 0 and s["causal"] in (0, 1), (name, s)
    bench = ATT.shapes["bench"]
    prefill = {(s["seq_q"], s["causal"]) for s in bench if s["seq_q"] > 16 and s["head_dim"] == 128}
    assert prefill == {(n, c) for n in (1024, 2048, 4096, 8192, 16384) for c in (0, 1)}
    contexts = {s["seq_k"] for s in bench if s["seq_q"] <= 16}
    assert min(contexts) == 8192 and max(contexts) == 131072 and 32768 in contexts
    for s in ATT.shapes["quick"]:
        assert s in bench


# ---- the Triton forward and decode in the interpreter ---------------------------------------------------

FWD_SHAPES = [s for s in ATT.shapes["test"] if s["seq_q"] > 1][:5]
TILES = [T(32, 16, 4, 1), T(16, 32, 4, 1)]  # the default 16 x 16 runs in every other test


@pytest.mark.slow
@pytest.mark.parametrize("tile", TILES, ids=lambda t: f"{t.block_m}x{t.block_n}")
def test_triton_forward_fp32_and_lse_with_several_tiles(tile):
    for shape in FWD_SHAPES:
        q, k, v, causal = inputs(shape)
        o, lse = triton_fwd.forward(q, k, v, causal, tiles=(tile,))
        o64, lse64 = forward_f64(q, k, v, causal)
        torch.testing.assert_close(o.double(), o64, atol=2e-6, rtol=1e-5)
        assert_lse_close(lse, lse64)


@pytest.mark.slow
def test_triton_tma_forward_fp32():
    for shape in FWD_SHAPES[:3]:
        q, k, v, causal = inputs(shape)
        o, lse = triton_fwd.forward(q, k, v, causal, tma=True)
        o64, lse64 = forward_f64(q, k, v, causal)
        torch.testing.assert_close(o.double(), o64, atol=2e-6, rtol=1e-5)
        assert_lse_close(lse, lse64)


DECODE = [S(2, 8, 2, 1, 300, 64, 1), S(1, 4, 1, 5, 200, 32, 1), S(1, 2, 2, 16, 77, 32, 1),
          S(1, 4, 4, 3, 50, 32, 0), S(1, 2, 1, 9, 5, 32, 1)]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("splits", [1, 3, None], ids=["one_split", "three_splits", "planned"])
def test_decode_fp32_with_forced_splits(splits):
    for shape in DECODE:
        q, k, v, causal = inputs(shape)
        o, lse = triton_decode.decode(q, k, v, causal, splits=splits)
        o64, lse64 = forward_f64(q, k, v, causal)
        torch.testing.assert_close(o.double(), o64, atol=2e-6, rtol=1e-5)
        assert_lse_close(lse, lse64)


def test_decode_plan_splits_the_keys_to_fill_the_gpu():
    cfg = config.for_arch(9).decode
    p = triton_decode.plan(4, 8, 4, 131072, cfg, sms=132)  # batch 4, 8 kv heads, 4 query heads each
    assert p["BLOCK_M"] == 16 and p["chunk"] % cfg.block_n == 0
    assert p["splits"] * p["chunk"] >= 131072 > (p["splits"] - 1) * p["chunk"]
    assert 4 * 8 * p["splits"] >= 132 * cfg.programs_per_sm
    short = triton_decode.plan(4, 8, 4, 300, cfg, sms=132)
    assert short["splits"] == 1 and short["chunk"] >= 300  # no split below min_chunk keys
    assert triton_decode.plan(4, 8, 4, 600, cfg, sms=132)["splits"] == 2


def test_rows_that_see_no_key_are_exact_zeros_everywhere():
    shape = S(1, 2, 1, 9, 5, 32, 1)  # rows 0..3 see no key
    q, k, v, causal = inputs(shape, "fp16")
    for fn in (triton_fwd.flash_attention, triton_decode.flash_decode, baselines.naive,
               baselines.variant_fn("math")):  # fmt: skip
        o = fn(q, k, v, causal)
        assert torch.all(o[:, :, :4] == 0) and torch.isfinite(o).all(), fn.__name__
        assert torch.all(o[:, :, 4:].abs().sum(-1) > 0), fn.__name__
    o, lse = triton_fwd.forward(q, k, v, causal)
    assert torch.all(torch.isposinf(lse[:, :, :4])) and torch.isfinite(lse[:, :, 4:]).all()


def test_empty_sizes():
    q = torch.randn(1, 2, 0, 32, dtype=torch.float16)
    k = torch.randn(1, 1, 5, 32, dtype=torch.float16)
    o, lse = triton_fwd.forward(q, k, k, True)
    assert o.shape == q.shape and lse.shape == (1, 2, 0)
    q = torch.randn(1, 2, 3, 32, dtype=torch.float16)
    k = torch.randn(1, 1, 0, 32, dtype=torch.float16)  # no keys at all: zeros, LSE +inf
    for fn in (triton_fwd.forward, triton_decode.decode):
        o, lse = fn(q, k, k, False)
        assert torch.all(o == 0) and torch.all(torch.isposinf(lse))
    assert torch.all(baselines.naive(q, k, k, False) == 0)


def _special(kind, dtype):
    shape = S(1, 2, 1, 5, 40, 32, 1)
    q, k, v, causal = ATT.make_inputs(shape, dtype, CPU, seed=3)
    if kind == "huge":  # scores of several thousand: exp overflows unless the maximum is subtracted
        q = (q.float() * 60).to(q.dtype)
    elif kind == "nan_query":
        q[0, 1, 2, 5] = math.nan  # that row only
    else:  # a NaN key: every row that sees key 36 (rows 1..4 of each head), row 0 stays finite
        k[0, 0, 36, 0] = math.nan
    return q, k, v, causal


# naive rounds S to the storage dtype (|S| ~ 2000 in fp16 is off by up to 1: exp(S) by e), and SDPA's
# math backend applies a boolean mask by adding -inf, so a NaN score at a masked key still gives NaN:
# both are what those forms do, not what the kernels here must match.
SPECIAL = [(v, kind) for kind in ("huge", "nan_query", "nan_key")
           for v in ("triton", "triton_tma", "triton_decode", "naive", "sdpa_math")
           if (v, kind) not in {("naive", "huge"), ("sdpa_math", "nan_key")}]  # fmt: skip


@pytest.mark.parametrize("vname,kind", SPECIAL)
def test_nan_and_huge_magnitudes(vname, kind):
    q, k, v, causal = _special(kind, "fp16")
    expected = ATT.reference(q, k, v, causal)
    if kind != "huge":
        assert torch.isnan(expected).any() and torch.isfinite(expected).any()
    ATT.check(ATT.variant(vname).fn(q, k, v, causal), expected, "fp16")  # NaN where the reference has NaN


# ---- bad input and skip reasons ------------------------------------------------------------------------

_FNS = {name: v.fn for name, v in ATT.variants.items() if v.backend != "cupy"}


def _t(*shape, dtype=torch.float16):
    return torch.randn(*shape).to(dtype)


BAD = [
    ((_t(1, 2, 4, 32), _t(1, 2, 4, 64), _t(1, 2, 4, 64), False), ValueError, "head_dim differs"),
    ((_t(1, 3, 4, 32), _t(1, 2, 4, 32), _t(1, 2, 4, 32), False), ValueError, "multiple of kv_heads"),
    ((_t(1, 2, 4, 32), _t(1, 2, 4, 32), _t(1, 2, 5, 32), False), ValueError, "same shape"),
    ((_t(1, 2, 4, 32), _t(2, 2, 4, 32), _t(2, 2, 4, 32), False), ValueError, "batch differs"),
    ((_t(2, 4, 32), _t(2, 4, 32), _t(2, 4, 32), False), ValueError, "must be 4-D"),
    ((_t(1, 2, 4, 32), _t(1, 2, 4, 32, dtype=torch.bfloat16), _t(1, 2, 4, 32), False), TypeError, "dtype"),
    ((_t(1, 2, 4, 32), _t(1, 2, 4, 32), _t(1, 2, 4, 32), 2), TypeError, "causal must be a bool"),
    ((_t(1, 2, 32, 4).transpose(2, 3), _t(1, 2, 4, 32), _t(1, 2, 4, 32), False), ValueError, "contiguous"),
    ((_t(1, 2, 4, 32, dtype=torch.int32), _t(1, 2, 4, 32), _t(1, 2, 4, 32), False), TypeError, "dtype"),
]


@pytest.mark.parametrize("vname", list(_FNS))
def test_every_variant_refuses_bad_input(vname):
    for args, exc, match in BAD:
        with pytest.raises(exc, match=match):
            _FNS[vname](*args)


def test_unsupported_head_dims_and_cpu_tensors_to_cuda():
    q = _t(1, 2, 4, 48)
    with pytest.raises(ValueError, match="head_dim 48"):
        triton_fwd.forward(q, q, q, False)
    shape = S(1, 2, 2, 4, 4, 48, 0)
    for vname in ("triton", "triton_tma", "triton_decode"):
        assert "head_dim 48" in ATT.variant(vname).skip_reason(CPU, shape, "fp16")
    gpu = torch.device("cuda")
    from gpubench.kernels.attention.support import cuda_supported

    assert "head_dim 256 has no CUDA instantiation" in cuda_supported(gpu, S(1, 2, 2, 4, 4, 256, 0), "fp16")
    with pytest.raises(ValueError, match="needs a cuda tensor"):
        cupy_kernels.attention(_t(1, 2, 4, 32), _t(1, 2, 4, 32), _t(1, 2, 4, 32), False)
    with pytest.raises(ValueError, match="seq_q <= 16"):
        triton_decode.decode(_t(1, 2, 17, 32), _t(1, 2, 4, 32), _t(1, 2, 4, 32), False)


def test_skip_reasons_name_the_cause():
    from gpubench.kernels.attention.support import CUDA_MAX_FLOPS, cuda_supported

    big = S(1, 32, 32, 16384, 16384, 128, 0)
    assert "too large to materialise" in ATT.variant("naive").skip_reason(CPU, big, "fp16")
    assert "too large to materialise" in ATT.variant("sdpa_math").skip_reason(CPU, big, "fp16")
    rect = S(1, 2, 2, 8, 20, 64, 1)  # bottom-right causal needs an explicit mask: not for flash
    assert "explicit mask" in ATT.variant("sdpa_flash").skip_reason(CPU, rect, "fp16")
    assert ATT.variant("sdpa_flash").skip_reason(CPU, S(1, 2, 2, 1, 20, 64, 1), "fp16") is None
    assert "seq_q <= 16" in ATT.variant("triton_decode").skip_reason(CPU, S(1, 2, 2, 17, 20, 64, 0), "fp16")
    # torch refuses the efficient and cuDNN backends on a CPU: its reason is the skip reason
    assert "efficient backend refuses" in ATT.variant("sdpa_efficient").skip_reason(CPU, rect, "fp16")
    assert ATT.variant("cuda").skip_reason(CPU, rect, "fp16") == "CuPy variants need a CUDA device"
    assert "too slow" in ATT.variant("cuda").skip_reason(torch.device("cuda"), big, "bf16")
    # 2^38 FLOPs: the bench's 2K-token prefill runs, the 4K causal one (just over) does not
    gpu, prefill = torch.device("cuda"), [s for s in ATT.shapes["bench"] if s["seq_q"] > 16]
    runs = {(s["seq_q"], s["causal"]) for s in prefill if ATT.flops(s) <= CUDA_MAX_FLOPS}
    assert (2048, 0) in runs and (4096, 1) not in runs
    for s in (s for s in ATT.shapes["bench"] if s["seq_q"] <= 16):  # decode shapes: mostly idle tiles
        assert "a decode shape" in cuda_supported(gpu, s, "bf16")


def test_config_tables_cover_the_bench_head_dims():
    for major in (8, 9):
        cfg = config.for_arch(major)
        assert 128 in cfg.fwd and 128 in cfg.bwd and 64 in cfg.fwd
        for tiles in cfg.fwd.values():
            assert tiles and all(t.block_m >= 16 and t.block_n >= 16 for t in tiles)
    assert set(config.for_arch(9).fwd_tma) == set(config.TRITON_HEAD_DIMS) and not config.for_arch(8).fwd_tma
    assert config.config_for(CPU) is config.CPU


# ---- deliberately wrong kernels must be rejected --------------------------------------------------------


def mutant(source: Path, edits: list[tuple[str, str]], tmp_path: Path, name: str):
    """`source` with each (old, new) replaced once (old must occur), imported as a module of its own."""
    text = source.read_text()
    for old, new in edits:
        assert text.count(old) >= 1, f"{old!r} not in {source.name}: update the mutation"
        text = text.replace(old, new)
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def assert_rejected(fn, shapes, dtype="fp16"):
    wrong = Variant("wrong", "triton", fn)
    for shape in shapes:
        with pytest.raises(CorrectnessError):
            check_variant(ATT, wrong, shape, dtype, CPU)


@pytest.mark.slow
def test_an_accumulator_not_rescaled_is_caught(tmp_path):
    edit = ("acc = acc * alpha[:, None]", "acc = acc")
    m = mutant(SRC / "triton_fwd.py", [edit], tmp_path, "attn_norescale")
    assert_rejected(m.flash_attention, [S(1, 3, 3, 33, 50, 64, 0), S(2, 4, 2, 37, 37, 32, 1)])


@pytest.mark.slow
@pytest.mark.parametrize("edit", [
    ("cols[None, :] <= qi[:, None] + causal_offset", "cols[None, :] < qi[:, None] + causal_offset"),
    ("cols[None, :] <= qi[:, None] + causal_offset", "cols[None, :] <= qi[:, None] + causal_offset + 1"),
], ids=["one_key_short", "one_key_past"])  # fmt: skip
def test_a_mask_off_by_one_is_caught(tmp_path, edit):
    m = mutant(SRC / "triton_fwd.py", [edit], tmp_path, f"attn_mask_{len(edit[1])}")
    assert_rejected(m.flash_attention, [S(2, 4, 2, 37, 37, 32, 1), S(1, 2, 2, 19, 70, 64, 1)])
    # and at a decode shape (few queries, the diagonal in the last key tile)
    assert_rejected(m.flash_attention, [S(1, 4, 1, 5, 200, 32, 1)])


@pytest.mark.slow
def test_a_split_combine_ignoring_the_lse_is_caught(tmp_path):
    edit = ("w = tl.math.exp2(lse_s - m_use)", "w = tl.where(lse_s > -1e30, 1.0, 0.0)")  # plain average
    m = mutant(SRC / "triton_decode.py", [edit], tmp_path, "attn_combine")
    assert_rejected(lambda q, k, v, c: m.decode(q, k, v, c, splits=3)[0], [S(2, 8, 2, 1, 300, 64, 1)])


def test_the_naive_record_counts_the_materialised_bytes_and_is_placed_on_the_memory_side():
    """The record the worker builds carries the variant's own bytes, so the quick prefill shape's naive
    record lands left of the flash records on the roofline (H100 datasheet: ridge ~295 FLOP/B)."""
    from types import SimpleNamespace

    from gpubench.bench.run.plan import PlanItem
    from gpubench.bench.run.worker import record_identity

    shape = ATT.shapes["quick"][0]
    base = {}
    for name in ("naive", "triton"):
        v = ATT.variants[name]
        base[name] = record_identity(PlanItem(ATT.name, name, v.backend, shape, "bf16", "cold"), ATT, v,
                           SimpleNamespace(gpu_uuid=None))  # fmt: skip
    assert base["triton"]["bytes"] == ATT.bytes(shape, "bf16")
    details = ATT.details(shape, "bf16")["attention"]
    assert base["naive"]["bytes"] == details["materialised_bytes"]
    flash, naive = (base[n]["flops"] / base[n]["bytes"] for n in ("triton", "naive"))
    assert naive < 295 < flash


def test_the_forward_autotunes_each_operand_dtype_on_its_own():
    """Triton's autotuner keys on each tensor argument's dtype, which a TensorDescriptor lacks: one
    autotuner per dtype keeps the TMA forward's fp16 and bf16 configs apart."""
    tiles = config.for_arch(9).fwd_tma[128]
    fp16 = triton_fwd._autotuned(tiles, torch.float16)
    assert fp16 is triton_fwd._autotuned(tiles, torch.float16)
    assert fp16 is not triton_fwd._autotuned(tiles, torch.bfloat16)


def test_the_variants_checked_with_one_cache_share_the_float64_reference(monkeypatch):
    """As the harness and the GPU tests check them: the variants of a shape and dtype against one reference
    (bench.measure.correctness.ReferenceCache), forward and backward, computed once, not once a variant."""
    from gpubench.bench.measure.correctness import ReferenceCache
    from gpubench.kernels.attention import reference as ref_mod

    calls = []
    for fn_name in ("reference", "backward_f64"):
        real = getattr(ref_mod, fn_name)
        monkeypatch.setattr(ref_mod, fn_name, lambda *a, _f=real, _n=fn_name: calls.append(_n) or _f(*a))
    shape = ATT.shapes["test"][1]
    for w in (ATT, kernels.get("attention_bwd")):
        refs = ReferenceCache()
        for vname in ("naive", "sdpa_math", "naive"):
            check_variant(w, w.variant(vname), shape, "fp16", CPU, references=refs)
    assert calls == ["reference", "backward_f64"]
