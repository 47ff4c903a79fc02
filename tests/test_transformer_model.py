"""The transformer operator model (transformer): configs against their published sizes, the
operators' FLOPs and bytes against closed forms (GEMM FLOPs per token near 2 x parameters, KV bytes with
grouped heads, decode bytes dominated by weights and KV cache), the what-ifs, and the prediction built
from the suite's performance model (not a second copy of it)."""

from dataclasses import replace

import pytest

from gpubench import opcount, results
from gpubench.roofline.crossgen import ceilings_of_spec
from gpubench.roofline.perfmodel import estimate
from gpubench.roofline.specs import get_spec
from gpubench.roofline.tiling import tile_traffic
from gpubench.transformer.configs import MODELS, ConfigError, ModelConfig, from_json, get_model
from gpubench.transformer.operators import layer_operators, model_operators
from gpubench.transformer.predict import predict_model
from gpubench.transformer.scenario import Scenario, ScenarioError, check
from tests.support.realdata import REFERENCE

H100 = get_spec("h100_sxm5")
LLAMA7, LLAMA8, GPT3 = MODELS["llama-7b"], MODELS["llama-3-8b"], MODELS["gpt-3-175b"]
CEILINGS = REFERENCE / "NVIDIA-H100-80GB-HBM3" / "ceilings.json"


def _ops(cfg, sc):
    return {op.name: op for op in layer_operators(cfg, sc) + model_operators(cfg, sc)}


# Published parameter counts (the papers' and model cards' headline figures).
@pytest.mark.parametrize(
    "key, billions, rel",
    [
        ("llama-7b", 6.7, 0.01),
        ("llama-3-8b", 8.03, 0.005),
        ("llama-3-70b", 70.6, 0.005),
        ("llama-3-405b", 405.9, 0.005),
        ("gpt-3-175b", 175.0, 0.01),
    ],
)
def test_configs_have_their_published_parameter_counts(key, billions, rel):
    assert MODELS[key].params() / 1e9 == pytest.approx(billions, rel=rel)
    assert MODELS[key].sources, "every config names where its figures come from"


@pytest.mark.parametrize(
    "key, stated, table3_ffn, table3_billions",
    [
        ("llama-3-8b", 8.03, 6144, 4.8),
        ("llama-3-70b", 70.6, 12288, 38.3),
        ("llama-3-405b", 405.9, 20480, 202.9),
    ],
)
def test_llama3_ffn_and_vocabulary_are_the_released_configs(key, stated, table3_ffn, table3_billions):
    """The paper's Table 3 as some copies print it (FFN 6,144 / 12,288 / 20,480, vocabulary 128,000) does not
    give the stated sizes; the released config.json's figures do. The note says so, with these numbers."""
    from dataclasses import replace

    cfg = MODELS[key]
    table3 = replace(cfg, ffn=table3_ffn, vocab=128_000).params() / 1e9
    assert table3 == pytest.approx(table3_billions, abs=0.05)
    note = next(n for n in cfg.notes if "config.json" in n)
    assert f"{table3_billions:g}" in note and f"{stated:g}" in note
    assert cfg.params() / 1e9 == pytest.approx(stated, rel=0.005)
    assert any("intermediate_size" in s for s in cfg.sources)


def test_gemm_flops_per_token_are_two_per_parameter():
    """Decode: every new token multiplies by every weight matrix once: 2 FLOPs a parameter, exactly, for
    the projections and the LM head; with the embedding table (gathered, not multiplied) about 2 x params."""
    for cfg in MODELS.values():
        sc = Scenario("decode", 3, 1, 64)
        gemm = sum(op.flops for op in layer_operators(cfg, sc) if op.kind == "gemm") * cfg.layers
        head = _ops(cfg, sc)["lm_head"].flops
        bias = (
            sum(op.shape["M"] * op.shape["N"] for op in layer_operators(cfg, sc) if op.kind == "gemm")
            if cfg.bias
            else 0
        )
        assert gemm - bias * cfg.layers == 2 * sc.tokens * cfg.layers * cfg.layer_matmul_params()
        assert head == 2 * sc.tokens * cfg.vocab * cfg.hidden
        per_token = (gemm + head) / sc.tokens
        gathered = (0 if cfg.tied_embeddings else cfg.vocab * cfg.hidden) + (
            cfg.max_context * cfg.hidden if cfg.position == "learned" else 0
        )  # the token (and position) table is gathered, not multiplied; norms and biases are not GEMMs
        assert per_token == pytest.approx(2 * (cfg.params() - gathered), rel=2e-3)
        assert per_token == pytest.approx(2 * cfg.params(), rel=0.07)


def test_gqa_reads_each_kv_head_once():
    sc = Scenario("decode", 4, 1, 4096)
    kv8 = _ops(LLAMA8, sc)["attention"].kv_bytes
    assert kv8 == 2 * 4 * 8 * 4096 * 128 * 2  # K and V: batch x kv heads x context x head_dim x bf16
    mha = replace(LLAMA8, kv_heads=LLAMA8.heads)
    assert _ops(mha, sc)["attention"].kv_bytes == 4 * kv8  # 32 query heads share 8 kv heads
    attn = _ops(LLAMA8, sc)["attention"]
    assert attn.bytes == opcount.attention_bytes(4, 32, 8, 128, 1, 4096, 2)


def test_decode_bytes_are_weights_and_kv_cache():
    for cfg, batch, context in ((LLAMA7, 1, 2048), (LLAMA8, 16, 8192), (GPT3, 8, 2048)):
        p = predict_model(cfg, Scenario("decode", batch, 1, context), H100)
        weights = sum(r.op.weight_bytes * r.count for r in p.rows)
        kv = sum(r.op.kv_bytes * r.count for r in p.rows)
        assert kv == p.memory.kv_cache
        assert (weights + kv) / p.total_bytes > 0.98
        # every weight read once a step, of the embedding table only the new tokens' rows (a tied LM
        # head reads the whole table again)
        table = cfg.vocab * cfg.hidden * 2 + (
            cfg.max_context * cfg.hidden * 2 if cfg.position == "learned" else 0
        )
        rows = batch * cfg.hidden * 2
        head = cfg.vocab * cfg.hidden * 2 if cfg.tied_embeddings else 0
        assert weights == p.memory.weights - table + rows + head


def test_causal_attention_counts_the_pairs_computed():
    sc = Scenario("prefill", 2, 1000, 1000)
    attn = _ops(LLAMA7, sc)["attention"]
    assert attn.flops == 4 * 2 * 32 * 128 * (1000 * 1001 // 2)
    assert "500,500 of 1,000,000" in attn.note and "bottom-right" in attn.note
    chunk = _ops(LLAMA7, Scenario("prefill", 1, 10, 30))["attention"]  # 10 new tokens after 20 cached
    assert chunk.flops == 4 * 32 * 128 * sum(21 + i for i in range(10))


def test_unfused_attention_materialises_the_scores():
    sc = Scenario("prefill", 1, 512, 512, fusion=False)
    ops = _ops(LLAMA7, sc)
    s_bytes = 32 * 512 * 512 * 2
    materialised = opcount.attention_bytes(1, 32, 32, 128, 512, 512, 2, materialised=True)
    total = ops["attn_scores"].bytes + ops["softmax"].bytes + ops["attn_context"].bytes
    # S written, read and P written, read (softmax as five torch ops adds its per-row intermediates)
    assert total - opcount.attention_bytes(1, 32, 32, 128, 512, 512, 2) >= 4 * s_bytes
    assert ops["attn_scores"].bytes + ops["attn_context"].bytes == materialised
    assert ops["attn_scores"].flops + ops["attn_context"].flops == opcount.attention_flops(
        1, 32, 128, 512, 512, False
    )
    assert "attention" not in ops and len(ops["softmax"].parts) == 5
    assert len(ops["attn_norm"].parts) == 6  # rmsnorm as torch ops


def test_weight_formats_change_bytes_and_the_peak():
    base = _ops(LLAMA7, Scenario("decode", 1, 1, 128))["gate_up_proj"]
    for fmt, peak in (("fp8", "fp8"), ("int8", "int8"), ("int4", "bf16"), ("fp16", "fp16")):
        op = _ops(LLAMA7, Scenario("decode", 1, 1, 128, weights=fmt))["gate_up_proj"]
        assert op.flops == base.flops and op.dtype == peak
        assert op.weight_bytes == opcount.weight_bytes(4096, 2 * 11008, fmt)
    int4 = _ops(LLAMA7, Scenario("decode", 1, 1, 128, weights="int4"))["gate_up_proj"]
    assert int4.weight_bytes == 4096 * 22016 // 2 + 4096 // 128 * 22016 * 2  # packed nibbles + fp16 scales
    head = _ops(LLAMA7, Scenario("decode", 1, 1, 128, weights="int4"))["lm_head"]
    assert head.dtype == "bf16" and head.weight_bytes == 32000 * 4096 * 2  # the LM head stays bf16


def test_tile_traffic_replaces_compulsory_gemm_bytes():
    sc = Scenario("prefill", 1, 2048, 2048, tile=(128, 128, 64))
    op = _ops(LLAMA7, sc)["down_proj"]
    t = tile_traffic(2048, 4096, 11008, 128, 128, 64, 2, "output_stationary")
    assert op.bytes == t.bytes and "x read 32x, W 16x" in op.note
    a_stat = _ops(LLAMA7, replace(sc, dataflow="a_stationary"))["down_proj"]
    assert a_stat.bytes == tile_traffic(2048, 4096, 11008, 128, 128, 64, 2, "a_stationary").bytes


def test_memory_footprint_and_fit():
    small = predict_model(LLAMA7, Scenario("decode", 1, 1, 2048), H100)
    assert small.memory.weights == LLAMA7.params() * 2
    assert small.memory.kv_cache == 2 * 32 * 2048 * 4096 * 2
    assert small.memory.fits is True
    big = predict_model(MODELS["llama-3-405b"], Scenario("decode", 1, 1, 8192), get_spec("h200_sxm"))
    assert big.memory.fits is False and big.memory.gpus_needed >= 6
    int4 = predict_model(LLAMA7, Scenario("decode", 1, 1, 2048, weights="int4"), H100)
    assert int4.memory.weights < 0.4 * small.memory.weights


def test_prediction_is_the_performance_model_summed():
    p = predict_model(LLAMA7, Scenario("prefill", 1, 2048, 2048), H100)
    machine = ceilings_of_spec(H100).machine("datasheet")
    qkv = next(r for r in p.rows if r.op.name == "qkv_proj")
    est = estimate(qkv.op.flops, qkv.op.bytes, "bf16", "cold", True, qkv.op.shape, machine)
    assert qkv.times["datasheet"].time_s == est.time_s and qkv.times["datasheet"].limit == est.limit
    assert p.predicted_s() == pytest.approx(sum(r.times["datasheet"].time_s * r.count for r in p.rows))
    assert p.tokens_per_s() == pytest.approx(2048 / p.predicted_s())
    assert qkv.times["datasheet"].bound == "compute"  # a 2048-token prefill GEMM is over the ridge


def test_decode_step_is_bandwidth_bound_on_the_datasheet():
    p = predict_model(LLAMA7, Scenario("decode", 1, 1, 2048), H100)
    floor = p.total_bytes / (H100.mem_bandwidth_gbs * 1e9)
    assert floor <= p.predicted_s() <= 1.05 * floor
    assert all(r.times["datasheet"].bound == "memory" for r in p.rows if r.op.kind == "gemm")


def test_measured_ceilings_give_a_second_prediction():
    f = results.read_ceilings(CEILINGS)
    p = predict_model(LLAMA7, Scenario("decode", 1, 1, 2048), H100, f.ceilings, "H100 file")
    assert p.sides == ("datasheet", "measured")
    assert p.predicted_s("measured") > p.predicted_s("datasheet")  # measured DRAM below the datasheet's
    assert all(r.times["measured"].time_s >= f.ceilings.launch_overhead_s for r in p.rows)


@pytest.mark.parametrize(
    "sc, words",
    [
        (Scenario("prefill", 0, 16, 16), "batch must be a positive integer, got 0"),
        (Scenario("prefill", 1, 0, 16), "seq must be a positive integer, got 0"),
        (Scenario("decode", 1, 1, 4096), "longer than LLaMA-7B allows (2048 tokens)"),
        (Scenario("decode", 1, 8, 4), "context (4) must be at least the new tokens"),
        (Scenario("decode", 1, 1, 64, weights="int4", group=100), "do not divide"),
        (Scenario("decode", 1, 1, 64, weights="int4", tile=(64, 64, 64)), "whole-byte"),
        (Scenario("decode", 1, 1, 64, dtype="fp64"), "dtype must be one of"),
    ],
)
def test_bad_scenarios_are_refused_by_name(sc, words):
    with pytest.raises(ScenarioError, match=words.replace("(", r"\(").replace(")", r"\)")):
        check(LLAMA7, sc)


def test_model_lookup_and_own_config(tmp_path):
    assert get_model("LLaMA-7B") is LLAMA7 and get_model("gpt-3") is GPT3
    with pytest.raises(ConfigError, match="known: llama-7b, llama-3-8b"):
        get_model("llama-9b")
    path = tmp_path / "mine.json"
    path.write_text(
        '{"layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "head_dim": 16, "ffn": 128,'
        ' "activation": "swiglu", "vocab": 100, "norm": "rmsnorm", "max_context": 256}'
    )
    mine = get_model(str(path))
    assert (
        mine.key == "mine" and mine.params() == 2 * (64 * 128 + 64 * 64 + 3 * 64 * 128 + 128) + 2 * 6400 + 64
    )
    path.write_text('{"layers": 2, "hiden": 64}')
    with pytest.raises(ConfigError, match="unknown fields"):
        from_json(path)
    with pytest.raises(ConfigError, match="multiple of kv_heads"):
        ModelConfig("x", "x", 1, 64, 6, 4, 16, 128, "swiglu", 10, "rmsnorm", 16)
