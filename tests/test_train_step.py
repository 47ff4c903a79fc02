"""The measured training step (gpubench train-step) on the CPU: the same code the GPU pack runs, on a tiny
model, timed on the host and labelled so, in the planner's record format."""

import json

import pytest
import torch

from gpubench.cli import main
from gpubench.roofline.specs import get_spec
from gpubench.transformer.measured.train_step import (
    PHASES,
    MixedAdamW,
    StackedModel,
    measure_train_step,
    stacked,
    train_step_document,
)
from tests.support.realdata import H100_CEILINGS, H200_CEILINGS
from tests.support.tiny_model import TINY


@pytest.fixture(scope="module")
def measured():
    return measure_train_step(stacked(TINY, 2), batch=2, seq=32, steps=2, warmup=1)


def test_each_phase_is_timed_on_the_host_and_said_so(measured):
    assert set(measured["phases_s"]) == set(PHASES)
    assert all(t > 0 for t in measured["phases_s"].values())
    assert all(len(v) == 2 for v in measured["samples_s"].values())
    assert "HOST wall time" in measured["timer"] and measured["peak_memory_bytes"] is None
    assert measured["loss"] == pytest.approx(torch.log(torch.tensor(100.0)).item(), rel=0.2)  # ~ln(vocab)


def test_the_record_has_the_planners_keys_for_both_sides(measured):
    doc = train_step_document(stacked(TINY, 2), get_spec("h100_sxm5"), measured, batch=2, seq=32)
    keys = {"step_time_s", "tokens_per_s", "tflops_per_gpu", "mfu", "memory_per_gpu_bytes", "terms"}
    assert keys <= set(doc["measured"]) and keys <= set(doc["prediction"])
    predicted = [t["name"] for t in doc["prediction"]["terms"]]
    assert all(t["name"] in predicted for t in doc["measured"]["terms"])
    assert doc["measured"]["mfu"] is None  # no MFU from host time against a GPU's peak
    assert doc["prediction"]["layout"]["gpus"] == 1 and doc["prediction"]["topology"] is None


def test_the_optimizer_step_updates_the_16_bit_weights_from_fp32_masters():
    torch.manual_seed(0)
    model = StackedModel(stacked(TINY, 1), 16, 1, "cpu", torch.bfloat16)
    opt = MixedAdamW(list(model.parameters()), fused=False)
    assert all(m.dtype == torch.float32 and m.grad.dtype == torch.float32 for m in opt.master)
    before = model.head.weight.detach().clone()
    tokens = torch.randint(0, TINY.vocab, (1, 16))
    model(tokens, tokens).backward()
    opt.step()
    assert model.head.weight.dtype == torch.bfloat16
    assert not torch.equal(model.head.weight, before)
    assert all(p.grad is None for p in model.parameters())  # moved into the fp32 buffers


def test_train_step_cli_writes_the_record(tmp_path, capsys):
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({k: v for k, v in TINY.to_json().items() if k not in ("params",)}))
    out = tmp_path / "step.json"
    rc = main(["train-step", str(cfg), "--layers", "1", "--batch", "1", "--seq", "16", "--steps", "1",
               "--warmup", "0", "--device", "cpu", "--out", str(out)])  # fmt: skip
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "gpubench.train" and doc["measured"]["device"] == "cpu"
    assert "measured" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--layers", "0"], "--layers: 0 layers is out of range"),
    (["--layers", "33"], "--layers 33: Llama-3-8B has 32 layers"),
    (["--seq", "100000"], "longer than"),
    (["--out", "/no/such/dir/x.json"], "no such folder"),
    (["--gpu", "h200", "--ceilings", str(H100_CEILINGS)], "on NVIDIA H100 80GB HBM3, not on NVIDIA H200"),
    (["--ceilings", str(H200_CEILINGS)], "not on NVIDIA H100 SXM5 80GB"),  # the CPU's stand-in GPU: an H100
    (["--what-if", "dram_bw=2x"], "--what-if needs a GPU"),
])  # fmt: skip
def test_train_step_bad_input_exits_2(args, message, capsys):
    rc = main(["train-step", "llama-3-8b", "--device", "cpu", *args])
    err = capsys.readouterr().err
    assert rc == 2 and message in err.strip().splitlines()[-1]
