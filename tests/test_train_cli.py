"""`gpubench train`: the report, its JSON, the search, the largest model, a token budget, and bad input
(exit 2, one line naming the constraint)."""

import json
import re

import pytest

from gpubench.cli import main
from tests.support.realdata import H200_CEILINGS

BASE = ["train", "llama-3-8b", "--gpu", "h100_sxm5", "--seq", "4096", "--global-batch", "64"]


def _run(capsys, *args):
    rc = main([*BASE, *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_the_report_shows_memory_terms_and_rates(capsys):
    rc, out, err = _run(capsys, "--gpus", "16", "--tp", "4", "--pp", "2", "--zero", "1", "--tokens", "1e12")
    assert rc == 0, err
    for what in (
        "Memory",
        "optimizer states",
        "activations",
        "fits, with",
        "pipeline bubble",
        "TP communication",
        "MFU",
        "HFU",
        "tokens/s",
        "GPU-hours",
        "all_gather",
        "overlaps",
    ):
        assert what in out, what


def test_json_has_the_step_the_rates_the_memory_and_the_terms(capsys):
    rc, out, _ = _run(capsys, "--gpus", "8", "--tp", "8", "--json")
    assert rc == 0
    doc = json.loads(out)
    for key in ("step_time_s", "tokens_per_s", "tflops_per_gpu", "mfu", "memory_per_gpu_bytes", "terms"):
        assert key in doc
    assert doc["step_time_s"] == pytest.approx(sum(t["seconds"] for t in doc["terms"]))
    assert doc["memory_per_gpu_bytes"] == sum(doc["memory"]["terms_bytes"].values())
    assert doc["layout"]["sp"] is True and doc["roofs"]["side"] == "measured"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gpus", "16", "--tp", "8", "--pp", "4"], "TP x CP x PP = 32 does not divide the 16 GPUs"),
        (["--gpus", "16", "--tp", "4", "--pp", "2", "--dp", "4"], "= 32, not the 16 GPUs"),
        (["--gpus", "6", "--tp", "6"], "TP 6 does not divide the 32 attention heads"),
        (["--gpus", "6", "--pp", "6"], "PP 6 does not divide the 32 layers"),
        (["--gpus", "8", "--micro-batch", "3"], "micro-batch 3 does not divide the 8 sequences per DP rank"),
        (["--gpus", "8", "--cp", "8", "--seq", "4088"], "2 x CP = 16 equal chunks"),
        (["--gpus", "8", "--seq", "100000"], "longer than Llama-3-8B allows"),
        (["--gpus", "1"], "more than NVIDIA H100 SXM5 80GB's 80.0 GiB"),
        (["--gpus", "8", "--topology", "nowhere"], "nowhere"),
        (["--gpus", "8", "--plot", "x.txt"], "--plot x.txt"),
        ([], "--gpus is required"),
        (["--gpus", "0"], "--gpus: 0 GPUs is out of range"),
        (["--gpus", "8", "--tokens", "nan"], "--tokens: 'nan' is not a finite number (tokens)"),
        (["--gpus", "8", "--search", "--tp", "2"], "--search and --tp cannot be given together"),
        (["--gpus", "8", "--top", "3"], "--top applies only with --search"),
        (["--gpus", "8", "--interleave", "2"], "--interleave applies only with --pp"),
        (["--gpus", "8", "--what-if", "dram=2x"], "--what-if 'dram=2x'"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_it(capsys, args, message):
    rc, _, err = _run(capsys, *args)
    assert rc == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith("gpubench train: error:") and message in line, err


def test_a_search_with_nothing_that_fits_says_how_much_memory_is_short(capsys):
    rc, _, err = _run(capsys, "--gpus", "1", "--search")
    assert rc == 2
    assert "nothing fits" in err and "short by" in err and "GiB" in err


def test_search_lists_fitting_layouts_fastest_first(capsys, tmp_path):
    plot = tmp_path / "search.png"
    rc, out, err = _run(capsys, "--gpus", "16", "--search", "--top", "3", "--plot", str(plot))
    assert rc == 0, err
    assert "layouts considered" in out and "best" in out
    ranks = re.findall(r"^\s*(\d+)\s+TP", out, re.M)
    assert ranks == ["1", "2", "3"]
    assert plot.stat().st_size > 0


def test_the_largest_model_of_a_family_is_found(capsys):
    rc, out, err = _run(capsys, "--gpus", "8", "--largest", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    largest = doc["largest"]
    assert largest["params"] > 8e9 and doc["memory"]["fits"] is True


@pytest.mark.slow
def test_llama_405b_on_16384_h100s_has_a_best_layout_that_fits(capsys):
    rc = main(["train", "llama-3-405b", "--gpu", "h100_sxm5", "--gpus", "16384", "--search", "--top", "1",
               "--json"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    best = json.loads(out)["ranked"][0]
    assert best["memory"]["fits"] is True and best["layout"]["gpus"] == 16384


def test_one_gpu_needs_no_topology_and_other_gpus_ceilings_are_refused(capsys):
    rc = main(["train", "llama-3-8b", "--gpu", "rtx_4090", "--gpus", "1", "--seq", "512",
               "--global-batch", "8"])  # fmt: skip
    out = capsys.readouterr()
    assert rc == 2 and "on 1 x NVIDIA GeForce RTX 4090, one GPU" in out.out and "more than" in out.err
    rc = main([*BASE, "--gpus", "8", "--tp", "8", "--ceilings", str(H200_CEILINGS)])
    err = capsys.readouterr().err
    assert rc == 2 and "was measured on NVIDIA H200, not on NVIDIA H100" in err  # roofline.target's rule


def test_a_what_if_and_a_spec_file_ask_the_same_question_of_train(capsys, tmp_path):
    one = ["--gpus", "1", "--json"]  # 8B on one 80 GB GPU: it does not fit
    rc, _, _ = _run(capsys, *one)
    assert rc == 2
    rc, out, err = _run(capsys, *one, "--what-if", "mem=1024GiB")
    assert rc == 0, err
    asked = json.loads(out)
    spec = tmp_path / "big.toml"
    spec.write_text('[gpus.big]\nbase = "h100_sxm5"\nmem_gb = 1024\n')
    rc = main(["train", *BASE[1:2], "--spec-file", str(spec), *BASE[4:], *one])
    out = capsys.readouterr()
    assert rc == 0, out.err
    mine = json.loads(out.out)
    assert mine["memory"]["fits"] is True and asked["memory"]["fits"] is True
    # the what-if also reaches the committed measured roofs, which the spec file's own GPU has none of
    assert "what-ifs applied" in asked["roofs"]["origin"] and mine["roofs"]["side"] != "measured"


def test_validate_takes_no_job_of_its_own(capsys):
    assert main(["train", "--validate", "--gpu", "h100_sxm5"]) == 2
    assert "--validate and --gpu cannot be given together" in capsys.readouterr().err
