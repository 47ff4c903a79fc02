"""`gpubench profile-module` on a machine without a GPU: the built-in block profiled with host times said
to be host times, CSV and picture written, a `transformers` model where that package is installed, and
one-line exit-2 errors (an untraceable module names where tracing stopped)."""

import csv
import json
import sys
import textwrap

import pytest
import torch

from gpubench.transformer.measured import profile_cli
from gpubench.transformer.measured.hf import hf_available

SMALL = ["--hidden", "64", "--heads", "4", "--kv-heads", "2", "--head-dim", "16", "--ffn", "96", "--seq", "8"]


def _err(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exc:
        sys.exit(profile_cli.main(argv))
    err = capsys.readouterr().err
    assert (
        exc.value.code == 2 and err.startswith("gpubench profile-module: error: ") and err.count("\n") == 1
    ), err
    return err


def test_builtin_block_json_csv_and_plot(capsys, tmp_path):
    out_csv, out_png = tmp_path / "n.csv", tmp_path / "g.png"
    argv = [
        *SMALL,
        "--device",
        "cpu",
        "--gpu",
        "h100_sxm5",
        "--csv",
        str(out_csv),
        "--plot",
        str(out_png),
        "--json",
    ]
    assert profile_cli.main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["module"] == "LlamaBlock" and doc["device_time"] is False and "HOST" in doc["timer"]
    assert doc["gpu"] == "NVIDIA H100 SXM5 80GB" and len(doc["heaviest"]) == 10
    linear = [n for n in doc["nodes"] if n["target"] == "linear"]
    assert len(linear) == 4 and all(n["flops_source"] == "FlopCounterMode" for n in linear)
    assert doc["total_flops"] == sum(n["flops"] or 0 for n in doc["nodes"] if n["time_s"] is not None)
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == len(doc["nodes"]) and rows[0]["op"] == "placeholder"
    assert out_png.read_bytes()[:4] == b"\x89PNG"


def test_decode_step_of_a_named_models_shape(capsys):
    argv = [
        "--config",
        "llama-3-8b",
        "--hidden",
        "128",
        "--heads",
        "8",
        "--kv-heads",
        "2",
        "--head-dim",
        "16",
        "--ffn",
        "256",
        "--phase",
        "decode",
        "--context",
        "64",
        "--batch",
        "2",
        "--device",
        "cpu",
        "--top",
        "3",
    ]
    assert profile_cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "heaviest 3 nodes by time:" in out and "not placed on a roofline" in out
    assert "__setitem__" in out  # the new K and V written into the cache


@pytest.mark.skipif(hf_available() is not None, reason=str(hf_available()))
def test_a_transformers_model_from_a_config(capsys):
    argv = [
        "--hf",
        "llama",
        "--hidden",
        "64",
        "--heads",
        "4",
        "--kv-heads",
        "2",
        "--ffn",
        "96",
        "--layers",
        "1",
        "--vocab",
        "128",
        "--seq",
        "8",
        "--device",
        "cpu",
        "--json",
    ]
    assert profile_cli.main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["module"] == "LlamaForCausalLM" and doc["tracer"] in (
        "torch.fx.symbolic_trace",
        "torch.export",
    )
    assert any(n["flops_source"] == "FlopCounterMode" for n in doc["nodes"])


@pytest.mark.skipif(hf_available() is None, reason="transformers is installed here")
def test_without_transformers_the_line_says_what_to_install(capsys):
    assert "pip install transformers" in _err(capsys, ["--hf", "llama", "--device", "cpu"])


UNTRACEABLE = """
import torch
from torch import nn

class Branchy(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x

def make():
    return Branchy(), (torch.randn(4),)

def bad():
    return 42
"""


def test_an_untraceable_module_is_one_line_naming_where(capsys, tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(textwrap.dedent(UNTRACEABLE))
    err = _err(capsys, ["--module", f"{path}:make", "--device", "cpu"])
    assert f"{path}:7 in forward `if x.sum() > 0:`" in err and "torch.export stopped at" in err
    assert "must return (module, inputs)" in _err(capsys, ["--module", f"{path}:bad"])
    assert "has no function 'nope'" in _err(capsys, ["--module", f"{path}:nope"])
    assert "no such file" in _err(capsys, ["--module", "/no/file.py:make"])


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--csv", "/tmp/x.txt"], "--csv /tmp/x.txt: the file must end in .csv"),
        (["--plot", "/no/dir/g.png"], "no such folder"),
        (["--top", "0"], "--top: 0 nodes is out of range: it must be at least 1 nodes"),
        (["--config", "llama-9b"], "unknown model 'llama-9b'"),
        ([*SMALL, "--batch", "0"], "--batch: 0 sequences is out of range"),
        ([*SMALL[:-2], "--seq", "0"], "--seq: 0 tokens is out of range"),
        (["--layers", "3"], "--layers applies only with --hf"),
        (["--module", "m.py:f", "--hidden", "64"], "--module and --hidden cannot be given together"),
        (["--phase", "decode"], "needs --context"),
        (["--config", "llama-7b", "--phase", "decode", "--context", "5000"], "longer than LLaMA-7B allows"),
        (["--gpu", "tpu9"], "unknown GPU 'tpu9'"),
        ([*SMALL, "--device", "cpu", "--ceilings", "c.json"], "measured ceilings need the GPU"),
        (["--builtin", "--hf", "llama"], "not allowed with argument"),
    ],
)
def test_bad_input_is_one_line(capsys, argv, words):
    assert words in _err(capsys, argv)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused(capsys):
    assert "torch sees no CUDA device" in _err(capsys, ["--device", "cuda"])
