"""`gpubench report`: a static HTML page (and summary.md) from results files, on the CPU, without torch.
Every record of a file is one table row; the best variant is the fastest; plots are written; bad input is
a clear error with exit code 2; a malformed record is named and left out; no input at all says where
results files come from. Real runs (cut to a few workloads where the whole file is not needed)."""

import html
import json
import re
import subprocess
import sys

import pytest

from gpubench import results
from gpubench.reports import report_cli
from gpubench.reports.frames import fusion_frame, placed_frame
from gpubench.roofline.placement import place_run
from tests.support import realdata


def report(*args) -> int:
    return report_cli.main([str(a) for a in args])


def rows(page: str, cls: str = "rec") -> list[str]:
    """The data-key of every table row of the given class."""
    return [html.unescape(k) for k in re.findall(rf'<tr class="{cls} [^"]*" data-key="([^"]*)"', page)]


def cut(run, *workloads):
    run.records = [r for r in run.records if r.workload in workloads]
    return run


@pytest.fixture
def small(tmp_path):
    """The H100 run's vector_add and softmax records: every kind of table, quick to plot."""
    run = cut(realdata.h100(), "vector_add", "softmax")
    return results.write(run, tmp_path / "h100-small.json"), run


def test_report_of_a_real_run(small, tmp_path, capsys):
    path, run = small
    out = tmp_path / "out"
    assert report(path, "--out", out) == 0
    assert "index.html" in capsys.readouterr().out
    page = (out / "index.html").read_text(encoding="utf-8")
    assert sorted(rows(page)) == sorted(r.label for r in run.records)  # every record, once
    assert realdata.H100 in page and "<h4>vector_add</h4>" in page and "<h4>softmax</h4>" in page
    assert "SYNTHETIC" not in page and "ANOTHER card" in page  # these ceilings came from another H100
    pngs = sorted((out / "img").glob("*.png"))
    assert pngs
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f'src="img/{png.name}"' in page
    assert "<script" not in page and "http://" not in page and "https://" not in page  # static, offline
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "### vector_add" in md and "softmax: fused vs unfused" in md
    # each variant against its torch baseline: one row per non-baseline record of a measured case
    assert "Against the baselines" in page and "softmax against torch" in md
    assert sorted(rows(page, "baselines")) == sorted(
        r.label for r in run.records if r.ok and r.variant != "torch"
    )
    body_rows = [
        line for line in md.splitlines() if line.startswith("| ") and "rows=" in line or "n=2^" in line
    ]
    assert len(body_rows) >= len(run.records)


def test_the_best_variant_is_the_fastest_of_its_group():
    df = placed_frame(place_run(realdata.h100()))
    best = df[df["best"]]
    assert len(best) > 30
    for _, row in best.iterrows():
        same = [df[c] == row[c] for c in ("workload", "shape", "dtype", "mode", "flops")]
        group = df[same[0] & same[1] & same[2] & same[3] & same[4] & (df["status"] == "ok")]
        assert row.median_s == group.median_s.min() and len(group) > 1
    vec = df[(df["workload"] == "vector_add") & (df["n"] == 1 << 26) & (df["dtype"] == "fp32") & df["best"]]
    assert list(vec.variant) == ["torch"]  # 2,986 GB/s against Triton's 2,965 on this H100


def test_fusion_pairs_each_fused_variant_with_unfused():
    pairs = fusion_frame(place_run(realdata.h100()))
    soft = pairs[
        (pairs["workload"] == "softmax")
        & (pairs["dtype"] == "fp32")
        & (pairs["shape"] == "rows=4096,cols=4096")
    ]
    assert list(soft.variant) == ["triton", "cuda", "torch"]
    triton = soft.iloc[0]
    assert triton.speedup == pytest.approx(triton.median_s_unfused / triton.median_s)
    assert triton.ratio == pytest.approx(4.0, rel=1e-3)  # the recorded byte analysis: 4 passes vs 1


def test_failed_and_skipped_records_are_listed_with_their_reasons(small, tmp_path):
    path, run = small
    run.records[0].status, run.records[0].reason, run.records[0].timing = (
        "failed",
        "RuntimeError: <boom>",
        None,
    )
    run.status = "interrupted"
    results.write(run, path)
    assert report(path, "--out", tmp_path / "out") == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "FAILED: RuntimeError: &lt;boom&gt;" in page  # escaped, never raw HTML
    assert "Run status: interrupted" in page
    skipped = [r for r in realdata.h100().records if r.status == "skipped"][0]
    assert skipped.reason


def test_above_ceiling_is_shown(small, tmp_path):
    path, run = small
    run.records[0].bytes *= 10
    results.write(run, path)
    assert report(path, "--out", tmp_path / "out") == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "above a roofline ceiling" in page and "above_ceiling" in page


def test_a_named_ceilings_file_is_used_and_the_micro_section_shown(small, tmp_path):
    path, _ = small
    out = tmp_path / "out"
    assert report(path, "--ceilings", realdata.H100_CEILINGS, "--out", out) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Micro-benchmarks vs datasheet" in page and "used for h100-small.json" in page
    assert len(rows(page, "micro")) == len(results.read_ceilings(realdata.H100_CEILINGS).micro)
    assert "cublas_bf16" in page and "no measured ceilings" not in page


def test_a_malformed_record_is_named_and_the_rest_reported(small, tmp_path, capsys):
    path, run = small
    doc = json.loads(path.read_text())
    doc["records"][2]["timing"]["samples"][0] = -1.0
    doc["records"][3]["mode"] = "tepid"
    path.write_text(json.dumps(doc))
    assert report(path, "--out", tmp_path / "out") == 0
    out = capsys.readouterr().out
    assert "record 2" in out and "record 3" in out and "left out" in out
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert len(rows(page)) == len(run.records) - 2


def test_two_gpus_get_a_comparison_section(tmp_path):
    a = results.write(cut(realdata.h100(), "vector_add"), tmp_path / "h100.json")
    b = results.write(cut(realdata.h200(), "vector_add"), tmp_path / "h200.json")
    assert report(a, b, "--out", tmp_path / "out") == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert 'id="cross-gpu"' in page and "Hardware comparison" in page and realdata.H200 in page


def test_embedded_images(small, tmp_path):
    path, _ = small
    assert report(path, "--out", tmp_path / "out", "--embed-images") == 0
    assert 'src="data:image/png;base64,' in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------------------- bad input


def test_other_schema_version_is_a_clear_error(small, tmp_path, capsys):
    path, _ = small
    doc = json.loads(path.read_text())
    doc["schema_version"] = 999
    path.write_text(json.dumps(doc))
    assert report(path, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "schema version 999" in err and str(path) in err and "Traceback" not in err
    assert not (tmp_path / "out" / "index.html").exists()


def test_truncated_foreign_and_missing_files_are_clear_errors(small, tmp_path, capsys):
    path, _ = small
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    assert report(path, "--out", tmp_path / "out") == 2
    assert "not valid JSON" in capsys.readouterr().err
    foreign = tmp_path / "other.json"
    foreign.write_text(json.dumps({"schema": "something.else", "data": []}))
    assert report(foreign, "--out", tmp_path / "out") == 2
    assert "not a gpubench results or ceilings file" in capsys.readouterr().err
    assert report(tmp_path / "nope.json", "--out", tmp_path / "out") == 2
    assert "no such file" in capsys.readouterr().err
    assert report(realdata.H100_RESULTS, "--ceilings", realdata.H100_RESULTS, "--out", tmp_path / "o") == 2
    assert "--ceilings" in capsys.readouterr().err


def test_a_file_with_no_records_is_named_and_nothing_is_written(small, tmp_path, capsys):
    path, run = small
    run.records = []
    results.write(run, path)
    assert report(path, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"{path}: holds no records: nothing to report" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "index.html").exists()
    folder = tmp_path / "runs"  # found in a folder beside a usable file: skipped with a note
    folder.mkdir()
    results.write(run, folder / "empty.json")
    results.write(cut(realdata.h100(), "vector_add"), folder / "full.json")
    assert report(folder, "--out", tmp_path / "out2") == 0
    assert "skipped" in capsys.readouterr().out


def test_an_unwritable_out_is_a_clear_error(small, tmp_path, capsys):
    path, _ = small
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert report(path, "--out", blocker / "sub") == 2
    assert "cannot write the report" in capsys.readouterr().err


def test_no_arguments_and_no_reference_files(tmp_path, monkeypatch, capsys):
    for ref in (tmp_path / "missing", tmp_path / "empty"):
        if ref.name == "empty":
            ref.mkdir()
        monkeypatch.setattr(report_cli, "REFERENCE_DIR", ref)
        assert report("--out", tmp_path / "out") == 1
        assert "no results files found under reports/reference" in capsys.readouterr().err


def test_no_arguments_renders_the_committed_reference_data(tmp_path, capsys):
    assert report("--out", tmp_path / "out") == 0
    out = capsys.readouterr().out
    assert "2 results file(s), 372 records" in out
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert len(rows(page)) == 372 and 'id="cross-gpu"' in page and "Micro-benchmarks vs datasheet" in page
    assert "which embed their own measured ceilings" in page


@pytest.mark.slow
def test_gpubench_report_subcommand_and_module_entry_point(small, tmp_path):
    path, run = small
    for cmd in (["-m", "gpubench.reports.report_cli"], ["-m", "gpubench.cli", "report"]):
        out = tmp_path / cmd[1]
        p = subprocess.run(
            [sys.executable, *cmd, str(path), "--out", str(out)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
        )
        assert p.returncode == 0, p.stdout + p.stderr
        assert len(rows((out / "index.html").read_text(encoding="utf-8"))) == len(run.records)


def _rebuilt(run, ceilings_path):
    """`run` under the ceilings its GPU's committed micro entries give by today's rule: each roof the best
    sustained rate of its hardware rate (fp16 = bf16), not the best single sample the file stored."""
    import dataclasses

    from gpubench.bench.micro.ceilings import build_ceilings

    cf = results.read_ceilings(ceilings_path)
    measured = results.MeasuredCeilings.from_json(build_ceilings([m.to_json() for m in cf.micro]))
    run.ceilings = dataclasses.replace(run.ceilings, ceilings=measured)
    return run


def test_records_above_a_sustained_roof_name_the_ceiling_as_suspect(tmp_path):
    from gpubench.reports.suspects import suspects

    run = _rebuilt(realdata.h200(), realdata.H200_CEILINGS)
    roofs = run.ceilings.ceilings
    assert roofs.peaks["bf16"] == roofs.peaks["fp16"] == roofs.peaks_sustained["bf16"]  # 678, cublas_bf16
    assert roofs.roof_clock_mhz["bf16"] == pytest.approx(1552.3, abs=0.1)  # what the GPU held under load
    lines = suspects(place_run(run))
    # The bf16 GEMMs of the quick run see tens of ms of load at up to 1980 MHz: burst figures.
    assert len(lines) == 9 and all(line.startswith("gemm/") and "|bf16|" in line for line in lines)
    for line in lines:
        assert "suspect the measured ceiling" in line and "a burst against a sustained roof" in line
    run.records = [r for r in run.records if r.workload == "gemm"]
    path = results.write(run, tmp_path / "h200-gemm.json")
    assert report(path, "--out", tmp_path / "out") == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "Which is suspect" in page and "a burst against a sustained roof" in page
    h100 = suspects(place_run(_rebuilt(realdata.h100(), realdata.H100_CEILINGS)))
    assert h100 == []  # its fp16 cuBLAS held 748 TFLOP/s: the bf16 GEMMs' 776-780 are within 5 %


def test_a_record_above_the_datasheet_names_its_accounting(small):
    from gpubench.reports.suspects import suspect

    _, run = small
    rec = realdata.record(run, "vector_add", "triton", "fp32", n=1 << 26)
    rec.bytes *= 10
    assert suspect(rec, place_run(run)).startswith("suspect the accounting")
    assert suspect(realdata.record(run, "vector_add", "torch", "fp32", n=1 << 26), place_run(run)) is None


def test_the_micro_section_names_the_code_behind_each_roof(small, tmp_path):
    import dataclasses

    from gpubench.bench.micro.ceilings import build_ceilings

    path, _ = small
    cf = results.read_ceilings(realdata.H100_CEILINGS)
    rebuilt = results.MeasuredCeilings.from_json(build_ceilings([m.to_json() for m in cf.micro]))
    ceilings = results.write(dataclasses.replace(cf, ceilings=rebuilt), tmp_path / "ceilings.json")
    assert report(path, "--ceilings", ceilings, "--out", tmp_path / "out") == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    keys = rows(page, "roof")
    assert "bf16" in keys and "int8" in keys and len(keys) == len(rebuilt.peak_sources)
    assert "roofs of NVIDIA H100 80GB HBM3" in page and "cublas_fp16" in page  # the bf16 roof's source
    assert "no provenance section" in page  # the ceilings file's own provenance is shown


def test_burst_and_sustained_are_shown_side_by_side(tmp_path):
    import dataclasses

    from gpubench.results import Sustained

    run = cut(realdata.h100(), "gemm")
    rec = realdata.record(run, "gemm", "torch", "bf16", M=8192, N=8192, K=8192)
    slower = tuple(x / 0.906 for x in rec.timing.samples)  # a stand-in for the second measurement
    rec.sustained = Sustained(2.0, dataclasses.replace(rec.timing, samples=slower), load_calls=1400)
    path = results.write(run, tmp_path / "gemm.json")
    assert report(path, "--out", tmp_path / "out") == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert rows(page, "sustained") == [rec.label] and "burst and sustained" in page
    assert "1.104" in page  # sustained / burst time
