"""The regression gate (reports.gate, reports.gate_cli) on the CPU.

These tests use SYNTHETIC results files (bench.synthetic.make_document: log-normal samples from a bandwidth
model, marked synthetic), written with bench.results.write and read back with bench.results.read, until
real A/A and A/B runs measured on a GPU are committed under reports/reference/. What they establish:
A/A pairs are never SLOWER, injected 5 % and 10 % slowdowns are SLOWER for exactly the slowed records,
1.5-2 % run-to-run drift is not flagged, throttled records are excluded, and every error path of the
command line exits 2 with one clear line.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from gpubench.bench import results, synthetic
from gpubench.reports import gate_cli
from gpubench.reports.gate import (
    EXCLUDED,
    FASTER,
    SAME,
    SLOWER,
    THROTTLED_EXCLUDED,
    UNCERTAIN,
    GateError,
    classify,
    gate,
    ratio_interval,
)

REPO = Path(__file__).resolve().parent.parent
H100 = "NVIDIA H100 80GB HBM3"
H200 = "NVIDIA H200"


def stored(doc: dict, path: Path) -> dict:
    """Through the real storage path: written atomically, read back and validated."""
    return results.read(results.write(doc, path))


def keys_of(doc: dict) -> list[tuple]:
    return [results.record_key(r) for r in doc["records"]]


def scale_samples(rec: dict, factor: float) -> None:
    samples = [x * factor for x in rec["timing"]["samples"]]
    rec["timing"] = {**rec["timing"], "samples": samples, "median": float(np.median(samples))}


def cli(*args: str) -> tuple[int, str, str]:
    p = subprocess.run(
        [sys.executable, "-m", "gpubench.reports.gate_cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    return p.returncode, p.stdout, p.stderr


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = gate_cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------- statistics


def test_classify_boundaries():
    t, f = 0.05, 0.025
    assert classify(1.026, 1.03, t, f) == SLOWER  # whole interval above the noise floor
    assert classify(1.02, 1.03, t, f) == SAME  # within the threshold, not clear of the floor
    assert classify(1.02, 1.06, t, f) == UNCERTAIN  # reaches past the threshold, not clear of the floor
    assert classify(0.96, 0.97, t, f) == FASTER
    assert classify(0.94, 1.01, t, f) == UNCERTAIN
    assert classify(0.99, 1.01, t, f) == SAME
    assert classify(1.04, 1.06, t, t) == UNCERTAIN  # the strict rule: floor = threshold
    assert classify(1.051, 1.06, t, t) == SLOWER


def test_ratio_interval_is_seeded_and_brackets_the_ratio():
    rng = np.random.default_rng(7)
    base = rng.lognormal(0, 0.01, 200)
    cand = base * 1.03
    r1 = ratio_interval(base, cand, 0.99, 2000, np.random.default_rng(1))
    r2 = ratio_interval(base, cand, 0.99, 2000, np.random.default_rng(1))
    assert r1 == r2
    ratio, lo, hi = r1
    assert ratio == pytest.approx(1.03)
    assert lo < ratio < hi and hi - lo < 0.02


def test_aa_same_everywhere_through_files(tmp_path):
    base = stored(synthetic.make_document(seed=1), tmp_path / "base.json")
    cand = stored(synthetic.make_document(seed=2), tmp_path / "cand.json")
    report = gate(base, cand)
    assert report.compared == len(base["records"]) == 12
    assert {r.verdict for r in report.records} == {SAME}
    assert report.exit_code == 0 and report.headline.startswith("PASS")
    assert not report.added and not report.removed and not report.not_compared


def test_aa_never_slower_over_50_seed_pairs(tmp_path):
    """The synthetic A/A false-alarm rate: 50 seed pairs x 12 records, no SLOWER (nor FASTER) verdict."""
    verdicts = Counter()
    for i in range(50):
        base = stored(synthetic.make_document(seed=1000 + 2 * i), tmp_path / f"b{i}.json")
        cand = stored(synthetic.make_document(seed=1001 + 2 * i), tmp_path / f"c{i}.json")
        report = gate(base, cand)
        verdicts.update(r.verdict for r in report.records)
        assert report.exit_code == 0
    assert verdicts[SLOWER] == 0 and verdicts[FASTER] == 0
    assert verdicts[SAME] == 600


@pytest.mark.parametrize("factor", [1.05, 1.10])
def test_injected_slowdown_is_slower_for_exactly_those_records(tmp_path, factor):
    template = synthetic.make_document()
    keys = keys_of(template)
    slowed = {keys[0], keys[5], keys[10]}  # vector_add/triton cold, window_sum cold and warm records
    for i in range(10):
        base = stored(synthetic.make_document(seed=10 * i), tmp_path / "b.json")
        cand = stored(
            synthetic.make_document(seed=10 * i + 1, slow={k: factor for k in slowed}), tmp_path / "c.json"
        )
        report = gate(base, cand)
        assert {r.key for r in report.by_verdict(SLOWER)} == slowed, report.to_text()
        assert all(r.verdict == SAME for r in report.records if r.key not in slowed)
        assert report.exit_code == 1 and report.headline.startswith("REGRESSION: 3 of 12")
        for r in report.by_verdict(SLOWER):
            assert r.ci_low <= factor * 1.01 and r.ci_high >= factor * 0.99


def test_slowdown_by_multiplying_chosen_samples(tmp_path):
    base = stored(synthetic.make_document(seed=3), tmp_path / "b.json")
    cand_doc = synthetic.make_document(seed=4)
    chosen = {results.record_key(cand_doc["records"][i]) for i in (2, 7)}
    for rec in cand_doc["records"]:
        if results.record_key(rec) in chosen:
            scale_samples(rec, 1.05)
    report = gate(base, stored(cand_doc, tmp_path / "c.json"))
    assert {r.key for r in report.by_verdict(SLOWER)} == chosen
    assert report.exit_code == 1


@pytest.mark.parametrize("drift", [1.01, 1.015, 1.02, 0.985, 0.98])
def test_run_to_run_drift_is_not_flagged(tmp_path, drift):
    """A whole run 1-2 % slower or faster (clocks, placement) is no regression at the default threshold."""
    for i in range(10):
        base = stored(synthetic.make_document(seed=50 + 2 * i), tmp_path / "b.json")
        cand_doc = synthetic.make_document(seed=51 + 2 * i)
        for rec in cand_doc["records"]:
            scale_samples(rec, drift)
        report = gate(base, stored(cand_doc, tmp_path / "c.json"))
        assert not report.by_verdict(SLOWER) and not report.by_verdict(FASTER), report.to_text()
        assert report.exit_code == 0


def test_faster_is_reported_and_passes(tmp_path):
    base = synthetic.make_document(seed=5)
    key = keys_of(base)[1]
    cand = synthetic.make_document(seed=6, slow={key: 0.9})
    report = gate(base, cand)
    assert [r.key for r in report.by_verdict(FASTER)] == [key]
    assert report.exit_code == 0 and "1 FASTER" in report.headline


def test_noisy_record_is_uncertain_not_slower():
    base = synthetic.make_document(seed=8)
    cand = synthetic.make_document(seed=9)
    rng = np.random.default_rng(0)
    for doc in (base, cand):  # a wide, noisy distribution: +-15 % uniform, 20 samples
        doc["records"][0]["timing"]["samples"] = list(1e-4 * rng.uniform(0.85, 1.15, 20))
    scale_samples(cand["records"][0], 1.04)
    report = gate(base, cand)
    rec = next(r for r in report.records if r.key == keys_of(base)[0])
    assert rec.verdict == UNCERTAIN and rec.ci_low < 1.025 and rec.ci_high > 1.05
    assert report.exit_code == 0 and "UNCERTAIN" in report.headline


def test_too_few_samples_is_uncertain():
    base = synthetic.make_document(seed=1, samples=5)
    cand = synthetic.make_document(
        seed=2, samples=5, slow={k: 1.5 for k in keys_of(synthetic.make_document())}
    )
    report = gate(base, cand)
    assert {r.verdict for r in report.records} == {UNCERTAIN}
    assert all("too few samples" in r.note for r in report.records)
    assert report.records[0].ratio == pytest.approx(1.5, rel=0.05)


def test_strict_rule_and_threshold_options():
    base = synthetic.make_document(seed=11)
    key = keys_of(base)[0]
    cand = synthetic.make_document(seed=12, slow={key: 1.04})
    assert [r.key for r in gate(base, cand).by_verdict(SLOWER)] == [key]  # 4 % is clear of the 2.5 % floor
    assert not gate(base, cand, threshold_pct=10).by_verdict(SLOWER)  # floor 5 %
    assert not gate(base, cand, noise_floor_pct=5.0).by_verdict(SLOWER)  # the strict rule
    for bad in (dict(threshold_pct=0), dict(threshold_pct=5, noise_floor_pct=6), dict(confidence=1.0)):
        with pytest.raises(GateError):
            gate(base, cand, **bad)


def test_deterministic_and_independent_of_other_records():
    base = synthetic.make_document(seed=21)
    cand = synthetic.make_document(seed=22)
    assert gate(base, cand).to_json() == gate(base, cand).to_json()
    full = {r.key: (r.ci_low, r.ci_high) for r in gate(base, cand).records}
    base["records"] = base["records"][::2]
    part = {r.key: (r.ci_low, r.ci_high) for r in gate(base, cand).records}
    assert all(full[k] == v for k, v in part.items())
    other_seed = {r.key: (r.ci_low, r.ci_high) for r in gate(base, cand, seed=1).records}
    assert any(other_seed[k] != v for k, v in part.items())


# ---------------------------------------------------------------------------------------- exclusions


def test_throttled_and_sagged_records_are_excluded(tmp_path):
    base_doc = synthetic.make_document(seed=31)
    keys = keys_of(base_doc)
    cand_doc = synthetic.make_document(seed=32, slow={keys[0]: 1.10, keys[1]: 1.10, keys[2]: 1.10})
    cand_doc["records"][0]["flags"].append("throttled")
    base_doc["records"][1]["flags"].append("clock_sagged")
    cand_doc["records"][2]["flags"].append("launch_gaps")
    report = gate(stored(base_doc, tmp_path / "b.json"), stored(cand_doc, tmp_path / "c.json"))
    verdict = {r.key: r for r in report.records}
    assert verdict[keys[0]].verdict == THROTTLED_EXCLUDED and verdict[keys[0]].flags == [
        "candidate:throttled"
    ]
    assert verdict[keys[1]].verdict == THROTTLED_EXCLUDED and verdict[keys[1]].flags == [
        "baseline:clock_sagged"
    ]
    assert verdict[keys[2]].verdict == EXCLUDED
    assert report.exit_code == 0 and report.compared == 9
    md = report.to_markdown()
    assert "3 record(s) excluded from the verdict" in md and "candidate:throttled" in md


def test_added_removed_and_failed_records():
    base = synthetic.make_document(seed=41)
    cand = synthetic.make_document(seed=42)
    removed = base["records"][0]
    cand["records"] = cand["records"][1:]
    added = results.new_record("vector_add", "cupy", "cupy", {"n": 1 << 26}, "fp32", "cold")
    added["timing"] = dict(cand["records"][0]["timing"])
    cand["records"].append(added)
    cand["records"][3] = {**cand["records"][3], "status": "failed", "reason": "mismatch vs reference"}
    report = gate(base, cand)
    assert report.removed == [results.key_label(results.record_key(removed))]
    assert report.added == [results.key_label(results.record_key(added))]
    assert len(report.not_compared) == 1 and report.not_compared[0]["candidate"] == "failed"
    assert report.compared == 10 and report.exit_code == 0
    assert any("FAILED in the candidate" in n for n in report.notes)
    md = report.to_markdown()
    assert "only in the candidate" in md and "only in the baseline" in md and "mismatch vs reference" in md


# ---------------------------------------------------------------------------------------- clocks


def with_clocks(doc: dict, sm: float, mem: float = 2619.0, bound: str | None = "compute") -> dict:
    for rec in doc["records"]:
        rec["telemetry"] = {
            "available": True,
            "sm_clock_mhz": {"min": sm, "mean": sm, "max": sm},
            "mem_clock_mhz": {"min": mem, "mean": mem, "max": mem},
            "throttle_reasons": [],
        }
        if bound is not None:
            rec["roofline"] = {"datasheet": {"bound": bound}, "measured": None}
    return doc


def test_clock_normalisation_for_compute_bound_records(tmp_path):
    """The candidate ran at a 10 % lower SM clock and took 1980/1782 as long: not a code regression."""
    base = with_clocks(synthetic.make_document(seed=51), 1980.0)
    cand = with_clocks(synthetic.make_document(seed=52), 1782.0)
    for rec in cand["records"]:
        scale_samples(rec, 1980.0 / 1782.0)
    base, cand = stored(base, tmp_path / "b.json"), stored(cand, tmp_path / "c.json")
    report = gate(base, cand)
    assert {r.verdict for r in report.records} == {SAME}
    assert all(r.clock.applied and r.clock.factor == pytest.approx(0.9) for r in report.records)
    assert all(r.clock.bound_source == "roofline.datasheet" for r in report.records)
    assert (
        "clock-normalised" in report.to_text() and "Clock normalisation applied to 12" in report.to_markdown()
    )
    raw = gate(base, cand, normalize_clocks=False)
    assert {r.verdict for r in raw.records} == {SLOWER}


def test_memory_bound_records_follow_the_memory_clock():
    base = with_clocks(synthetic.make_document(seed=53), 1980.0, bound="memory")
    cand = with_clocks(synthetic.make_document(seed=54), 1782.0, bound="memory")
    for rec in cand["records"]:
        scale_samples(rec, 1.10)
    report = gate(base, cand)
    assert {r.verdict for r in report.records} == {SLOWER}  # an SM clock change does not excuse it
    assert all(not r.clock.applied and "ignored" in r.clock.note for r in report.records)
    cand2 = with_clocks(synthetic.make_document(seed=54), 1980.0, mem=2619.0 * 0.9, bound="memory")
    for rec in cand2["records"]:
        scale_samples(rec, 1 / 0.9)
    report = gate(base, cand2)
    assert {r.verdict for r in report.records} == {SAME}
    assert all(r.clock.applied and r.clock.clock == "mem" for r in report.records)


def test_unknown_bound_is_not_normalised(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpubench.roofline.specs", None)  # no prediction to fall back on
    base = with_clocks(synthetic.make_document(seed=55), 1980.0, bound=None)
    cand = with_clocks(synthetic.make_document(seed=56), 1782.0, bound=None)
    report = gate(base, cand)
    assert all(not r.clock.applied and "bound is unknown" in r.clock.note for r in report.records)
    assert {r.verdict for r in report.records} == {SAME}


def test_bound_from_the_datasheet_prediction_when_not_annotated():
    """Without a roofline annotation the gate asks roofline for the bound (vector_add: memory-bound)."""
    try:
        specs = importlib.import_module("gpubench.roofline.specs")
        importlib.import_module("gpubench.roofline.model")
    except ImportError as exc:
        pytest.skip(f"roofline.specs/roofline.model not importable yet ({exc})")
    if getattr(specs, "match_gpu", lambda name: None)(H100) is None:
        pytest.skip("the spec table does not know the H100 yet")
    base = with_clocks(synthetic.make_document(seed=59), 1980.0, bound=None)
    cand = with_clocks(synthetic.make_document(seed=60), 1782.0, bound=None)
    vec = [r for r in gate(base, cand).records if r.key[0] == "vector_add"]
    assert vec and all(r.clock.bound == "memory" and r.clock.bound_source == "prediction" for r in vec)
    assert all(not r.clock.applied for r in vec)


def test_equal_clocks_need_no_normalisation():
    base = with_clocks(synthetic.make_document(seed=57), 1980.0)
    cand = with_clocks(synthetic.make_document(seed=58), 1975.0)  # within 1 %
    assert all(r.clock is None for r in gate(base, cand).records)


# ---------------------------------------------------------------------------------------- hardware


def test_gpu_mismatch_is_refused_unless_cross_hardware(tmp_path, capsys):
    base = results.write(synthetic.make_document(seed=61), tmp_path / "h100.json")
    cand = results.write(synthetic.make_document(H200, seed=62), tmp_path / "h200.json")
    with pytest.raises(GateError, match="GPU models differ"):
        gate(results.read(base), results.read(cand))
    code, out, err = run_cli(capsys, str(base), str(cand))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "GPU models differ" in err and "--cross-hardware" in err
    code, out, err = run_cli(capsys, str(base), str(cand), "--cross-hardware", "--markdown")
    assert code == 0  # H200 is faster everywhere: nothing SLOWER
    assert "CROSS-HARDWARE COMPARISON" in out and H200 in out and H100 in out
    report = gate(results.read(base), results.read(cand), cross_hardware=True)
    assert report.cross_hardware and "CROSS-HARDWARE" in report.headline
    assert {r.verdict for r in report.records} == {FASTER}


# ---------------------------------------------------------------------------------------- command line


@pytest.fixture
def aa_files(tmp_path):
    base = results.write(synthetic.make_document(seed=71), tmp_path / "base.json")
    cand = results.write(synthetic.make_document(seed=72), tmp_path / "cand.json")
    key = keys_of(synthetic.make_document())[0]
    slow = results.write(synthetic.make_document(seed=73, slow={key: 1.08}), tmp_path / "slow.json")
    return base, cand, slow


def test_cli_exit_codes_and_formats(aa_files, capsys, tmp_path):
    base, cand, slow = aa_files
    code, out, err = run_cli(capsys, str(base), str(cand))
    assert code == 0 and out.startswith("PASS") and "SAME" in out
    code, out, err = run_cli(capsys, str(base), str(slow), "--markdown")
    assert code == 1
    assert "## gpubench gate: FAIL" in out
    assert "| verdict | record | baseline median | candidate median | ratio | 99% interval |" in out
    assert "| **SLOWER** | `vector_add/triton[n=67108864\\|fp32\\|cold]` |" in out
    assert "11 records SAME" in out and "commit" in out and "NVIDIA H100 80GB HBM3" in out
    assert "REGRESSION" in err  # the headline also goes to stderr, for the CI log
    code, out, err = run_cli(capsys, str(base), str(slow), "--json")
    data = json.loads(out)
    assert code == 1 and data["exit_code"] == 1 and data["counts"]["SLOWER"] == 1
    assert data["synthetic"] is True and data["settings"]["threshold_pct"] == 5.0
    assert data["records"][0]["key"]["workload"] in ("vector_add", "window_sum")
    target = tmp_path / "comment.md"
    code, out, err = run_cli(capsys, str(base), str(slow), "--markdown", "--output", str(target))
    assert code == 1 and "| **SLOWER** |" in target.read_text() and out.startswith("REGRESSION")
    code, out, err = run_cli(capsys, str(base), str(slow), "--threshold", "10")
    assert code == 1  # 8 % is still clear of the 5 % floor
    code, out, err = run_cli(capsys, str(base), str(slow), "--threshold", "10", "--noise-floor", "10")
    assert code == 0


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gpubench gate: error: ")
    return lines[0]


def test_cli_error_paths(aa_files, capsys, tmp_path):
    base, cand, _ = aa_files
    code, out, err = run_cli(capsys, str(base), str(tmp_path / "missing.json"))
    assert code == 2 and "no such results file" in one_error_line(err) and out == ""

    truncated = tmp_path / "truncated.json"
    text = Path(cand).read_text()
    truncated.write_text(text[: len(text) // 2])
    code, out, err = run_cli(capsys, str(base), str(truncated))
    assert code == 2 and "not valid JSON (truncated or corrupt?)" in one_error_line(err)

    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"machine_info": {}, "benchmarks": []}))
    code, out, err = run_cli(capsys, str(foreign), str(cand))
    assert code == 2 and "not a gpubench results file" in one_error_line(err)

    future = json.loads(text)
    future["schema_version"] = 999
    other_version = tmp_path / "v999.json"
    other_version.write_text(json.dumps(future))
    code, out, err = run_cli(capsys, str(base), str(other_version))
    assert code == 2 and "schema version 999" in one_error_line(err)

    code, out, err = run_cli(capsys, str(base), str(cand), "--threshold", "-1")
    assert code == 2 and "threshold" in one_error_line(err)

    code, out, err = run_cli(capsys, str(base), str(cand), "--output", str(tmp_path / "no" / "dir" / "x.md"))
    assert code == 2 and "cannot write" in one_error_line(err)


def test_python_dash_m_and_gpubench_entry_point(aa_files):
    base, cand, slow = aa_files
    code, out, err = cli(str(base), str(cand))
    assert code == 0 and out.startswith("PASS"), err
    code, out, err = cli(str(base), str(slow))
    assert code == 1 and "SLOWER" in out
    code, out, err = cli(str(base), str(Path(cand).with_name("nope.json")))
    assert code == 2 and err.count("\n") == 1 and "no such results file" in err
    from gpubench import cli as bench_cli

    assert bench_cli.main(["gate", str(base), str(slow), "--json"]) == 1


def test_reports_gate_and_compare_import_neither_torch_nor_kernels():
    code = (
        "import sys\n"
        "import gpubench.reports.gate, gpubench.reports.gate_cli\n"
        "import gpubench.reports.compare, gpubench.reports.compare_cli\n"
        "bad = [m for m in ('torch', 'kernels', 'triton', 'cupy', 'matplotlib.pyplot') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stderr
