"""Hardware-generation comparison (reports.compare, reports.compare_cli) on the CPU.

These tests use SYNTHETIC results files (bench.synthetic.make_document for an H100 and an H200, timed from
each GPU's bandwidth and marked synthetic) until real runs from both GPUs are committed under
reports/reference/. The predictions come from a small stand-in roofline (a max(FLOP time, byte time)
model, injected as roofline.specs/roofline.model) so that the comparison logic is tested whatever state
the real roofline package is in; one test checks against the real spec table and skips while it is
not importable.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from gpubench.bench import results, synthetic
from gpubench.reports import compare_cli
from gpubench.reports.compare import CompareError, compare, render_plots, to_html_section

H100 = "NVIDIA H100 80GB HBM3"
H200 = "NVIDIA H200"
SYNTH_BW_RATIO = 4800.0 / 3350.0  # bench.synthetic times every record from these bandwidths


# ---------------------------------------------------------------------------------------- stand-in roofline


@dataclass(frozen=True)
class _Spec:
    name: str
    peaks: dict
    mem_bandwidth_gbs: float


@dataclass(frozen=True)
class _Ceilings:
    peaks: dict
    mem_bandwidth_gbs: float
    label: str

    @classmethod
    def from_spec(cls, spec):
        return cls(dict(spec.peaks), spec.mem_bandwidth_gbs, "datasheet")

    @classmethod
    def from_measured(cls, d):
        return cls(dict(d["peaks"]), float(d["dram_gbs"]), "measured")


@dataclass(frozen=True)
class _Prediction:
    time_s: float
    bound: str


def _predict(flops, nbytes, dtype, ceilings, uses_tensor_cores=False):
    t_compute = flops / (ceilings.peaks[dtype] * 1e12)
    t_memory = nbytes / (ceilings.mem_bandwidth_gbs * 1e9)
    return _Prediction(max(t_compute, t_memory), "compute" if t_compute > t_memory else "memory")


_SPECS = {
    H100: _Spec(H100, {"fp32": 67.0}, 3350.0),
    H200: _Spec(H200, {"fp32": 67.0}, 4800.0),
}


@pytest.fixture
def stand_in_roofline(monkeypatch):
    specs = types.ModuleType("gpubench.roofline.specs")
    specs.match_gpu = _SPECS.get
    model = types.ModuleType("gpubench.roofline.model")
    model.Ceilings, model.predict = _Ceilings, _predict
    monkeypatch.setitem(sys.modules, "gpubench.roofline.specs", specs)
    monkeypatch.setitem(sys.modules, "gpubench.roofline.model", model)


@pytest.fixture
def runs(tmp_path):
    """An H100 run and an H200 run, through the real storage path."""
    paths = [
        results.write(synthetic.make_document(H100, seed=1), tmp_path / "h100.json"),
        results.write(synthetic.make_document(H200, seed=2), tmp_path / "h200.json"),
    ]
    return [results.read(p) for p in paths], [str(p) for p in paths]


# ---------------------------------------------------------------------------------------- tests


def test_measured_ratio(runs, monkeypatch):
    monkeypatch.setitem(sys.modules, "gpubench.roofline.specs", None)  # no roofline: measured ratios only
    docs, paths = runs
    report = compare(docs, paths)
    assert len(report.rows) == 12 and report.pairs() == [(0, 1)]
    for row in report.rows:
        assert row.reference == 0 and row.other == 1
        assert row.measured_ratio == pytest.approx(SYNTH_BW_RATIO, rel=0.01)
        assert row.predicted_datasheet is None and row.error_datasheet is None
    assert any("no datasheet predictions" in n for n in report.notes)
    assert report.synthetic and "SYNTHETIC" in report.to_text()


def test_predicted_ratio_follows_bandwidth_or_flops(runs, stand_in_roofline):
    docs, paths = runs
    report = compare(docs, paths)
    rows = {r.label: r for r in report.rows}
    vec = [r for r in report.rows if r.workload == "vector_add"]
    assert vec and all(r.bound == "memory" == r.other_bound for r in vec)
    for r in vec:  # memory-bound on both: the bandwidth ratio
        assert r.predicted_datasheet == pytest.approx(4800 / 3350)
        assert abs(r.error_datasheet) < 0.01
    # window_sum radius 64: 16 FLOP/B is below the H100's ridge (20) and above the H200's (14):
    # memory-bound on one, compute-bound on the other, so the predicted ratio is not the bandwidth ratio.
    wide = rows["window_sum/cuda_shared[n=67108864,radius=64|fp32|cold]"]
    assert (wide.bound, wide.other_bound) == ("memory", "compute")
    t_h100 = 8 * 2**26 / 3350e9
    t_h200 = 128 * 2**26 / 67e12
    assert wide.predicted_datasheet == pytest.approx(t_h100 / t_h200)
    assert wide.error_datasheet == pytest.approx(wide.predicted_datasheet / wide.measured_ratio - 1)
    assert wide.error_datasheet < -0.10  # synthetic times follow bandwidth only: the model disagrees
    summary = report.summary()[0]
    assert summary["records"] == 12 and summary["datasheet"]["predicted"] == 12
    assert summary["datasheet"]["within_tolerance"] == 8  # the 4 radius-64 records fall outside 10 %
    assert summary["measured"]["predicted"] == 0
    assert "memory -> compute" in report.to_text()


def test_measured_ceilings_are_used_when_present(runs, stand_in_roofline):
    docs, paths = runs
    docs[0]["ceilings"] = {"peaks": {"fp32": 60.0}, "dram_gbs": 3000.0}
    docs[1]["ceilings"] = {
        "schema": "gpubench.ceilings",
        "ceilings": {"peaks": {"fp32": 60.0}, "dram_gbs": 4300.0},
    }
    report = compare(docs, paths)
    vec = [r for r in report.rows if r.workload == "vector_add"]
    assert all(r.predicted_measured == pytest.approx(4300 / 3000) for r in vec)
    assert report.runs[0].measured_ceilings and report.runs[1].measured_ceilings
    assert json.loads(report.to_json())["summary"][0]["measured"]["predicted"] == 12


def test_predicted_ratio_from_the_real_spec_table(runs):
    try:
        specs = importlib.import_module("gpubench.roofline.specs")
        importlib.import_module("gpubench.roofline.model")
    except ImportError as exc:
        pytest.skip(f"roofline.specs/roofline.model not importable yet ({exc})")
    if not hasattr(specs, "match_gpu"):
        pytest.skip("roofline.specs has no match_gpu yet")
    h100, h200 = specs.match_gpu(H100), specs.match_gpu(H200)
    if h100 is None or h200 is None:
        pytest.skip("the spec table does not know the H100 and the H200 yet")
    docs, paths = runs
    report = compare(docs, paths)
    vec = [r for r in report.rows if r.workload == "vector_add"]
    expected = h200.mem_bandwidth_gbs / h100.mem_bandwidth_gbs
    for r in vec:
        assert r.bound == "memory"
        assert r.predicted_datasheet == pytest.approx(expected, rel=0.05)  # launch overhead aside


def test_reference_is_the_first_run_that_has_the_record(tmp_path, stand_in_roofline):
    a = synthetic.make_document(H100, seed=1)
    b = synthetic.make_document(H200, seed=2)
    c = synthetic.make_document(H100, seed=3)
    only_bc = a["records"].pop(0)
    report = compare([a, b, c])
    assert report.pairs() == [(0, 1), (0, 2), (1, 2)]
    row = [r for r in report.rows if r.key == results.record_key(only_bc)]
    assert len(row) == 1 and (row[0].reference, row[0].other) == (1, 2)
    assert row[0].measured_ratio == pytest.approx(1 / SYNTH_BW_RATIO, rel=0.01)
    same_gpu = report.rows_for(0, 2)
    assert all(r.measured_ratio == pytest.approx(1.0, abs=0.01) for r in same_gpu)
    with pytest.raises(CompareError):
        compare([a])


def test_plots_and_html_section(runs, stand_in_roofline, tmp_path):
    docs, paths = runs
    report = compare(docs, paths)
    out = tmp_path / "report"
    plots = render_plots(report, out)
    assert len(plots) == 1 and plots[0].parent == out
    assert plots[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plots[0].stat().st_size > 10_000
    fragment = to_html_section(report, out)
    assert fragment.startswith("<section") and "<h2>Hardware comparison</h2>" in fragment
    assert "<table" in fragment and f'<img src="{plots[0].name}"' in fragment
    assert "vector_add/triton[n=67108864|fp32|cold]" in fragment and "SYNTHETIC" in fragment
    assert 'class="num warn"' in fragment  # the radius-64 rows are outside the 10 % band


def test_no_plot_without_predictions(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gpubench.roofline.specs", None)
    docs, paths = runs
    report = compare(docs, paths)
    assert render_plots(report, tmp_path) == []
    assert "<table" in to_html_section(report, tmp_path)


def test_cli(runs, stand_in_roofline, tmp_path, capsys):
    _, paths = runs
    out = tmp_path / "cmp"
    assert compare_cli.main([*paths, "--out", str(out)]) == 0
    stdout, stderr = capsys.readouterr()
    assert "measured ratio" in stdout and "vector_add/triton" in stdout
    assert (out / "compare.json").is_file() and (out / "compare.md").is_file()
    assert list(out.glob("compare-1-*-vs-2-*.png"))
    assert "| record |" in (out / "compare.md").read_text()
    assert compare_cli.main([*paths, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "gpubench.compare" and len(data["rows"]) == 12 and data["synthetic"] is True

    assert compare_cli.main([paths[0]]) == 2
    assert "at least two" in capsys.readouterr().err
    assert compare_cli.main([paths[0], str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such results file" in err
    bad = Path(tmp_path / "trunc.json")
    bad.write_text(Path(paths[1]).read_text()[:100])
    assert compare_cli.main([paths[0], str(bad)]) == 2
    assert "truncated" in capsys.readouterr().err
