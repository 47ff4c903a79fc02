"""The report renders a run that holds the convolution workloads and torch.compile baselines.

No such run has been measured on a GPU yet, so the records are real ones of the committed H100 quick run
(reports/reference/NVIDIA-H100-80GB-HBM3/results-quick.json: their samples, telemetry, FLOP and byte
counts, untouched) given the new workload, variant, role and shape names, as RENAMED below says record by
record; the fusion analysis they carry is the suite's accounting of the conv shape (computed, not measured).
So the figures in the rendered tables are the H100's GEMM and softmax timings under other names: this
checks the report's logic and layout, not convolution performance. The compile column is checked on
records measured on this machine (tests/test_torch_compile.py)."""

from __future__ import annotations

import dataclasses
import html
import re

import pytest

from gpubench import results
from gpubench.kernels.conv2d import shapes
from gpubench.kernels.fusion import fusion_bytes
from gpubench.reports import report_cli
from gpubench.reports.baseline_tables import baseline_tables
from gpubench.reports.tables import fusion_tables
from gpubench.roles import BASELINE, KERNEL, UNFUSED
from gpubench.roofline.placement import place_run
from tests.support import realdata

CONV = shapes.LAYERS["resnet50.conv4_x.3x3.b32"]
# (source workload, source variant) at the source shape -> (new workload, new variant, role)
RENAMED = {
    ("gemm", "triton"): ("conv2d", "triton", KERNEL),
    ("gemm", "cuda_mma"): ("conv2d", "cuda", KERNEL),
    ("gemm", "torch"): ("conv2d", "torch", BASELINE),
    ("gemm", "triton_persistent_tma"): ("conv2d", "torch_compile", BASELINE),
    ("softmax", "triton"): ("conv2d_bias_relu", "triton", KERNEL),
    ("softmax", "torch"): ("conv2d_bias_relu", "torch", BASELINE),
    ("softmax", "unfused"): ("conv2d_bias_relu", "unfused", UNFUSED),
}
SOURCE_SHAPES = {"gemm": {"M": 4096, "N": 4096, "K": 4096}, "softmax": {"rows": 4096, "cols": 4096}}


def _converted() -> results.Run:
    run = realdata.h100()
    out = []
    for (workload, variant), (name, new, role) in RENAMED.items():
        rec = realdata.record(run, workload, variant, "bf16", **SOURCE_SHAPES[workload])
        details = {"fusion": fusion_bytes(name, CONV, "bf16")} if name == "conv2d_bias_relu" else {}
        out.append(dataclasses.replace(rec, workload=name, variant=new, role=role, shape=dict(CONV),
                                       details=details))  # fmt: skip
    run.records = out
    return run


@pytest.fixture(scope="module")
def placed():
    return place_run(_converted())


def test_the_baseline_table_sets_each_kernel_against_cudnn_and_torch_compile(placed):
    tables = {t.title: t for t in baseline_tables(placed, "r0")}
    conv = tables["conv2d against torch, torch_compile"]
    assert [c.name for c in conv.columns][-2:] == ["vs torch", "vs torch_compile"]
    assert "compile" not in [c.name for c in conv.columns]  # no compile details in these records
    by_variant = {r.cells[0].text: r for r in conv.rows}
    assert set(by_variant) == {"triton", "cuda"}
    tri = next(r for r in placed.run.records if (r.workload, r.variant) == ("conv2d", "triton"))
    tc = next(r for r in placed.run.records if r.variant == "torch_compile")
    assert by_variant["triton"].cells[-1].text == f"{tc.median / tri.median:.2f}×"


def test_the_fusion_table_sets_the_fused_forms_against_the_unfused_sequence(placed):
    (table,) = [t for t in fusion_tables(placed, "r0") if t.title.startswith("conv2d_bias_relu")]
    fused = {row.cells[3].text for row in table.rows}
    assert fused == {"triton", "torch"}
    ratio = fusion_bytes("conv2d_bias_relu", CONV, "bf16")["ratio"]
    assert {row.cells[9].text for row in table.rows} == {f"{ratio:.2f}×"}


def test_the_whole_report_renders(tmp_path, capsys):
    path = results.write(_converted(), tmp_path / "converted.json")
    out = tmp_path / "out"
    assert report_cli.main([str(path), "--out", str(out)]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    keys = [html.unescape(k) for k in re.findall(r'<tr class="rec [^"]*" data-key="([^"]*)"', page)]
    assert {k.split("/")[0] for k in keys} == {"conv2d", "conv2d_bias_relu"} and len(keys) == len(RENAMED)
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "conv2d against torch, torch_compile" in md and "conv2d_bias_relu: fused vs unfused" in md
