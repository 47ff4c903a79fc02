"""Cross-GPU comparison (reports.compare, reports.compare_cli) on the committed H100 and H200 runs:
measured ratios from the samples, predicted ratios from each record's roofline placement."""

import json

import pytest

from gpubench import results
from gpubench.reports import compare_cli
from gpubench.reports.compare import CompareError, compare
from gpubench.reports.compare_render import render_plots, to_html_section
from gpubench.roofline.placement import place_run
from tests.support import realdata


@pytest.fixture(scope="module")
def report():
    return compare([place_run(realdata.h100()), place_run(realdata.h200())])


def _row(report, workload, variant, dtype="fp32", **shape):
    return next(
        r for r in report.rows
        if r.workload == workload and r.variant == variant and r.key.dtype == dtype
        and all(dict(r.key.shape).get(k) == v for k, v in shape.items())
    )  # fmt: skip


def test_measured_ratio_is_the_ratio_of_the_samples_medians(report):
    row = _row(report, "vector_add", "triton", n=1 << 26)
    h100 = realdata.record(realdata.h100(), "vector_add", "triton", n=1 << 26)
    h200 = realdata.record(realdata.h200(), "vector_add", "triton", n=1 << 26)
    assert row.measured_ratio == h100.median / h200.median
    assert row.reference_median == h100.median and row.other_median == h200.median
    assert 1.35 < row.measured_ratio < 1.5  # 4.8 vs 3.35 TB/s of HBM: the H200 is ~1.4x faster


def test_predicted_ratio_follows_bandwidth_or_flops(report):
    mem = _row(report, "vector_add", "triton", n=1 << 26)
    assert mem.limit == mem.other_limit == "DRAM"
    assert mem.predicted_datasheet == pytest.approx(4800 / 3350, rel=1e-3)
    gemm = _row(report, "gemm", "torch", "bf16", M=8192, N=8192, K=8192)
    assert gemm.limit == "waves" and gemm.predicted_datasheet == pytest.approx(1.0, rel=1e-3)
    assert abs(gemm.error_datasheet) < 0.05


def test_measured_ceilings_give_their_own_prediction(report):
    row = _row(report, "vector_add", "triton", n=1 << 26)
    # The measured DRAM roofs: 3,122 GB/s (H100) and 4,318 GB/s (H200), plus each GPU's launch overhead.
    assert row.predicted_measured is not None and row.predicted_measured != row.predicted_datasheet
    assert row.predicted_measured == pytest.approx(4318 / 3122, rel=0.02)


def test_summary_counts_predictions_within_tolerance(report):
    (s,) = report.summary()
    assert s["records"] == 166 == len(report.rows)
    assert s["datasheet"]["within_tolerance"] == 75 and s["measured"]["within_tolerance"] == 84
    assert s["carried"]["within_tolerance"] == 152  # the H100's measurement carried to the H200
    assert "84/166" in report.to_text() and "152/166" in report.to_text()


def test_the_reference_is_the_first_run_that_has_the_record():
    h100, h200, aa = realdata.h100(), realdata.h200(), realdata.calibration("run2-aa")
    h100.records = [r for r in h100.records if r.workload != "softmax"]
    rep = compare([place_run(h100), place_run(h200), place_run(aa)])
    soft = [r for r in rep.rows if r.workload == "softmax"]
    assert soft and all(r.reference == 1 and r.other == 2 for r in soft)  # softmax first appears in run 2
    assert {(r.reference, r.other) for r in rep.rows if r.workload == "vector_add"} == {(0, 1), (0, 2)}


def test_fewer_than_two_runs_is_refused():
    with pytest.raises(CompareError, match="at least two"):
        compare([place_run(realdata.h100())])


def test_nothing_in_common_says_so():
    h100, h200 = realdata.h100(), realdata.h200()
    h100.records = [r for r in h100.records if r.workload == "gemm"]
    h200.records = [r for r in h200.records if r.workload == "softmax"]
    rep = compare([place_run(h100), place_run(h200)])
    assert rep.rows == [] and any("nothing to compare" in n for n in rep.notes)


def test_plots_and_html_section(report, tmp_path):
    plots = render_plots(report, tmp_path)
    assert len(plots) == 1 and plots[0].stat().st_size > 10_000
    html = to_html_section(report, tmp_path)
    assert "Hardware comparison" in html and plots[0].name in html and "152/166" in html


def test_markdown_and_json(report):
    md = report.to_markdown()
    assert "| run | GPU | commit | created |" in md and "`vector_add/triton[n=67108864\\|fp32\\|cold]`" in md
    data = json.loads(report.to_json())
    assert data["schema"] == "gpubench.compare" and len(data["rows"]) == 166
    row = data["rows"][0]
    for field in ("measured_ratio", "predicted_measured", "error_measured", "predicted_carried", "limit"):
        assert field in row
    assert data["rows"][0]["key"]["workload"] == "gemm"


def test_cli(tmp_path, capsys):
    a, b = str(realdata.H100_RESULTS), str(realdata.H200_RESULTS)
    assert compare_cli.main([a, b, "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "Hardware comparison" in out and "wrote" in err
    assert json.loads((tmp_path / "compare.json").read_text())["summary"][0]["records"] == 166
    assert compare_cli.main([a, b, "--json"]) == 0 and json.loads(capsys.readouterr()[0])["rows"]
    assert compare_cli.main([a]) == 2 and "at least two" in capsys.readouterr()[1]
    assert compare_cli.main([a, str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr()[1]


def test_a_malformed_record_is_named_and_left_out(tmp_path, capsys):
    doc = json.loads(realdata.H200_RESULTS.read_text())
    doc["records"][0]["timing"]["samples"][0] = float("inf")
    doc["records"][1]["flops"] = "lots"
    bad = tmp_path / "h200.json"
    bad.write_text(json.dumps(doc))
    assert compare_cli.main([str(realdata.H100_RESULTS), str(bad)]) == 0
    out, err = capsys.readouterr()
    assert err.count("left out") == 2 and "record 0" in err and "record 1" in err
    assert "166 records" not in out and "164 records" in out  # no division by an infinite sample


def test_results_written_and_read_back_compare_the_same(tmp_path, report):
    a = results.write(realdata.h100(), tmp_path / "a.json")
    b = results.write(realdata.h200(), tmp_path / "b.json")
    again = compare([place_run(results.read(a)), place_run(results.read(b))])
    assert [r.measured_ratio for r in again.rows] == [r.measured_ratio for r in report.rows]
