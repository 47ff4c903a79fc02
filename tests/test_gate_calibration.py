"""The gate's calibration statistics (reports.gate_calibration) on the runs committed in
reports/calibration/: real H100 runs, but only one A/A pair (run1-quick, run2-aa), and of two different
plans (7 workloads against 3), so the figures here rest on 70 record comparisons of one pair. The series
of >= 10 A/A runs of one fixed plan is owed from the GPU (the `truth` and `truth-inject` packs,
docs/gpu-runs.md); these tests check the arithmetic that will turn it into the documented figures."""

import copy
import json
import math

import pytest

from gpubench.reports import gate_calibration as cal
from gpubench.results import Provenance
from tests.support import realdata


def aa():
    return [realdata.calibration("run1-quick"), realdata.calibration("run2-aa")]


def test_clopper_pearson():
    assert cal.clopper_pearson(0, 70)[1] == pytest.approx(1 - 0.025 ** (1 / 70))  # 5.1 %
    lo, hi = cal.clopper_pearson(5, 10)
    assert lo == pytest.approx(0.1871, abs=1e-4) and hi == pytest.approx(0.8129, abs=1e-4)
    assert cal.clopper_pearson(10, 10) == (pytest.approx(0.025 ** (1 / 10)), 1.0)
    assert cal.clopper_pearson(0, 3000)[1] < 0.0013  # large n, in log space
    with pytest.raises(ValueError):
        cal.clopper_pearson(3, 2)


def test_the_committed_pair_gives_no_false_alarm_in_70_comparisons():
    stats = cal.aa_false_alarms(aa())
    assert stats.pairs == 1 and stats.comparisons == 70 and stats.verdicts["SLOWER"] == 0
    assert stats.verdicts["SAME"] == 70
    assert stats.false_alarm_upper_95 == pytest.approx(0.0513, abs=1e-4)  # one pair cannot say more
    assert stats.largest_drift == pytest.approx(0.0173, abs=5e-4)
    assert stats.largest_drift_record == "softmax/cuda[cols=16384,rows=4096|bf16|cold]"
    assert stats.caveats == [
        "the runs ran different plans (166, 70 ok records): compared on the records they share"
    ]


@pytest.mark.parametrize("fraction", [0.05, 0.10])
def test_injected_slowdowns_on_records_of_100_us_are_caught(fraction):
    found = cal.injected_detection(aa(), fraction)
    assert found.comparisons == 55 and found.flagged == 55 and found.missed == []
    assert found.lower_95 == pytest.approx(0.025 ** (1 / 55), abs=1e-4)  # 93.5 %: 55 of 55 says no more


def test_an_injected_copy_scales_only_long_records():
    run = realdata.calibration("run2-aa")
    slowed, keys = cal.injected(run, 0.05)
    for old, new in zip(run.records, slowed.records):
        if old.key in keys:
            assert old.median >= 100e-6 and new.median == pytest.approx(old.median * 1.05)
        elif old.ok:
            assert new.timing.samples == old.timing.samples
    assert run.index()[next(iter(keys))].median < slowed.index()[next(iter(keys))].median  # a copy


def test_measured_detection_reads_the_slowdown_from_the_file():
    with pytest.raises(ValueError, match="not an injected-slowdown run"):
        cal.measured_detection(aa(), [realdata.calibration("run3-slow-config")])
    # The arithmetic, on a stand-in for an injected run: the A/A run with 10 % added to its long records
    # and the knob recorded in its provenance (a real one is owed from the GPU).
    stand_in, keys = cal.injected(realdata.calibration("run2-aa"), 0.10)
    stand_in.provenance = Provenance(env={"GPUBENCH_TEST_SLOWDOWN": "0.1"})
    (found,) = cal.measured_detection([realdata.calibration("run1-quick")], [stand_in])
    assert found.fraction == 0.1 and found.source == "measured on the GPU"
    assert found.flagged == found.comparisons
    assert found.comparisons == len(keys) == 55


def test_caveats_name_other_commits_and_cards():
    runs = [realdata.calibration("run0-first-quick"), realdata.calibration("run1-quick")]
    caveats = cal.plan_caveats(runs)
    assert any("different commits" in c for c in caveats) and any("different GPUs" in c for c in caveats)
    same = [realdata.calibration("run2-aa"), copy.deepcopy(realdata.calibration("run2-aa"))]
    assert cal.plan_caveats(same) == []
    assert len(cal.pairs_of(same * 3, "all")) == math.comb(6, 2) and len(cal.pairs_of(same * 3)) == 5


def test_the_module_command(tmp_path, capsys):
    files = [str(realdata.CALIBRATION / f"{n}.json") for n in ("run1-quick", "run2-aa")]
    out = tmp_path / "cal.json"
    assert cal.main(["--aa", *files, "--json", str(out), "--markdown", str(tmp_path / "cal.md")]) == 0
    doc = json.loads(out.read_text())
    assert doc["false_alarms"]["comparisons"] == 70
    assert [d["fraction"] for d in doc["injected"]] == [0.05, 0.10]
    assert "SLOWER 0" in (tmp_path / "cal.md").read_text()
    capsys.readouterr()
    assert cal.main(["--aa", files[0]]) == 2
    assert "at least two A/A runs" in capsys.readouterr().err
