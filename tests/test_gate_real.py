"""The gate on results really measured on an H100 (reports/calibration/NVIDIA-H100-80GB-HBM3, one session,
2026-11-22): two runs of the same commit, and a run with vector_add's deliberately slow test config.

run1-quick.json      quick profile, every workload                          (commit 4d0a612)
run2-aa.json         quick profile, vector_add + window_sum + softmax, A/A  (same commit, right after)
run3-slow-config.json  vector_add with GPUBENCH_TEST_SLOW_CONFIG=1         (same commit)
"""

from pathlib import Path

import numpy as np
import pytest

from gpubench.bench import results
from gpubench.reports.gate import SAME, SLOWER, gate

CAL = Path(__file__).resolve().parent.parent / "reports" / "calibration" / "NVIDIA-H100-80GB-HBM3"


@pytest.fixture(scope="module")
def runs():
    return {
        name: results.read(CAL / f"{name}.json") for name in ("run1-quick", "run2-aa", "run3-slow-config")
    }


def _scale(rec, factor):
    s = [x * factor for x in rec["timing"]["samples"]]
    rec["timing"] = {**rec["timing"], "samples": s, "median": float(np.median(s))}


def test_files_are_real_measurements(runs):
    for doc in runs.values():
        assert doc["synthetic"] is False and doc["device"]["name"] == "NVIDIA H100 80GB HBM3"
        assert all(len(r["timing"]["samples"]) >= 10 for r in doc["records"] if r["status"] == "ok")


def test_real_aa_is_same_everywhere(runs):
    report = gate(runs["run1-quick"], runs["run2-aa"])
    assert report.compared == 70
    assert {r.verdict for r in report.records} == {SAME}
    assert report.exit_code == 0


def test_real_slow_config_is_flagged_for_exactly_the_variants_it_slows(runs):
    report = gate(runs["run2-aa"], runs["run3-slow-config"])
    slower = {r.key for r in report.records if r.verdict == SLOWER}
    touched = {results.record_key(r) for r in runs["run3-slow-config"]["records"] if r["variant"] != "torch"}
    assert slower == touched  # the knob changes the suite's own kernels; torch's x + y is untouched
    assert {r.verdict for r in report.records if r.key not in slower} == {SAME}
    assert report.exit_code == 1


@pytest.mark.parametrize("factor", [1.05, 1.10])
def test_injected_slowdown_on_real_samples(runs, factor):
    """A 5 % (the target's size) or 10 % slowdown of chosen records of >= 100 us, on real samples: exactly
    those are SLOWER."""
    base = runs["run1-quick"]
    cand = results.read(CAL / "run2-aa.json")
    long = [r for r in cand["records"] if r["status"] == "ok" and r["timing"]["median"] >= 100e-6]
    chosen = long[::3]
    assert len(chosen) >= 5
    for rec in chosen:
        _scale(rec, factor)
    report = gate(base, cand)
    slower = {r.key for r in report.records if r.verdict == SLOWER}
    assert slower == {results.record_key(r) for r in chosen}
    assert report.exit_code == 1


def test_real_run_to_run_noise_is_far_below_the_threshold(runs):
    """The spread between the two A/A runs (the noise the gate must tolerate) is stated in docs/gating.md:
    every median within 2 % of the other run's."""
    report = gate(runs["run1-quick"], runs["run2-aa"])
    worst = max(abs(r.ratio - 1) for r in report.records)
    assert worst < 0.02
