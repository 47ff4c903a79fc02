"""`gpubench model`: the JSON document's fields, the table, the what-ifs against the baseline, the plot,
and one-line exit-2 errors for bad input; it runs with torch unimportable."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gpubench.transformer import model_cli
from tests.support.realdata import REFERENCE

REPO = Path(__file__).resolve().parent.parent
CEILINGS = str(REFERENCE / "NVIDIA-H100-80GB-HBM3" / "ceilings.json")
PREFILL = ["llama-7b", "--phase", "prefill", "--seq", "2048", "--gpu", "h100_sxm5"]
DECODE = ["llama-7b", "--phase", "decode", "--context", "2048", "--batch", "16", "--gpu", "h100_sxm5"]


def _json(capsys, argv):
    assert model_cli.main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_the_documented_fields(capsys):
    doc = _json(capsys, [*PREFILL, "--ceilings", CEILINGS])
    for key in (
        "total_flops",
        "total_bytes",
        "predicted_s",
        "predicted_measured_s",
        "operators",
        "per_layer",
        "tokens_per_s",
        "memory",
        "fits",
        "scenario",
        "model",
        "gpu",
    ):
        assert key in doc, key
    names = [o["name"] for o in doc["operators"]]
    assert names == [
        "attn_norm",
        "qkv_proj",
        "rope",
        "attention",
        "o_proj",
        "attn_residual",
        "mlp_norm",
        "gate_up_proj",
        "act",
        "down_proj",
        "mlp_residual",
        "embedding",
        "final_norm",
        "lm_head",
    ]
    qkv = doc["operators"][1]
    assert qkv["flops"] == 2 * 2048 * 12288 * 4096 and qkv["count"] == 32
    assert qkv["datasheet"]["bound"] == "compute" and qkv["measured"]["predicted_s"] > 0
    assert doc["total_flops"] == sum(o["flops"] * o["count"] for o in doc["operators"])
    assert doc["predicted_s"] == pytest.approx(
        sum(o["datasheet"]["predicted_s"] * o["count"] for o in doc["operators"])
    )
    assert doc["fits"] is True and doc["memory"]["weights_bytes"] == 6738415616 * 2
    assert doc["tokens_per_s"]["datasheet"] == pytest.approx(2048 / doc["predicted_s"])


def test_the_table_says_how_attention_is_counted(capsys):
    assert model_cli.main(DECODE) == 0
    out = capsys.readouterr().out
    assert "LLaMA-7B on NVIDIA H100 SXM5 80GB: decode, batch 16, 1 new token, context 2048, bf16" in out
    assert "bottom-right aligned" in out and "pairs computed" in out
    assert "one layer" in out and "tokens/s over the batch" in out and ": fits" in out
    assert "arXiv:2302.13971" in out  # the config's source


def test_whatifs_are_set_against_the_baseline(capsys):
    doc = _json(capsys, [*DECODE, "--weights", "int4", "--fusion", "off"])
    labels = [w["label"] for w in doc["whatifs"]]
    assert labels == ["weights int4 (group 128)", "fusion off", "all together"]
    w4 = doc["whatifs"][0]
    assert w4["whatif"]["total_flops"] == w4["baseline"]["total_flops"]
    assert w4["whatif"]["total_bytes"] < 0.75 * w4["baseline"]["total_bytes"]
    changed = {o["name"] for o in w4["operators"]}
    assert changed == {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"}  # the LM head stays bf16
    off = {o["name"]: o for o in doc["whatifs"][1]["operators"]}
    assert off["attention"]["whatif"]["flops"] is None and off["attn_scores"]["baseline"]["flops"] is None
    assert model_cli.main([*DECODE, "--tile", "64x64x64"]) == 0
    text = capsys.readouterr().out
    assert "what-if tile 64x64x64 output_stationary against the baseline" in text


def test_plot_is_written(tmp_path, capsys):
    out = tmp_path / "kinds.png"
    assert model_cli.main([*PREFILL, "--weights", "fp8", "--plot", str(out)]) == 0
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"


def test_list_names_every_model(capsys):
    assert model_cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    for key in ("llama-7b", "llama-3-8b", "llama-3-70b", "llama-3-405b", "gpt-3-175b"):
        assert key in out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["llama-9b", *PREFILL[1:]], "unknown model 'llama-9b'; known: llama-7b"),
        ([*DECODE[:3], "--context", "4096", *DECODE[-2:]], "longer than LLaMA-7B allows (2048 tokens)"),
        ([*PREFILL, "--batch", "0"], "--batch: 0 sequences is out of range: it must be at least 1"),
        ([*PREFILL[:3], "--seq", "0", *PREFILL[-2:]], "--seq: 0 tokens is out of range"),
        ([*PREFILL[:3], "--seq", "1e400", *PREFILL[-2:]], "--seq: '1e400' is not a whole number (tokens)"),
        (["llama-7b", "--phase", "decode", "--gpu", "h100_sxm5"], "decode needs --context"),
        ([*PREFILL[:3], *PREFILL[-2:]], "prefill needs --seq"),
        (["llama-7b", "--seq", "8", "--gpu", "h100_sxm5"], "--phase is required"),
        (["llama-7b", "--phase", "prefill", "--seq", "8"], "--gpu is required"),
        ([*PREFILL[:-1], "tpu9"], "unknown GPU 'tpu9'"),
        ([*PREFILL, "--tile", "128x128"], "--tile must look like 128x128x64"),
        ([*PREFILL, "--weights", "int4", "--group", "100"], "do not divide"),
        ([*PREFILL, "--group", "64"], "--group applies only with --weights"),
        ([*PREFILL, "--ceilings", "/nonexistent/c.json"], "c.json"),
        ([*PREFILL, "--plot", "/tmp/x.gif"], "must end in .png"),
        ([*PREFILL, "--phase", "train"], "invalid choice: 'train'"),
        ([*PREFILL, "--batch", "two"], "--batch: 'two' is not a whole number (sequences)"),
        (["--list", "llama-7b"], "--list and NAME cannot be given together"),
        ([*PREFILL, "--dataflow", "a_stationary"], "--dataflow applies only with --tile"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, words):
    with pytest.raises(SystemExit) as exc:
        sys.exit(model_cli.main(argv))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("gpubench model: error: ") and err.count("\n") == 1 and words in err, err


def test_runs_through_gpubench_with_torch_unimportable():
    code = (
        "import sys\nfor m in ('torch', 'triton', 'cupy'): sys.modules[m] = None\n"
        "from gpubench.cli import main\nsys.exit(main(sys.argv[1:]))"
    )
    p = subprocess.run(
        [sys.executable, "-c", code, "model", *DECODE, "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["predicted_s"] > 0


def test_ceilings_of_another_gpu_model_are_refused(capsys):
    """The H100's ceilings are not the H200's: presenting them as its figures would mislead."""
    argv = [*DECODE[:-1], "h200_sxm", "--ceilings", CEILINGS, "--json"]
    assert model_cli.main(argv) == 2
    captured = capsys.readouterr()
    assert "measured on NVIDIA H100 80GB HBM3, not on NVIDIA H200 SXM 141GB" in captured.err
    assert captured.out == "" and captured.err.count("\n") == 1
