"""A layer's operators mapped to the suite's workloads (looked up by name; absent ones give a reason), the
torch stand-ins of the others at the operators' shapes, `gpubench layer` on a machine without a GPU, and
the document it writes, assembled from measurements."""

import json
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from gpubench.roofline.specs import get_spec
from gpubench.transformer.configs import MODELS
from gpubench.transformer.measured import layer_cli
from gpubench.transformer.measured.compose import Planned, WorkloadInfo, plan_layer, registry_info
from gpubench.transformer.measured.layer_run import Measured, layer_document
from gpubench.transformer.measured.torch_ops import torch_op
from gpubench.transformer.operators import layer_operators
from gpubench.transformer.predict import predict_model
from gpubench.transformer.scenario import Scenario
from tests.support.tiny_model import TINY

LLAMA7 = MODELS["llama-7b"]
ATTENTION = WorkloadInfo(
    ("batch", "heads", "kv_heads", "seq_q", "seq_k", "head_dim", "causal"),
    ("triton", "triton_decode", "naive", "sdpa_flash"),
    ("fp16", "bf16"),
)
QMATMUL = WorkloadInfo(
    ("M", "N", "K", "group"), ("int4_triton", "int8_triton", "fp16_cublas"), ("fp16", "bf16")
)


@pytest.fixture(scope="module")
def registry():
    return registry_info()


def _plan(cfg, sc, workloads):
    return {p.op.name: p for p in plan_layer(layer_operators(cfg, sc), sc, workloads)}


def test_prefill_operators_map_to_their_workloads(registry):
    plan = _plan(LLAMA7, Scenario("prefill", 1, 2048, 2048), {**registry, "attention": ATTENTION})
    assert plan["qkv_proj"].workload == "gemm" and plan["qkv_proj"].shape == {
        "M": 2048,
        "N": 12288,
        "K": 4096,
    }
    assert plan["down_proj"].shape == {"M": 2048, "N": 4096, "K": 11008}
    assert plan["attn_norm"].workload == "rmsnorm" and plan["attn_norm"].shape == {"rows": 2048, "cols": 4096}
    assert plan["attn_norm"].variants == ("triton", "torch")
    att = plan["attention"]
    assert att.shape == {
        "batch": 1,
        "heads": 32,
        "kv_heads": 32,
        "seq_q": 2048,
        "seq_k": 2048,
        "head_dim": 128,
        "causal": 1,
    }
    assert att.variants == ("triton", "sdpa_flash")
    for name in ("rope", "act", "attn_residual"):
        assert plan[name].workload is None and plan[name].reason.startswith("no workload for")


def test_decode_prefers_split_kv_and_grouped_heads(registry):
    plan = _plan(MODELS["llama-3-8b"], Scenario("decode", 4, 1, 8192), {**registry, "attention": ATTENTION})
    att = plan["attention"]
    assert att.variants[0] == "triton_decode" and att.shape["kv_heads"] == 8 and att.shape["seq_q"] == 1


def test_missing_workloads_give_reasons(registry):
    without = {k: v for k, v in registry.items() if k != "attention"}
    plan = _plan(LLAMA7, Scenario("decode", 1, 1, 64, weights="int4"), without)
    assert plan["attention"].workload is None and "'attention' is not registered" in plan["attention"].reason
    assert "'qmatmul' is not registered" in plan["gate_up_proj"].reason
    plan = _plan(LLAMA7, Scenario("decode", 1, 1, 64, weights="int4"), {**without, "qmatmul": QMATMUL})
    q = plan["gate_up_proj"]
    assert q.workload == "qmatmul" and q.variants == ("int4_triton",) and q.shape["group"] == 128
    fp8 = _plan(LLAMA7, Scenario("decode", 1, 1, 64, weights="fp8"), {**without, "qmatmul": QMATMUL})
    assert "none of the variants ['fp8']" in fp8["o_proj"].reason


def test_unfused_operators_use_the_unfused_variants(registry):
    plan = _plan(MODELS["gpt-3-175b"], Scenario("prefill", 1, 256, 256, fusion=False), registry)
    assert plan["attn_norm"].workload == "layernorm" and plan["attn_norm"].variants == ("unfused",)
    assert plan["softmax"].workload == "softmax" and plan["softmax"].shape == {"rows": 96 * 256, "cols": 256}
    assert plan["attn_scores"].workload is None and "batched GEMM" in plan["attn_scores"].reason
    assert "bias" in plan["fc1"].note  # what the gemm workload leaves out of GPT-3's projections


@pytest.mark.parametrize(
    "sc", [Scenario("prefill", 2, 8, 8, "fp32"), Scenario("decode", 2, 3, 12, "fp32", fusion=False)]
)
def test_torch_stand_ins_compute_the_operators(sc):
    for op in layer_operators(TINY, sc):
        fn, inputs = torch_op(op, heads=TINY.heads, kv_heads=TINY.kv_heads)
        counter = FlopCounterMode(display=False)
        with counter:
            out = fn(*inputs)
        assert torch.isfinite(out).all()
        if op.kind == "gemm" or op.name in ("attn_scores", "attn_context"):
            assert counter.get_total_flops() == op.flops, op.name


def test_attention_stand_in_is_bottom_right_causal_with_grouped_heads():
    sc = Scenario("decode", 1, 3, 7, "fp32")
    op = next(o for o in layer_operators(TINY, sc) if o.name == "attention")
    fn, (q, k, v) = torch_op(op, heads=4, kv_heads=2)
    kk, vv = (t.double().repeat_interleave(2, 1) for t in (k, v))
    s = q.double() @ kk.transpose(-1, -2) / 4.0
    s = s.masked_fill(~torch.ones(3, 7, dtype=torch.bool).tril(4), float("-inf"))
    torch.testing.assert_close(fn(q, k, v).double(), s.softmax(-1) @ vv, atol=1e-5, rtol=1e-5)


def test_layer_document_sets_measured_next_to_predicted():
    sc = Scenario("decode", 1, 1, 128)
    pred = predict_model(LLAMA7, sc, get_spec("h100_sxm5"))
    plan = plan_layer(layer_operators(LLAMA7, sc), sc, {})
    fake = [
        Measured(p, {"torch": {"median_s": 1e-5 * (i + 1)}, "triton": {"failed": "x"}})
        for i, p in enumerate(plan)
    ]
    doc = layer_document(pred, fake, {"median_s": 1e-3}, "a GPU")
    ops = doc["operators"]
    assert [o["name"] for o in ops] == [p.op.name for p in plan] and ops[0]["best_variant"] == "torch"
    assert doc["layer"]["sum_of_operators_s"] == pytest.approx(sum(1e-5 * (i + 1) for i in range(len(plan))))
    assert doc["layer"]["torch_layer_s"] == 1e-3 and doc["layer"]["predicted"]["datasheet"] == pred.layer_s()
    assert ops[1]["predicted"]["datasheet"] == pred.layer_rows()[1].times["datasheet"].time_s
    missing = [Measured(plan[0], {"triton": {"skipped": "no"}})]
    assert layer_document(pred, missing, None, "g")["layer"]["sum_of_operators_s"] is None
    assert Planned(plan[0].op, None, reason="r").source == "torch op"
    json.dumps(doc)


def test_dry_run_shows_the_plan_anywhere(capsys):
    argv = [
        "llama-7b",
        "--phase",
        "decode",
        "--context",
        "2048",
        "--batch",
        "16",
        "--gpu",
        "h100_sxm5",
        "--dry-run",
    ]
    assert layer_cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "dry run: nothing measured" in out and "gemm (triton" in out and "M=16 N=12288 K=4096" in out
    assert "no workload for the rotary embedding" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize(
    "argv, words",
    [
        (["llama-7b", "--phase", "prefill", "--seq", "512"], "needs a CUDA GPU"),
        (["llama-70b", "--phase", "prefill", "--seq", "512"], "unknown model 'llama-70b'"),
        (["llama-7b", "--phase", "decode", "--context", "9000"], "longer than LLaMA-7B allows"),
        (["llama-7b", "--phase", "prefill", "--seq", "8", "--out", "/no/such/dir/x.json"], "no such folder"),
    ],
)
def test_layer_errors_are_one_line(capsys, argv, words):
    with pytest.raises(SystemExit) as exc:
        sys.exit(layer_cli.main(argv))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("gpubench layer: error: ") and err.count("\n") == 1, err
    assert words in err


def test_the_layer_runner_end_to_end_with_a_host_stand_in_timer(registry):
    """The whole measuring path on the CPU (gpubench.benchmark takes a stand-in timer for this): each
    workload variant checked against its reference, then timed; torch ops where no workload is; the
    block as one module. Only torch variants here, to keep the Triton interpreter out of it."""
    from dataclasses import replace

    from gpubench.transformer.measured.layer_run import measure_layer
    from gpubench.transformer.measured.timers import HostTimer

    sc = Scenario("decode", 2, 1, 16, "fp32", fusion=False)
    pred = predict_model(TINY, sc, get_spec("h100_sxm5"))
    plan = [
        replace(p, variants=tuple(v for v in p.variants if v in ("torch", "unfused")))
        for p in plan_layer(layer_operators(TINY, sc), sc, registry)
    ]
    ops, layer = measure_layer(
        plan, pred, torch.device("cpu"), timer_factory=lambda device, mode: HostTimer()
    )
    doc = layer_document(pred, ops, layer, "cpu")
    by = {o["name"]: o for o in doc["operators"]}
    assert (
        by["qkv_proj"]["best_variant"] == "torch"
        and by["qkv_proj"]["variants"]["torch"]["correctness"]["passed"]
    )
    assert by["attn_norm"]["best_variant"] == "unfused" and by["rope"]["measured_by"] == "torch op"
    assert all(o["measured_s"] > 0 for o in doc["operators"]) and doc["layer"]["torch_layer_s"] > 0
    assert doc["layer"]["sum_of_operators_s"] == pytest.approx(sum(o["measured_s"] for o in doc["operators"]))
    json.dumps(doc)
    text = "\n".join(layer_cli.result_lines(doc))
    assert "rmsnorm/unfused" in text and "torch op" in text and "one layer: sum of the operators" in text


def test_a_wrong_variant_is_caught_and_the_torch_op_stands_in(registry, monkeypatch):
    from dataclasses import replace

    import gpubench.kernels
    from gpubench.kernels import REGISTRY, Variant
    from gpubench.transformer.measured.layer_run import measure_layer
    from gpubench.transformer.measured.timers import HostTimer

    rms = REGISTRY["rmsnorm"]
    wrong = Variant("torch", "torch", lambda x, w, eps: rms.reference(x, w, eps) * 1.01)  # 1 % off
    monkeypatch.setattr(gpubench.kernels, "REGISTRY", {"rmsnorm": replace(rms, variants={"torch": wrong})})
    sc = Scenario("decode", 1, 1, 8, "fp32")
    pred = predict_model(TINY, sc, get_spec("h100_sxm5"))
    plan = [p for p in plan_layer(layer_operators(TINY, sc), sc, registry) if p.op.name == "attn_norm"]
    plan = [replace(plan[0], variants=("torch",))]
    (m,), _ = measure_layer(plan, pred, torch.device("cpu"), timer_factory=lambda device, mode: HostTimer())
    assert m.variants["torch"]["failed"].startswith("incorrect: rmsnorm/torch")
    assert m.best[0] == "torch_op" and m.variants["torch_op"]["median_s"] > 0  # the torch op stood in
