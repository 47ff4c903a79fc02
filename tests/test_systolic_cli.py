"""`gpubench systolic` and `gpubench dse`: JSON and tables, SCALE-Sim inputs, the GPU side by side, the
objective language, the Pareto plot, and one-line exit-2 errors for bad input."""

import argparse
import json
import re
import shlex
from pathlib import Path

import pytest

from gpubench.roofline.roof import Ceilings, predict
from gpubench.roofline.specs import get_spec
from gpubench.systolic import cli, dse, dse_cli
from gpubench.systolic.expr import Objective

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "systolic" / "data"
GEMMS = str(DATA / "tiny_transformer.csv")
CNN = str(DATA / "tiny_cnn.csv")


def _json(capsys, main, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_the_documented_fields(capsys):
    out = _json(capsys, cli.main, [GEMMS, "--json"])
    assert out["config"]["source"].endswith("default.toml")  # no --config: the documented default
    assert len(out["layers"]) == 6 and out["total_cycles"] == sum(x["cycles"] for x in out["layers"])
    first = out["layers"][0]
    assert {
        "cycles",
        "mapping_efficiency",
        "compute_utilization",
        "folds",
        "fold_cycles",
        "stall_cycles",
        "sram_reads",
        "sram_writes",
        "dram_reads",
        "dram_writes",
        "bandwidth_needed",
    } <= set(first)
    assert 0 < first["mapping_efficiency"] <= 1


def test_table_by_default(capsys):
    assert cli.main([CNN, "--dataflow", "os", "--array", "16x16"]) == 0
    text = capsys.readouterr().out
    assert "16x16 array, output stationary (os)" in text and re.search(r"^total\s", text, re.M)
    assert "DP_conv3" in text


def test_paper_cycle_model_adds_the_os_drain(capsys):
    sim = _json(capsys, cli.main, [GEMMS, "--dataflow", "os", "--json"])
    paper = _json(capsys, cli.main, [GEMMS, "--dataflow", "os", "--json", "--cycle-model", "paper"])
    for s, p in zip(sim["layers"], paper["layers"]):
        assert p["cycles"] - s["cycles"] == s["folds"]["total"] * 32 + 1


def test_scalesim_config_with_user_bandwidth_stalls(capsys):
    out = _json(capsys, cli.main, [GEMMS, "--config", str(DATA / "edge_16x8_user.cfg"), "--json"])
    assert out["config"]["rows"] == 16 and out["config"]["cols"] == 8 and out["config"]["dataflow"] == "os"
    assert out["stall_cycles"] > 0
    assert out["total_cycles"] == out["compute_cycles"] + out["stall_cycles"]
    more = _json(
        capsys,
        cli.main,
        [GEMMS, "--config", str(DATA / "edge_16x8_user.cfg"), "--json", "--bandwidth", "1000"],
    )
    assert more["stall_cycles"] == 0


def test_suite_formats(capsys):
    out = _json(
        capsys, cli.main, [str(DATA / "mixed.toml"), "--config", str(DATA / "tpu_like.toml"), "--json"]
    )
    assert out["topology"]["format"] == "suite" and out["config"]["rows"] == 128
    dw = out["layers"][-1]
    assert dw["kind"] == "conv" and dw["repeat"] == 64


def test_gpu_side_by_side(capsys):
    argv = [GEMMS, "--gpu", "h100_sxm5", "--clock-mhz", "500", "--dtype", "bf16", "--json"]
    out = _json(capsys, cli.main, argv)
    g = out["gpu"]
    assert g["gpu"] == "NVIDIA H100 SXM5 80GB" and g["note"] is None and g["clock_mhz"] == 500
    first = g["layers"][0]
    m, n, k = first["m"], first["n"], first["k"]
    expected = predict(
        2 * m * n * k,
        (m * k + k * n + m * n) * 2,
        "bf16",
        Ceilings.from_spec(get_spec("h100_sxm5")),
        uses_tensor_cores=True,
    )
    assert first["gpu_time_s"] == pytest.approx(expected.time_s, rel=1e-12)
    assert first["array_time_s"] == pytest.approx(out["layers"][0]["cycles"] / 500e6, rel=1e-12)
    assert cli.main([GEMMS, "--gpu", "h100_pcie"]) == 0
    assert "beside NVIDIA H100 PCIe 80GB" in capsys.readouterr().out


BAD = Path(__file__).resolve().parent / "data"


@pytest.mark.parametrize(
    "files,args,message",
    [
        ({"t.csv": "Layer, M, N, K,\nfc, 8, 0, 8,\n"}, ["t.csv"], r"t.csv line 2 \(layer 'fc'\): N must be"),
        ({"t.csv": "Layer, M, N, K,\nfc, 8, -8, 8,\n"}, ["t.csv"], r"line 2 .*N must be a positive integer"),
        ({"c.toml": "rows = 0\n"}, [GEMMS, "--config", "c.toml"], "rows must be a positive integer, got 0"),
        ({"c.toml": 'dataflow = "xs"\n'}, [GEMMS, "--config", "c.toml"], "unknown dataflow 'xs'"),
        ({}, [GEMMS, "--dataflow", "rs"], "--dataflow: unknown dataflow 'rs'"),
        ({}, [GEMMS, "--array", "0x8"], "--array: rows and columns must be positive"),
        (
            {"c.toml": "rows = 64\ncols = 64\nfilter_sram_kb = 1\n"},
            [GEMMS, "--config", "c.toml"],
            "filter SRAM of 1 KB .* cannot hold one fold of layer 'qkv_proj'",
        ),
        ({}, ["missing.csv"], "cannot read topology 'missing.csv'"),
        ({}, [GEMMS, "--cycle-model", "exact"], "--cycle-model: unknown cycle model"),
        ({}, [GEMMS, "--gpu", "Z9000"], "--gpu: unknown GPU 'Z9000'"),
        ({}, [GEMMS, "--bandwidth", "fast"], r"argument --bandwidth: 'fast' is not a number \(words/cycle\)"),
        (
            {},
            [GEMMS, "--bandwidth", "nan"],
            r"argument --bandwidth: 'nan' is not a finite number \(words/cycle\)",
        ),
        (
            {},
            [GEMMS, "--gpu", "h100_sxm5", "--clock-mhz", "nan"],
            r"--clock-mhz: 'nan' is not a finite number \(MHz\)",
        ),
        ({}, [GEMMS, "--clock-mhz", "500"], "--clock-mhz applies only with --gpu or --spec-file"),
        ({}, [GEMMS, "--gpu", "H100"], r"ambiguous GPU 'H100': .*\(h100_sxm5\), .*\(h100_pcie\)"),
        ({}, [GEMMS, "--ceilings", "c.json"], "--ceilings applies only with --gpu or --spec-file"),
        ({}, [GEMMS, "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_problem(
    tmp_path, monkeypatch, capsys, files, args, message
):
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpubench systolic: "), captured.err
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in captured.err and captured.out == ""


def test_add_parser_registers_a_subcommand(capsys):
    parser = argparse.ArgumentParser(prog="gpubench")
    sub = parser.add_subparsers(dest="command")
    for module in (cli, dse_cli):
        module.add_parser(sub)
    args = parser.parse_args(["systolic", GEMMS, "--json"])
    assert args.func(args) == 0 and json.loads(capsys.readouterr().out)["total_cycles"] > 0
    args = parser.parse_args(["dse", GEMMS, "--shapes", "8x8,16x16", "--json"])
    assert args.func(args) == 0 and json.loads(capsys.readouterr().out)["evaluated"] == 6


# ----------------------------------------------------------------------------------------------------- dse

OBJECTIVE = "80000 / cycles + 8 * mapping_efficiency"


def test_dse_small_sweep_top_k_and_pareto(capsys, tmp_path):
    plot = tmp_path / "front.png"
    argv = [
        CNN,
        "--objective",
        OBJECTIVE,
        "--rows",
        "8,16,32",
        "--cols",
        "8..32",
        "--sram-kb",
        "8,64",
        "--bandwidth",
        "16",
        "--top",
        "4",
        "--plot",
        str(plot),
        "--json",
    ]
    out = _json(capsys, dse_cli.main, argv)
    assert out["evaluated"] + len(out["skipped"]) == 3 * 3 * 2 * 3
    scores = [p["objective"] for p in out["top"]]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True)
    assert len({p["label"] for p in out["top"]}) == 4
    for p in out["top"]:
        assert p["objective"] == pytest.approx(80000 / p["cycles"] + 8 * p["mapping_efficiency"], rel=1e-12)
    front = out["pareto"]
    assert [p["area"] for p in front] == sorted(p["area"] for p in front)
    assert all(a["cycles"] > b["cycles"] for a, b in zip(front, front[1:]))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out["plot"] == str(plot)


def test_pareto_front_is_exactly_the_non_dominated_set(capsys):
    out = _json(
        capsys, dse_cli.main, [GEMMS, "--rows", "8..64", "--cols", "8..64", "--top", "1000", "--json"]
    )
    points = out["top"]  # every configuration, as --top exceeds the sweep
    assert len(points) == out["evaluated"] == 48

    def dominated(p):
        return any(
            q["cycles"] <= p["cycles"]
            and q["area"] <= p["area"]
            and (q["cycles"], q["area"]) != (p["cycles"], p["area"])
            for q in points
        )

    expected = {(p["cycles"], p["area"]) for p in points if not dominated(p)}
    assert {(p["cycles"], p["area"]) for p in out["pareto"]} == expected


def test_top_k_keeps_distinct_configurations_and_breaks_ties_by_area():
    from gpubench.systolic.config import ArrayConfig

    base = ArrayConfig()
    a = dse.Point(base, {"area": 2.0, "pes": 1024, "sram_kb": 192, "cycles": 10}, 1.0)
    b = dse.Point(base.replace(rows=16), {"area": 1.0, "pes": 512, "sram_kb": 192, "cycles": 12}, 1.0)
    c = dse.Point(base.replace(rows=8), {"area": 0.5, "pes": 256, "sram_kb": 192, "cycles": 20}, 0.5)
    top = dse.top_k([a, a, b, c], 2)
    assert [p.config.rows for p in top] == [16, 32]  # a given twice counts once; the tie goes to the smaller
    assert [p.config.rows for p in dse.top_k([a, b, c], 3, maximize=False)] == [8, 16, 32]


def test_objective_language():
    values = {"cycles": 1000.0, "mapping_efficiency": 0.5, "area": 2.0}
    assert Objective(OBJECTIVE).evaluate(values) == pytest.approx(84.0)
    assert Objective("-cycles * area + max(1, log2(cycles))").evaluate(values) == pytest.approx(
        -2000 + 9.965784284662087
    )


@pytest.mark.parametrize(
    "objective,message",
    [
        ("cycels", "unknown name 'cycels'"),
        ("80000 / ", "invalid syntax"),
        ("__import__('os').getcwd()", "is not allowed|unknown function"),
        ("cycles.real", "is not allowed"),
        ("cycles > 3", "is not allowed"),
        ("system(1)", "unknown function 'system'"),
        ("1 / stall_cycles", "division by zero for"),
    ],
)
def test_bad_objectives_exit_2(capsys, objective, message):
    assert dse_cli.main([GEMMS, "--objective", objective, "--shapes", "16x16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gpubench dse: ") and re.search(message, err[0]), err


@pytest.mark.parametrize(
    "args,message",
    [
        (["--rows", "0,8"], "--rows: expected positive numbers"),
        (["--shapes", "8by8"], "--shapes: expected ROWSxCOLS"),
        (["--dataflows", "os,xs"], "unknown dataflow 'xs'"),
        (["--sram-kb", "8", "--ifmap-kb", "4"], "--sram-kb and --ifmap-kb cannot be given together"),
        (["--shapes", "8x8", "--rows", "8"], "--shapes and --rows cannot be given together"),
        (["--top", "0"], "--top: 0 configurations is out of range: it must be at least 1"),
        (["--pe-area", "inf"], r"--pe-area: 'inf' is not a finite number \(mm\^2\)"),
        (["--rows", "1..4096", "--cols", "1..4096", "--max-configs", "10"], "more than --max-configs 10"),
        (
            ["--shapes", "64x64", "--filter-kb", "1", "--dataflows", "ws"],
            "no configuration of the sweep can run",
        ),
    ],
)
def test_bad_sweeps_exit_2(capsys, args, message):
    assert dse_cli.main([GEMMS, *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err


# ---------------------------------------------------------------------------------------------- the docs


def _doc_commands():
    text = (REPO / "docs" / "systolic.md").read_text()
    return [line[2:] for line in re.findall(r"^\$ gpubench (?:systolic|dse) .*$", text, re.M)]


@pytest.mark.parametrize("command", _doc_commands())
def test_documented_examples_run_as_written(command, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(REPO)
    argv = shlex.split(command)[1:]
    if "--plot" in argv:  # keep the checkout clean
        argv[argv.index("--plot") + 1] = str(tmp_path / "pareto.png")
    if "--results" in argv:  # the docs' results.json stands for a run of the user's: the committed H100 one
        h100 = REPO / "reports" / "reference" / "NVIDIA-H100-80GB-HBM3"
        argv[argv.index("--results") + 1] = str(h100 / "results-quick.json")
    main = cli.main if argv[0] == "systolic" else dse_cli.main
    assert main(argv[1:]) == 0, capsys.readouterr().err
