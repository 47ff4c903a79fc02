"""The regression gate (reports.gate, reports.gate_cli) on the CPU, on runs measured on an H100.

run1-quick and run2-aa are an A/A pair (the same code, minutes apart); run3-slow-config ran the
deliberately slow vector_add config. Slowdowns, drift, exclusions and clock changes are injected into
copies of those real samples. Every broken candidate the command line can meet exits 2 with one line.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from gpubench import results
from gpubench.reports import gate_cli
from gpubench.reports.gate import GateError, classify, gate, ratio_interval
from gpubench.reports.gate_report import EXCLUDED, FASTER, SAME, SLOWER, THROTTLED_EXCLUDED, UNCERTAIN
from gpubench.results import Spread, Telemetry
from gpubench.roofline.placement import place_run
from tests.support import realdata


def aa():
    return realdata.calibration("run1-quick"), realdata.calibration("run2-aa")


def run_gate(base, cand, **kw):
    return gate(place_run(base), place_run(cand), **kw)


def common_keys(base, cand) -> list:
    return sorted(
        {r.key for r in base.ok_records()} & {r.key for r in cand.ok_records()}, key=lambda k: k.label
    )


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
    base = np.asarray(realdata.record(realdata.h100(), "vector_add", "triton", n=1 << 26).timing.samples)
    cand = base * 1.03
    r1 = ratio_interval(base, cand, 0.99, 2000, np.random.default_rng(1))
    assert r1 == ratio_interval(base, cand, 0.99, 2000, np.random.default_rng(1))
    ratio, lo, hi = r1
    assert ratio == pytest.approx(1.03) and lo < ratio < hi and hi - lo < 0.02


# ---------------------------------------------------------------------------------------- verdicts


def test_real_aa_pair_is_same_everywhere():
    base, cand = aa()
    report = run_gate(base, cand)
    assert report.compared == len(common_keys(base, cand)) == 70
    assert {r.verdict for r in report.records} == {SAME}
    assert report.exit_code == 0 and report.headline.startswith("PASS")


def test_real_slow_config_is_slower_for_exactly_the_suites_vector_add_kernels():
    report = run_gate(realdata.calibration("run2-aa"), realdata.calibration("run3-slow-config"))
    slower = {r.key.variant for r in report.by_verdict(SLOWER)}
    assert slower == {"triton", "cuda_simple", "cuda_vec"}  # the slow config touches the suite's kernels
    assert all(r.key.variant == "torch" for r in report.records if r.verdict != SLOWER)
    assert report.exit_code == 1 and report.headline.startswith("REGRESSION: 12 of 16")


@pytest.mark.parametrize("factor", [1.05, 1.10])
def test_injected_slowdown_is_slower_for_exactly_those_records(factor):
    base, cand = aa()
    as_is = {r.key: r.ratio for r in run_gate(base, cand).records}  # the real A/A ratio of each record
    idx = cand.index()
    slowed = {k for k in common_keys(base, cand)[::7] if idx[k].median >= 100e-6}  # the gate's target size
    for k in slowed:
        realdata.scaled(idx[k], factor)
    report = run_gate(base, cand)
    assert {r.key for r in report.by_verdict(SLOWER)} == slowed, report.to_text()
    assert all(r.verdict == SAME for r in report.records if r.key not in slowed)
    assert report.exit_code == 1
    for r in report.by_verdict(SLOWER):
        expected = factor * as_is[r.key]
        assert r.ci_low <= expected * 1.005 and r.ci_high >= expected * 0.995


@pytest.mark.parametrize("drift", [1.005, 0.995])
def test_run_to_run_drift_is_not_flagged(drift):
    """A whole run a little slower or faster is no regression. The real A/A pair already differs by up to
    1.5 % on one record (softmax/cuda bf16 4096 x 16384), so 0.5 % more is what fits under the 2.5 % floor."""
    base, cand = aa()
    worst = max(abs(r.ratio - 1) for r in run_gate(base, cand).records)
    assert 0.01 < worst < 0.02
    for rec in cand.ok_records():
        realdata.scaled(rec, drift)
    report = run_gate(base, cand)
    assert not report.by_verdict(SLOWER) and not report.by_verdict(FASTER), report.to_text()
    assert report.exit_code == 0


def test_faster_is_reported_and_passes():
    base, cand = aa()
    key = common_keys(base, cand)[3]
    realdata.scaled(cand.index()[key], 0.9)
    report = run_gate(base, cand)
    assert [r.key for r in report.by_verdict(FASTER)] == [key]
    assert report.exit_code == 0 and "1 FASTER" in report.headline


def test_noisy_record_is_uncertain_not_slower():
    base, cand = aa()
    key = common_keys(base, cand)[0]
    rng = np.random.default_rng(0)
    for run in (base, cand):  # a wide, noisy distribution: real samples spread +-15 %, 20 of them
        rec = run.index()[key]
        xs = np.asarray(rec.timing.samples[:20]) * rng.uniform(0.85, 1.15, 20)
        rec.timing = dataclasses.replace(rec.timing, samples=tuple(xs))
    realdata.scaled(cand.index()[key], 1.04)
    verdict = next(r for r in run_gate(base, cand).records if r.key == key)
    assert verdict.verdict == UNCERTAIN and verdict.ci_low < 1.025 and verdict.ci_high > 1.05


def test_too_few_samples_is_uncertain():
    base, cand = aa()
    for run in (base, cand):
        for rec in run.ok_records():
            rec.timing = dataclasses.replace(rec.timing, samples=rec.timing.samples[:5])
    for rec in cand.ok_records():
        realdata.scaled(rec, 1.5)
    report = run_gate(base, cand)
    assert {r.verdict for r in report.records} == {UNCERTAIN}
    assert all("too few samples" in r.note for r in report.records)


def test_strict_rule_and_threshold_options():
    base, cand = aa()
    key = next(k for k in common_keys(base, cand) if cand.index()[k].median > 200e-6)
    realdata.scaled(cand.index()[key], 1.04)
    assert [r.key for r in run_gate(base, cand).by_verdict(SLOWER)] == [key]  # clear of the 2.5 % floor
    assert not run_gate(base, cand, threshold_pct=10).by_verdict(SLOWER)  # floor 5 %
    assert not run_gate(base, cand, noise_floor_pct=5.0).by_verdict(SLOWER)  # the strict rule


@pytest.mark.parametrize(
    "bad, what",
    [
        (dict(threshold_pct=0), "threshold"),
        (dict(threshold_pct=5, noise_floor_pct=6), "noise floor"),
        (dict(confidence=1.0), "confidence"),
        (dict(resamples=10), "resamples"),
        (dict(resamples=10**9), "resamples"),
    ],
)
def test_settings_are_bounded(bad, what):
    with pytest.raises(GateError, match=what):
        run_gate(*aa(), **bad)


def test_deterministic_and_independent_of_other_records():
    base, cand = aa()
    assert run_gate(base, cand).to_json() == run_gate(base, cand).to_json()
    full = {r.key: (r.ci_low, r.ci_high) for r in run_gate(base, cand).records}
    base.records = base.records[::2]
    part = {r.key: (r.ci_low, r.ci_high) for r in run_gate(base, cand).records}
    assert all(full[k] == v for k, v in part.items())
    other_seed = {r.key: (r.ci_low, r.ci_high) for r in run_gate(base, cand, seed=1).records}
    assert any(other_seed[k] != v for k, v in part.items())


# ---------------------------------------------------------------------------------------- exclusions


def test_throttled_sagged_and_gapped_records_are_excluded():
    base, cand = aa()
    k0, k1, k2 = common_keys(base, cand)[:3]
    for k in (k0, k1, k2):
        realdata.scaled(cand.index()[k], 1.10)
    cand.index()[k0].flags.append("throttled")
    base.index()[k1].flags.append("clock_sagged")
    cand.index()[k2].flags.append("launch_gaps")
    report = run_gate(base, cand)
    verdict = {r.key: r for r in report.records}
    assert verdict[k0].verdict == THROTTLED_EXCLUDED and verdict[k0].flags == ["candidate:throttled"]
    assert verdict[k1].verdict == THROTTLED_EXCLUDED and verdict[k1].flags == ["baseline:clock_sagged"]
    assert verdict[k2].verdict == EXCLUDED
    assert report.exit_code == 0 and report.compared == 67
    assert "3 record(s) excluded from the verdict" in report.to_markdown()


def test_added_removed_and_a_broken_kernel():
    base, cand = aa()
    keys = common_keys(base, cand)
    cand.records = [r for r in cand.records if r.key != keys[0]]
    broken = cand.index()[keys[5]]
    broken.status, broken.reason, broken.timing = "failed", "incorrect: mismatch vs reference", None
    report = run_gate(base, cand)
    assert keys[0].label in report.removed and report.added == []
    assert [n["label"] for n in report.broken] == [keys[5].label]
    assert report.exit_code == 1 and "ok in the baseline FAILED" in report.headline  # a kernel broke
    md = report.to_markdown()
    assert "only in the baseline" in md and "mismatch vs reference" in md


# ---------------------------------------------------------------------------------------- clocks


def with_clocks(run, sm: float, mem: float = 2619.0):
    for rec in run.ok_records():
        rec.telemetry = Telemetry(True, sm_clock_mhz=Spread(sm, sm, sm), mem_clock_mhz=Spread(mem, mem, mem))
    return run


def test_clock_normalisation_for_compute_bound_records():
    """The candidate ran at a 10 % lower SM clock and its compute-bound GEMMs took 1980/1782 as long."""
    base, cand = (with_clocks(r, sm) for r, sm in zip(aa(), (1980.0, 1782.0)))
    assert place_run(base).of(base.ok_records()[-1]).bound[1] == "roofline.measured"  # run1 embeds ceilings
    base.ceilings = cand.ceilings = None  # without them the bound falls back to the datasheet's
    pbase = place_run(base)
    compute = {r.key for r in base.ok_records() if pbase.of(r) and pbase.of(r).bound[0] == "compute"}
    assert compute  # the GEMMs of the A/A runs
    for rec in cand.ok_records():
        if rec.key in compute:
            realdata.scaled(rec, 1980.0 / 1782.0)
    report = run_gate(base, cand)
    gemms = [r for r in report.records if r.key in compute]
    assert all(r.verdict == SAME and r.clock.applied and r.clock.factor == pytest.approx(0.9) for r in gemms)
    assert all(r.clock.bound_source == "roofline.datasheet" for r in gemms)  # no measured ceilings here
    assert "clock-normalised" in report.to_text()
    raw = run_gate(base, cand, normalize_clocks=False)
    assert {r.verdict for r in raw.records if r.key in compute} == {SLOWER}


def test_memory_bound_records_follow_the_memory_clock():
    base = with_clocks(aa()[0], 1980.0)
    cand = with_clocks(aa()[1], 1782.0)
    pbase = place_run(base)
    memory = {r.key for r in base.ok_records() if pbase.of(r) and pbase.of(r).bound[0] == "memory"}
    for rec in cand.ok_records():
        if rec.key in memory:
            realdata.scaled(rec, 1.10)
    report = run_gate(base, cand)
    mem = [r for r in report.records if r.key in memory]
    assert mem and {r.verdict for r in mem} == {SLOWER}  # an SM clock change does not excuse it
    assert all(not r.clock.applied and "ignored" in r.clock.note for r in mem)
    cand2 = with_clocks(aa()[1], 1980.0, mem=2619.0 * 0.9)
    for rec in cand2.ok_records():
        if rec.key in memory:
            realdata.scaled(rec, 1 / 0.9)
    mem2 = [r for r in run_gate(base, cand2).records if r.key in memory]
    assert {r.verdict for r in mem2} == {SAME} and all(
        r.clock.applied and r.clock.clock == "mem" for r in mem2
    )


def test_unknown_bound_is_not_normalised():
    base, cand = (with_clocks(r, sm) for r, sm in zip(aa(), (1980.0, 1782.0)))
    for run in (base, cand):
        for rec in run.ok_records():
            rec.flops = rec.bytes = None  # no counts: no placement, so no bound
    report = run_gate(base, cand)
    assert all(not r.clock.applied and "bound is unknown" in r.clock.note for r in report.records)


def test_equal_clocks_need_no_normalisation():
    base, cand = (with_clocks(r, sm) for r, sm in zip(aa(), (1980.0, 1975.0)))  # within 1 %
    assert all(r.clock is None for r in run_gate(base, cand).records)


# ---------------------------------------------------------------------------------------- refusals


def test_gpu_mismatch_is_refused_unless_cross_hardware():
    with pytest.raises(GateError, match="GPU models differ"):
        run_gate(realdata.h100(), realdata.h200())
    report = run_gate(realdata.h100(), realdata.h200(), cross_hardware=True)
    assert report.cross_hardware and "CROSS-HARDWARE" in report.headline


def test_partial_runs_are_refused_unless_allowed():
    base, cand = aa()
    cand.status = "interrupted"
    with pytest.raises(GateError, match="interrupted.*--allow-partial"):
        run_gate(base, cand)
    assert run_gate(base, cand, allow_partial=True).exit_code == 0


def test_nothing_in_common_is_refused():
    base, cand = aa()
    cand.records = [r for r in cand.records if r.workload == "softmax"]
    base.records = [r for r in base.records if r.workload == "vector_add"]
    with pytest.raises(GateError, match="no ok record in common"):
        run_gate(base, cand)
    cand.records = []
    with pytest.raises(GateError, match="no ok record: nothing to gate"):
        run_gate(base, cand)


# ---------------------------------------------------------------------------------------- command line


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = gate_cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gpubench gate: error: ")
    return lines[0]


@pytest.fixture
def files(tmp_path):
    base, cand = aa()
    slow = realdata.calibration("run2-aa")
    key = next(k for k in common_keys(base, slow) if slow.index()[k].median > 200e-6)
    realdata.scaled(slow.index()[key], 1.08)
    out = {}
    for name, run in (("base", base), ("cand", cand), ("slow", slow)):
        out[name] = str(results.write(run, tmp_path / f"{name}.json"))
    out["slow_label"] = key.label
    return out


def test_cli_exit_codes_and_formats(files, capsys, tmp_path):
    code, out, err = run_cli(capsys, files["base"], files["cand"])
    assert code == 0 and out.startswith("PASS") and "SAME" in out
    code, out, err = run_cli(capsys, files["base"], files["slow"], "--markdown")
    assert code == 1 and "## gpubench gate: FAIL" in out
    assert "| verdict | record | baseline median | candidate median | ratio | 99% interval |" in out
    assert f"| **SLOWER** | `{files['slow_label'].replace('|', chr(92) + '|')}` |" in out
    assert "69 records SAME" in out and realdata.H100 in out and "REGRESSION" in err
    code, out, err = run_cli(capsys, files["base"], files["slow"], "--json")
    data = json.loads(out)
    assert code == 1 and data["exit_code"] == 1 and data["counts"]["SLOWER"] == 1
    assert data["synthetic"] is False and data["settings"]["threshold_pct"] == 5.0
    target = tmp_path / "comment.md"
    code, out, err = run_cli(capsys, files["base"], files["slow"], "--markdown", "--output", str(target))
    assert code == 1 and "| **SLOWER** |" in target.read_text() and out.startswith("REGRESSION")
    code, out, err = run_cli(capsys, files["base"], files["slow"], "--threshold", "10", "--noise-floor", "10")
    assert code == 0


def _broken(tmp_path, files, name, change) -> str:
    doc = json.loads(open(files["cand"]).read())
    change(doc)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _set_sample(value):
    def change(doc):
        rec = next(r for r in doc["records"] if r["status"] == "ok")
        rec["timing"]["samples"] = [value] * len(rec["timing"]["samples"])
        rec["timing"].pop("median")

    return change


@pytest.mark.parametrize(
    "name, change, what",
    [
        ("nan", _set_sample(float("nan")), "not a positive finite time"),
        ("null", _set_sample(None), "expected a number, got null"),
        ("negative", _set_sample(-1e-4), "not a positive finite time"),
        ("zero", _set_sample(0.0), "not a positive finite time"),
        ("inf", _set_sample(float("inf")), "not a positive finite time"),
        ("string", _set_sample("fast"), "expected a number"),
        ("empty", lambda d: d.update(records=[]), "no ok record: nothing to gate"),
        ("partial", lambda d: d.update(status="partial"), "'partial', not complete"),
        ("duplicate", lambda d: d["records"].append(d["records"][0]), "duplicates record 0"),
        ("version", lambda d: d.update(schema_version=999), "schema version 999"),
        ("foreign", lambda d: d.update(schema="pytest-benchmark"), "not a gpubench results file"),
    ],
)
def test_every_broken_candidate_exits_2_naming_the_problem(files, capsys, tmp_path, name, change, what):
    code, out, err = run_cli(capsys, files["base"], _broken(tmp_path, files, name, change))
    assert code == 2 and out == ""
    assert what in one_error_line(err)


def test_cli_file_and_option_errors(files, capsys, tmp_path):
    code, out, err = run_cli(capsys, files["base"], str(tmp_path / "missing.json"))
    assert code == 2 and "no such file" in one_error_line(err) and out == ""
    text = open(files["cand"]).read()
    (tmp_path / "t.json").write_text(text[: len(text) // 2])
    code, out, err = run_cli(capsys, files["base"], str(tmp_path / "t.json"))
    assert code == 2 and "not valid JSON (truncated or corrupt?)" in one_error_line(err)
    code, out, err = run_cli(capsys, files["base"], files["cand"], "--threshold", "-1")
    assert code == 2 and "threshold" in one_error_line(err)
    code, out, err = run_cli(capsys, files["base"], files["cand"], "--resamples", "5")
    assert code == 2 and "--resamples: 5 resamples is out of range: it must be at least 100" in err
    code, out, err = run_cli(capsys, files["base"], files["cand"], "--threshold", "nan")
    assert code == 2 and "--threshold: 'nan' is not a finite number (%)" in one_error_line(err)
    code, out, err = run_cli(
        capsys, files["base"], files["cand"], "--output", str(tmp_path / "no" / "dir" / "x")
    )
    assert code == 2 and "cannot write" in one_error_line(err)
    code, out, err = run_cli(capsys, str(realdata.H100_RESULTS), str(realdata.H200_RESULTS))
    assert code == 2 and "GPU models differ" in one_error_line(err) and "--cross-hardware" in err


@pytest.mark.slow
def test_python_dash_m_and_the_gpubench_entry_point(files):
    def cli(*args):
        p = subprocess.run(
            [sys.executable, "-m", "gpubench.reports.gate_cli", *args],
            capture_output=True,
            text=True,
            cwd=realdata.REPO,
            timeout=120,
        )
        return p.returncode, p.stdout, p.stderr

    assert cli(files["base"], files["cand"])[0] == 0
    code, out, _ = cli(files["base"], files["slow"])
    assert code == 1 and "SLOWER" in out
    from gpubench import cli as gpubench_cli

    assert gpubench_cli.main(["gate", files["base"], files["slow"], "--json"]) == 1


def test_the_calibration_runs_are_real_measurements():
    for name in ("run1-quick", "run2-aa", "run3-slow-config"):
        run = realdata.calibration(name)
        assert run.synthetic is False and run.gpu == realdata.H100 and run.status == "complete"
        assert all(r.timing.n >= 10 and r.telemetry.available for r in run.ok_records())


def test_provenance_knobs_are_named_and_old_files_add_nothing():
    from gpubench.results import Provenance

    base, cand = aa()
    assert run_gate(base, cand).notes == []  # the committed runs hold no provenance section
    base.provenance = Provenance(commit="a", dirty=False, env={"TRITON_F32_DEFAULT": "ieee"})
    slow = realdata.calibration("run3-slow-config")
    slow.provenance = Provenance(commit="a", dirty=True, env={"GPUBENCH_TEST_SLOW_CONFIG": "1"})
    report = run_gate(base, slow)
    assert any("candidate: GPUBENCH_TEST_SLOW_CONFIG=1 was set" in n for n in report.notes)
    assert any("uncommitted changes" in n for n in report.notes)
    assert "Environment knobs differ: TRITON_F32_DEFAULT ieee -> unset" in report.notes
    assert "GPUBENCH_TEST_SLOW_CONFIG=1" in report.to_markdown()
