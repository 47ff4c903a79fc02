"""The training planner (gpubench.transformer.training): its memory terms against the published formulas,
its step's terms adding up, its constraints, and the search."""

from dataclasses import replace

import pytest

from gpubench.roofline.comm import load_topology
from gpubench.roofline.specs import get_spec
from gpubench.transformer.configs import MODELS
from gpubench.transformer.training import formulas
from gpubench.transformer.training.efficiency import REFERENCE_GPU, roofs_for
from gpubench.transformer.training.layout import Job, Layout, LayoutError, check, group_ranks_per_node
from gpubench.transformer.training.memory import activation_terms, stage_memory, stage_params
from gpubench.transformer.training.search import search
from gpubench.transformer.training.step import TERMS, predict_step
from gpubench.transformer.training.validation import KORTHIKANTI

GPT_22B = KORTHIKANTI[0].cfg  # GeLU, multi-head attention, LayerNorm, biases: Korthikanti's assumptions
H100 = get_spec("h100_sxm5")


def _gpt_job(**kw) -> Job:
    return Job(GPT_22B, 2048, 64, dtype="fp16", attention="materialised", dropout=True, **kw)


@pytest.mark.parametrize("tp", [1, 2, 8])
@pytest.mark.parametrize("sp", [False, True])
@pytest.mark.parametrize("recompute", ["none", "selective", "full"])
@pytest.mark.parametrize("mb", [1, 4])
def test_activation_terms_are_korthikantis_table_2(tp, sp, recompute, mb):
    job, lay = _gpt_job(), Layout(tp=tp, sp=sp, recompute=recompute, micro_batch=mb)
    got = sum(activation_terms(job, lay).values())
    cfg = GPT_22B
    want = formulas.korthikanti_activation_bytes(
        2048, mb, cfg.hidden, cfg.heads, tp, sp and tp > 1, recompute
    )
    assert got == pytest.approx(want, rel=1e-12)


def test_swiglu_gqa_and_flash_terms():
    """Adapted terms: Q 2sb q, K and V 2sb kv each, gate and up 4sb f, down input 2sb f, and flash's fp32
    log-sum-exp (4asb) in place of the s^2 terms; no dropout."""
    cfg = MODELS["llama-3-8b"]
    job, s = Job(cfg, 4096, 8), 4096
    t = activation_terms(job, Layout(tp=2, sp=True))
    q, kv, f, a, h = cfg.q_dim // 2, cfg.kv_dim // 2, cfg.ffn // 2, cfg.heads // 2, cfg.hidden
    assert t["Q, K"] == 2 * s * (q + kv) and t["V"] == 2 * s * kv
    assert t["gate and up"] == 4 * s * f and t["down projection input"] == 2 * s * f
    assert t["attention log-sum-exp (fp32)"] == 4 * a * s
    assert t["attention norm input"] == 2 * s * h // 2  # sharded by SP
    assert not any("dropout" in k or "softmax" in k for k in t)


@pytest.mark.parametrize("zero", [0, 1, 2, 3])
def test_model_states_are_zeros_16_bytes_a_parameter_sharded_by_stage(zero):
    job = replace(_gpt_job(grad_dtype="bf16"), global_batch=64)
    lay = Layout(tp=8, dp=8, zero=zero)
    m = stage_memory(job, lay, H100.mem_bytes)
    params = stage_params(job, lay)["first"]
    states = m.terms["weights"] + m.terms["gradients"] + m.terms["optimizer states"]
    assert states == formulas.zero_state_bytes(params, zero, 8, grad_bytes=2)


def test_pipeline_first_stage_holds_p_micro_batches_and_interleaving_adds_p_minus_1_over_p_v():
    """1F1B: the first stage holds L/p layers for p micro-batches, i.e. L layers' worth (Korthikanti 4.2.3);
    interleaved: (1 + (p - 1)/(p v)) times that (Megatron's warm-up count plus one)."""
    job = _gpt_job()
    per_layer = sum(activation_terms(job, Layout(tp=8, sp=True, recompute="selective")).values())
    for v in (1, 2, 3):
        lay = Layout(tp=8, sp=True, pp=4, recompute="selective", interleave=v)
        acts = stage_memory(job, lay, None).terms["activations"]
        factor = 1 if v == 1 else 1 + 3 / (4 * v)
        emb_mask = 2048 * GPT_22B.hidden // 8 * 4  # the embedding's dropout mask, 4 micro-batches in flight
        assert acts == int(GPT_22B.layers * factor * per_layer) + emb_mask


@pytest.fixture(scope="module")
def llama_8b_step():
    job = Job(MODELS["llama-3-8b"], 4096, 256)
    lay = Layout(tp=2, sp=True, pp=2, dp=4, zero=1, interleave=2)
    topo = load_topology("dgx-h100", nodes=2)
    return predict_step(job, lay, H100, roofs_for(H100), topo)


def test_the_step_is_the_sum_of_its_terms_and_mfu_follows_palm(llama_8b_step):
    p = llama_8b_step
    assert [t.name for t in p.terms] == list(TERMS)
    assert p.step_time_s == pytest.approx(sum(t.seconds for t in p.terms))
    per_token = 6 * formulas.model_params(p.job.cfg) + 12 * 32 * 32 * 128 * 4096
    assert p.mfu == pytest.approx(per_token * p.job.tokens / p.step_time_s / 16 / 989.4e12, rel=1e-3)
    assert p.roofs.side == "measured"  # the committed H100 ceilings
    bubble = p.term("pipeline bubble") / (
        p.term("pipeline bubble")
        + sum(p.term(t) for t in ("forward", "backward", "recompute", "TP communication", "CP communication"))
    )
    f = formulas.bubble_fraction(2, p.layout.micro_batches(p.job), 2)  # (p - 1)/(m v) of the ideal m u
    assert p.layout.micro_batches(p.job) == 64 and bubble == pytest.approx(f / (1 + f))


def test_sp_moves_the_same_bytes_as_tp_and_full_recompute_adds_a_forward():
    job = Job(MODELS["llama-3-8b"], 4096, 64)
    topo = load_topology("dgx-h100")
    roofs = roofs_for(H100)
    tp = predict_step(job, Layout(tp=8, dp=1), H100, roofs, topo)
    sp = predict_step(job, Layout(tp=8, sp=True, dp=1), H100, roofs, topo)
    bytes_of = lambda p: sum(c.nbytes * c.count * (2 if c.collective == "all_reduce" else 1)  # noqa: E731
                             for c in p.comm if c.group == "TP" and "re-gather" not in c.what
                             and "output layer" not in c.what and "embedding" not in c.what
                             and "loss" not in c.what)  # fmt: skip
    assert bytes_of(sp) == bytes_of(tp)  # an all-reduce is a reduce-scatter and an all-gather
    full = predict_step(job, Layout(tp=8, dp=1, recompute="full"), H100, roofs, topo)
    assert full.term("recompute") == pytest.approx(full.term("forward") - _ends_fwd(full), rel=1e-9)


def _ends_fwd(p) -> float:
    from gpubench.transformer.training.shard import operator_key
    from gpubench.transformer.training.step import op_sums

    s = op_sums(p.job, operator_key(p.layout), p.roofs).seconds
    return (s["first_fwd"] + s["last_fwd"]) * p.layout.micro_batches(p.job)


@pytest.mark.parametrize(
    "lay, message",
    [
        (Layout(tp=8, pp=2, dp=2), "TP x CP x PP x DP = 8 x 1 x 2 x 2 = 32, not the 16 GPUs"),
        (Layout(tp=3, dp=1), "TP 3 does not divide the 32 attention heads"),
        (Layout(pp=5, dp=1), "PP 5 does not divide the 32 layers"),
        (Layout(micro_batch=3, dp=1), "micro-batch 3 does not divide the 16 sequences per DP rank"),
        (Layout(cp=3, dp=1), "CP 3 splits the sequence into 2 x CP = 6 equal chunks"),
        (Layout(dp=32), "DP 32 does not divide the global batch of 16 sequences"),
        (Layout(pp=2, interleave=3, dp=1), "interleave V 3 needs PP > 1 and V dividing the 16 layers"),
    ],
)
def test_bad_layouts_name_their_constraint(lay, message):
    job = Job(MODELS["llama-3-8b"], 4096, 16)
    gpus = 16 if "16 GPUs" in message else lay.gpus
    with pytest.raises(LayoutError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check(job, lay, gpus)


def test_llama_405bs_126_layers_split_16_ways_as_llama_3_did():
    lay = Layout(pp=16)
    assert lay.stage_layers(126) == (7, 8, 7)  # one layer fewer on the embedding and output stages
    check(Job(MODELS["llama-3-405b"], 8192, 16), replace(lay, tp=8, interleave=8))


def test_ranks_share_a_node_in_the_order_tp_cp_pp_dp():
    lay = Layout(tp=2, cp=2, pp=4, dp=8)
    assert group_ranks_per_node(lay, ("tp",), 8) == 2
    assert group_ranks_per_node(lay, ("cp",), 8) == 2
    assert group_ranks_per_node(lay, ("pp",), 8) == 2  # stride 4: ranks 0 and 4 share the first node
    assert group_ranks_per_node(lay, ("cp", "dp"), 8) == 2
    assert group_ranks_per_node(Layout(tp=8, pp=2), ("pp",), 8) == 1


def test_search_ranks_fitting_layouts_fastest_first_and_says_why():
    job = Job(MODELS["llama-3-8b"], 4096, 64)
    res = search(job, 16, H100, roofs_for(H100), load_topology("dgx-h100", nodes=2), top=5)
    times = [r.prediction.step_time_s for r in res.ranked]
    assert times == sorted(times) and len(times) == 5
    assert res.ranked[0].why == "best"
    assert all(r.why.startswith("+") for r in res.ranked[1:] if r.prediction.step_time_s > times[0])
    assert all(r.prediction.memory.fits for r in res.ranked)
    assert res.considered > res.too_big >= 0


def test_a100_roofs_are_carried_from_the_h100s_measured_ratio():
    a100, ref = roofs_for(get_spec("a100_sxm4_80gb")), roofs_for(get_spec(REFERENCE_GPU))
    assert a100.side == "carried" and ref.side == "measured"
    ratio = ref.peak_tflops("bf16") / get_spec(REFERENCE_GPU).peaks["bf16"]
    sheet = get_spec("a100_sxm4_80gb").peaks["bf16"]  # 108 SMs x 2048 FLOP/clk x 1410 MHz
    assert a100.peak_tflops("bf16") == pytest.approx(sheet * ratio, rel=1e-12)
    assert roofs_for(get_spec("a100_sxm4_80gb"), side="datasheet").peak_tflops("bf16") == sheet
