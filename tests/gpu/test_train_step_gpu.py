"""The measured training step on the GPU (gpubench train-step): a 2-layer Llama-3-8B-shaped model, a real
mixed-precision AdamW step, device times and the peak memory next to the planner's prediction. Run with
`nox -s gpu` (or TRITON_INTERPRET=0 pytest tests/gpu/test_train_step_gpu.py -m gpu)."""

import json

import pytest
import torch

from gpubench.cli import main
from gpubench.roofline.specs import match_gpu
from gpubench.transformer.configs import MODELS
from gpubench.transformer.measured.train_step import measure_train_step, stacked, train_step_document
from gpubench.transformer.training.efficiency import roofs_for
from gpubench.transformer.training.layout import Job, Layout
from gpubench.transformer.training.step import predict_step

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
CFG = stacked(MODELS["llama-3-8b"], 2)
BATCH, SEQ = 1, 4096


@pytest.fixture(scope="module")
def spec():
    s = match_gpu(torch.cuda.get_device_name(0))
    if s is None:
        pytest.skip(f"{torch.cuda.get_device_name(0)} is not in the spec database")
    return s


@pytest.fixture(scope="module")
def measured():
    return measure_train_step(CFG, batch=BATCH, seq=SEQ, device="cuda", steps=5, warmup=2)


def test_no_phase_beats_the_datasheet(measured, spec):
    """The datasheet's roofs bound every kernel from below: the measured step cannot be faster than the
    planner's datasheet prediction (5 % for the timer and clocks above the datasheet's boost)."""
    job = Job(CFG, SEQ, BATCH)
    sheet = predict_step(job, Layout(), spec, roofs_for(spec, side="datasheet"), None)
    assert sum(measured["phases_s"].values()) > 0.95 * sheet.step_time_s


def test_the_peak_memory_holds_at_least_the_model_states(measured, spec):
    doc = train_step_document(CFG, spec, measured, batch=BATCH, seq=SEQ)
    states = sum(
        doc["prediction"]["memory"]["terms_bytes"][k] for k in ("weights", "gradients", "optimizer states")
    )
    assert measured["peak_memory_bytes"] >= states
    assert 0 < doc["measured"]["mfu"] < 1


def test_train_step_command_writes_the_record(tmp_path):
    out = tmp_path / "train-step.json"
    assert main(["train-step", "llama-3-8b", "--layers", "2", "--seq", "2048", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert "CUDA events" in doc["measured"]["timer"] and doc["measured"]["memory_per_gpu_bytes"] > 0
