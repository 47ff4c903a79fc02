"""`gpubench report`: a static HTML page (and summary.md) from results files, on the CPU, without torch.
Every record of a file is one table row; plots are written; synthetic data is bannered; bad input is a
clear error with exit code 2; no input at all says where results files come from."""

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gpubench.bench import results, synthetic
from gpubench.bench.stats import summarize
from gpubench.reports import report_cli
from gpubench.reports.tables import record_label

REPO = Path(__file__).resolve().parent.parent
BANNER = "SYNTHETIC — generated samples, not measurements"
CEILINGS_FILE = {
    "schema": "gpubench.ceilings",
    "schema_version": 1,
    "device": {"name": "NVIDIA H100 80GB HBM3"},
    "ceilings": {
        "dram_copy_gbs": 3000.0,
        "l2_gbs": 9000.0,
        "smem_gbs": 30000.0,
        "launch_overhead_s": 2e-6,
        "peaks": {"fp32": 60.0, "fp16": 700.0, "bf16": 700.0},
    },
    "micro": [
        {
            "name": "dram_copy",
            "value": 3000.0,
            "unit": "GB/s",
            "datasheet": 3350.0,
            "percent_of_datasheet": 89.6,
        },
        {
            "name": "fp32_fma",
            "value": 60.0,
            "unit": "TFLOP/s",
            "datasheet": 66.9,
            "percent_of_datasheet": 89.7,
        },
    ],
}


def report(*args) -> int:
    return report_cli.main([str(a) for a in args])


def rows(page: str, cls: str = "rec") -> list[str]:
    """The data-key of every table row of the given class."""
    return [html.unescape(k) for k in re.findall(rf'<tr class="{cls} [^"]*" data-key="([^"]*)"', page)]


def assert_every_record_has_a_row(page: str, doc: dict) -> None:
    keys = rows(page)
    assert len(keys) == len(doc["records"])
    for rec in doc["records"]:
        assert keys.count(record_label(rec)) == sum(
            record_label(r) == record_label(rec) for r in doc["records"]
        )


@pytest.fixture
def synthetic_file(tmp_path):
    doc = synthetic.make_document()
    return results.write(doc, tmp_path / "h100-synthetic.json"), doc


def test_report_from_a_synthetic_document(synthetic_file, tmp_path, capsys):
    path, doc = synthetic_file
    out = tmp_path / "out"
    assert report(path, "--out", out) == 0
    assert "index.html" in capsys.readouterr().out
    page = (out / "index.html").read_text(encoding="utf-8")
    assert_every_record_has_a_row(page, doc)
    assert BANNER in page
    assert "NVIDIA H100 80GB HBM3" in page
    for workload in ("vector_add", "window_sum"):
        assert f"<h4>{workload}</h4>" in page
    pngs = sorted((out / "img").glob("*.png"))
    assert pngs, "no roofline plot written"
    for png in pngs:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
        assert f'src="img/{png.name}"' in page
    assert "<script" not in page and "http://" not in page and "https://" not in page  # static, offline
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert BANNER in md and "### vector_add" in md and "### window_sum" in md
    assert md.count("\n| ") - md.count("\n| variant") == len(doc["records"])  # one markdown row per record


def test_failed_and_skipped_records_are_listed_with_their_reasons(tmp_path):
    doc = synthetic.make_document()
    doc["records"][0].update(status="failed", reason="RuntimeError: illegal <memory> access", timing=None)
    doc["records"][1].update(status="skipped", reason="CuPy variants need a CUDA device", timing=None)
    doc["status"] = "interrupted"
    path = results.write(doc, tmp_path / "r.json")
    assert report(path, "--out", tmp_path / "out") == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert_every_record_has_a_row(page, doc)
    assert "FAILED: RuntimeError: illegal &lt;memory&gt; access" in page  # escaped, never raw HTML
    assert "SKIPPED: CuPy variants need a CUDA device" in page
    assert "Run status: interrupted" in page
    md = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "FAILED: RuntimeError: illegal <memory> access" in md and "SKIPPED: CuPy variants" in md


def test_above_ceiling_is_shown(tmp_path):
    doc = synthetic.make_document()
    doc["records"][0]["bytes"] *= 10
    path = results.write(doc, tmp_path / "r.json")
    assert report(path, "--out", tmp_path / "out") == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "above a roofline ceiling" in page and "above_ceiling" in page


def test_ceilings_file_gives_measured_rooflines_and_the_micro_section(synthetic_file, tmp_path):
    path, doc = synthetic_file
    ceilings = tmp_path / "ceilings-h100.json"
    ceilings.write_text(json.dumps(CEILINGS_FILE))
    out = tmp_path / "out"
    assert report(path, ceilings, "--out", out) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Micro-benchmarks vs datasheet" in page
    assert "dram_copy" in page and "89.6%" in page
    assert "used for h100-synthetic.json" in page
    assert len(rows(page, "micro")) == 2
    # The measured columns are filled: no row says "no measured ceilings".
    assert "no measured ceilings" not in page
    assert_every_record_has_a_row(page, doc)


def test_fused_vs_unfused_section(tmp_path):
    doc = synthetic.make_document()
    doc["records"] = []
    shape = {"rows": 4096, "cols": 4096}
    fusion = {
        "fused_bytes": 2 * 4096 * 4096 * 4,
        "unfused_bytes": 8 * 4096 * 4096 * 4,
        "ratio": 4.0,
        "ops": [],
    }
    for variant, t in (("triton", 50e-6), ("unfused", 150e-6), ("torch", 75e-6)):
        rec = results.new_record("softmax", variant, "triton", shape, "fp32", "cold", flops=5 * 4096 * 4096)
        rec["bytes"] = fusion["fused_bytes"]
        xs = [t * (1 + 0.001 * i) for i in range(20)]
        rec["timing"] = {**summarize(xs), "samples": xs, "method": "synthetic", "stop_reason": "synthetic"}
        rec["achieved"] = {"tflops": rec["flops"] / rec["timing"]["median"] / 1e12, "gbs": 1.0}
        rec["extra"] = {"fusion": fusion}
        doc["records"].append(rec)
    path = results.write(doc, tmp_path / "softmax.json")
    assert report(path, "--out", tmp_path / "out") == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "softmax: fused vs unfused" in page
    fused = rows(page, "fusion")
    assert len(fused) == 2  # triton and torch, each against unfused
    assert "3.00×" in page or "2.99×" in page  # triton: 150 / 50
    assert "4.00×" in page  # analytical byte ratio
    assert_every_record_has_a_row(page, doc)


def test_two_gpus_get_a_comparison_section(tmp_path):
    a = results.write(synthetic.make_document(), tmp_path / "h100.json")
    b = results.write(synthetic.make_document("NVIDIA H200", seed=1), tmp_path / "h200.json")
    assert report(a, b, "--out", tmp_path / "out") == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert 'id="cross-gpu"' in page
    assert "NVIDIA H200" in page and "NVIDIA H100 80GB HBM3" in page


def test_embedded_images(synthetic_file, tmp_path):
    path, _ = synthetic_file
    assert report(path, "--out", tmp_path / "out", "--embed-images") == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in page


# ----------------------------------------------------------------------------------------- bad input


def test_other_schema_version_is_a_clear_error(synthetic_file, tmp_path, capsys):
    path, doc = synthetic_file
    doc["schema_version"] = 999
    path.write_text(json.dumps(doc))
    assert report(path, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "schema version 999" in err and str(path) in err
    assert not (tmp_path / "out" / "index.html").exists()


def test_truncated_file_is_a_clear_error(synthetic_file, tmp_path, capsys):
    path, _ = synthetic_file
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    assert report(path, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "truncated" in err and str(path) in err


def test_foreign_and_missing_files_are_clear_errors(tmp_path, capsys):
    foreign = tmp_path / "other.json"
    foreign.write_text(json.dumps({"schema": "something.else", "data": []}))
    assert report(foreign, "--out", tmp_path / "out") == 2
    assert "not a gpubench results or ceilings file" in capsys.readouterr().err
    assert report(tmp_path / "nope.json", "--out", tmp_path / "out") == 2
    assert "no such file" in capsys.readouterr().err


def test_no_arguments_and_no_reference_files(tmp_path, monkeypatch, capsys):
    for ref in (tmp_path / "missing", tmp_path / "empty"):
        if ref.name == "empty":
            ref.mkdir()
        monkeypatch.setattr(report_cli, "REFERENCE_DIR", ref)
        assert report("--out", tmp_path / "out") == 1
        err = capsys.readouterr().err
        assert "no results files found under reports/reference; run `nox -s bench` on a GPU" in err


def test_no_arguments_uses_the_reference_dir_and_skips_other_schemas(tmp_path, monkeypatch, capsys):
    ref = tmp_path / "reference"
    results.write(synthetic.make_document(), ref / "h100.json")
    (ref / "ceilings-h100.json").write_text(json.dumps(CEILINGS_FILE))
    (ref / "notes.json").write_text(json.dumps({"schema": "something.else"}))
    monkeypatch.setattr(report_cli, "REFERENCE_DIR", ref)
    assert report("--out", tmp_path / "out") == 0
    assert "skipped" in capsys.readouterr().out
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "Micro-benchmarks vs datasheet" in page and "notes.json" in page


def test_gpubench_report_subcommand_and_module_entry_point(synthetic_file, tmp_path):
    path, doc = synthetic_file
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for cmd in (["-m", "gpubench.reports.report_cli"], ["-m", "gpubench.cli", "report"]):
        out = tmp_path / cmd[1]
        p = subprocess.run(
            [sys.executable, *cmd, str(path), "--out", str(out)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
        )
        assert p.returncode == 0, p.stdout + p.stderr
        assert_every_record_has_a_row((out / "index.html").read_text(encoding="utf-8"), doc)


def test_reports_do_not_import_torch_or_kernels(synthetic_file, tmp_path):
    path, _ = synthetic_file
    code = (
        "import sys\n"
        "from gpubench.reports import report_cli\n"
        f"assert report_cli.main([{str(path)!r}, '--out', {str(tmp_path / 'o')!r}]) == 0\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'triton', 'cupy')\n"
        "             or m.startswith(('gpubench.kernels', 'gpubench.bench')))\n"
        "assert not bad, bad\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert p.returncode == 0, p.stderr


# ----------------------------------------------------------------------------------------- real data


def _reference_results():
    ref = REPO / "reports" / "reference"
    found = []
    for p in sorted(ref.rglob("*.json")) if ref.is_dir() else []:
        try:
            schema = json.loads(p.read_text()).get("schema")
        except (ValueError, AttributeError):
            schema = results.SCHEMA  # let the report say what is wrong with it
        if schema == results.SCHEMA:
            found.append(p)
    return found


@pytest.mark.parametrize("path", _reference_results(), ids=lambda p: p.name)
def test_every_committed_reference_file_renders(path, tmp_path):
    out = tmp_path / "out"
    assert report(path, "--out", out) == 0
    doc = results.read(path)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert_every_record_has_a_row(page, doc)
    if any(r["status"] == "ok" for r in doc["records"]):
        assert list((out / "img").glob("*.png"))
    assert (BANNER in page) == bool(doc.get("synthetic"))
