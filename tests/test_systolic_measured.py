"""`gpubench systolic ... --gpu NAME --results FILE`: the array's cycles at its clock beside the measured
conv2d records of the same layers. The shipped layer file holds exactly the conv2d workload's layers; the
results file is the committed H100 quick run's GEMM records given conv2d names and shapes (no convolution
has been measured on a GPU yet: their samples are real, their names are not, as in
tests/test_report_conv.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from gpubench import results
from gpubench.kernels.conv2d import shapes
from gpubench.systolic import cli
from gpubench.systolic.measured import is_layer
from gpubench.systolic.topology import read_topology
from tests.support import realdata

LAYERS_FILE = Path(__file__).resolve().parents[1] / "systolic" / "data" / "conv_layers.toml"
LAYER = "resnet50.conv4_x.3x3"


def test_the_layer_file_holds_the_workloads_layers():
    topo = read_topology(LAYERS_FILE)
    for name, shape in shapes.LAYERS.items():
        matched = [layer.name for layer in topo.layers if is_layer(layer, shape)]
        assert matched == [name.split(".b")[0] if name.startswith("resnet50") else name], name
    assert all(any(is_layer(layer, s) for s in shapes.LAYERS.values()) for layer in topo.layers)
    assert not any(is_layer(topo.layers[0], s) for s in shapes.TEST)


@pytest.fixture
def converted(tmp_path):
    """The H100's bf16 4096^3 GEMM records as conv2d records of LAYER at batch 32 (triton, torch) and 128
    (torch), and one fp32 record."""
    run = realdata.h100()
    gemm = {"M": 4096, "N": 4096, "K": 4096}
    picks = [("triton", "bf16", 32, "triton"), ("torch", "bf16", 32, "torch"),
             ("torch", "bf16", 128, "torch"), ("triton", "fp32", 32, "triton")]  # fmt: skip
    recs = []
    for variant, dtype, batch, new in picks:
        rec = realdata.record(run, "gemm", variant, dtype, **gemm)
        shape = {**shapes.LAYERS[f"{LAYER}.b32"], "batch": batch}
        recs.append(dataclasses.replace(rec, workload="conv2d", variant=new, shape=shape, details={}))
    run.records = recs
    return results.write(run, tmp_path / "converted.json"), recs


def _systolic(*args) -> int:
    return cli.main([str(LAYERS_FILE), "--gpu", "h100_sxm5", *map(str, args)])


def test_each_record_of_a_layer_beside_the_arrays_time(converted, capsys):
    path, recs = converted
    assert _systolic("--dtype", "bf16", "--results", path, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    m = out["gpu"]["measured"]
    cycles = next(x["cycles"] for x in out["layers"] if x["name"] == LAYER)
    assert [(r["name"], r["batch"]) for r in m["rows"]] == [(LAYER, 32), (LAYER, 128)]
    fastest = min(recs[:2], key=lambda r: r.median)  # batch 32: the faster of triton and torch
    row = m["rows"][0]
    assert row["gpu_variant"] == fastest.variant and row["gpu_median_s"] == fastest.median
    assert row["array_time_s"] == pytest.approx(32 * cycles / (out["gpu"]["clock_mhz"] * 1e6))
    assert m["rows"][1]["gpu_median_s"] == recs[2].median and m["device"] == realdata.H100
    assert _systolic("--dtype", "bf16", "--results", path) == 0
    text = capsys.readouterr().out
    assert f"measured on {realdata.H100} (bf16" in text and f"{LAYER}     32" in text


def test_records_of_another_dtype_are_named_not_matched(converted, capsys):
    path, _ = converted
    assert _systolic("--dtype", "fp16", "--results", path) == 0
    assert "no ok conv2d record of dtype fp16" in capsys.readouterr().out


def test_bad_results_arguments_are_one_line(converted, tmp_path, capsys):
    path, _ = converted
    assert cli.main([str(LAYERS_FILE), "--results", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--results" in err and "--gpu" in err and len(err.splitlines()) == 1
    assert _systolic("--results", tmp_path / "missing.json") == 2
    err = capsys.readouterr().err.strip()
    assert "--results" in err and "missing.json" in err and len(err.splitlines()) == 1
