"""Training's phases beside the forward (transformer.backward): the backward counts agree with the
workloads' and with Megatron's FLOPs per iteration, and the attention form is a what-if of its own."""

import pytest

from gpubench.kernels import REGISTRY
from gpubench.transformer import counts
from gpubench.transformer.backward import (
    backward_operators,
    gradient_passes_operator,
    optimizer_operator,
    training_operators,
    training_scenario,
)
from gpubench.transformer.configs import MODELS, ModelConfig
from gpubench.transformer.operators import layer_operators
from gpubench.transformer.scenario import Scenario, ScenarioError, check

GPT_NO_BIAS = ModelConfig(
    "gpt-like", "GPT-like", layers=4, hidden=1024, heads=16, kv_heads=16, head_dim=64, ffn=4096,
    activation="gelu", vocab=51200, norm="layernorm", max_context=2048, position="learned",
)  # fmt: skip


@pytest.mark.parametrize("rows, cols", [(1, 2), (70, 100), (4096, 16384)])
@pytest.mark.parametrize("dtype, size", [("fp32", 4), ("bf16", 2)])
def test_layernorm_backward_counts_what_its_workload_counts(rows, cols, dtype, size):
    w, shape = REGISTRY["layernorm_bwd"], {"rows": rows, "cols": cols}
    c = counts.norm_backward("layernorm", rows, cols, size)
    assert (c.flops, c.bytes) == (w.flops(shape), w.bytes(shape, dtype))


@pytest.mark.parametrize("batch, seq", [(1, 2048), (4, 512)])
def test_gemm_and_attention_flops_are_megatrons_72_bslh2(batch, seq):
    """Narayanan et al. 2021 (arXiv:2104.04473) section 5.1, without recompute: 72 B s l h^2
    (1 + s/(6h) + V/(12 l h)), i.e. 72Bslh^2 + 12Bs^2lh + 6BshV, counting every (query, key) pair (the
    materialised scores compute them all)."""
    cfg = GPT_NO_BIAS
    ops = training_operators(cfg, training_scenario(batch, seq, attention="materialised"))
    got = sum(op.flops * n for op, n in ops.forward + ops.backward if op.kind in ("gemm", "attention"))
    B, s, L, h, V = batch, seq, cfg.layers, cfg.hidden, cfg.vocab
    assert got == 72 * B * s * L * h * h + 12 * B * s * s * L * h + 6 * B * s * h * V


def test_a_gemms_backward_is_two_gemms_of_its_flops_with_swapped_shapes():
    sc = training_scenario(2, 128)
    (qkv,) = [op for op in layer_operators(MODELS["llama-3-8b"], sc) if op.name == "qkv_proj"]
    dgrad, wgrad = backward_operators([qkv], sc)
    M, N, K = qkv.shape["M"], qkv.shape["N"], qkv.shape["K"]
    assert dgrad.flops == wgrad.flops == qkv.flops == 2 * M * N * K
    assert dgrad.shape == {"M": M, "N": K, "K": N} and wgrad.shape == {"M": K, "N": N, "K": M}
    # wgrad accumulates into fp32 gradients: the [K, N] buffer read and written at 4 bytes
    assert wgrad.bytes == M * K * 2 + M * N * 2 + 2 * K * N * 4


def test_flash_attention_backward_is_two_and_a_half_forwards():
    sc = training_scenario(1, 1024)
    (att,) = [op for op in layer_operators(MODELS["llama-3-8b"], sc) if op.kind == "attention"]
    (bwd,) = backward_operators([att], sc)
    assert bwd.flops * 2 == att.flops * 5


def test_backward_runs_in_reverse_and_every_operator_has_one():
    sc = training_scenario(1, 256)
    fwd = layer_operators(MODELS["gpt-3-175b"], Scenario("prefill", 1, 256, 256, logits="all",
                                                          attention="materialised"))  # fmt: skip
    bwd = backward_operators(fwd, sc)
    names = [op.name.split(".")[0] for op in bwd]
    assert list(dict.fromkeys(names)) == [op.name for op in reversed(fwd)]


def test_adamw_moves_its_states_and_the_gradient():
    op = optimizer_operator(1000, "fp32")
    assert op.bytes == 1000 * (24 + 4 + 2)  # master, m, v read and written; fp32 grad read; bf16 weight
    assert optimizer_operator(1000, "bf16").bytes == 1000 * (24 + 2 + 2)


def test_the_gradient_passes_zero_the_buffer_take_the_norm_and_unscale_under_fp16():
    # a GPU holding 1000 fp32 gradients, stepping a shard of 250: the buffer zeroed (4 bytes each), the
    # shard's norm (read once), and with fp16 the loss scaler's unscale (read and written once)
    bf16 = gradient_passes_operator(1000, 250, "fp32")
    fp16 = gradient_passes_operator(1000, 250, "fp32", loss_scaled=True)
    assert [k.bytes for k in bf16.parts] == [4000, 1000] and bf16.bytes == 5000
    assert [k.bytes for k in fp16.parts] == [4000, 1000, 2000] and fp16.bytes == 7000
    assert gradient_passes_operator(1000, 1000, "bf16").bytes == 2000 + 2000


def test_the_attention_form_is_a_whatif_and_materialised_attention_keeps_a_fused_softmax():
    sc = Scenario("prefill", 1, 512, 512, attention="materialised")
    names = [op.name for op in layer_operators(MODELS["llama-3-8b"], sc)]
    assert "attn_scores" in names and "attention" not in names
    (softmax,) = [op for op in layer_operators(MODELS["llama-3-8b"], sc) if op.kind == "softmax"]
    assert softmax.kernels == 1
    assert [label for label, _ in sc.whatifs()] == ["attention materialised"]
    with pytest.raises(ScenarioError, match="attention must be one of"):
        check(MODELS["llama-3-8b"], Scenario("prefill", 1, 8, 8, attention="sparse"))
