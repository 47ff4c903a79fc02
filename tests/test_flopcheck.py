"""Declared FLOP counts against torch's FlopCounterMode on the reference (bench.measure.flopcheck): the GEMM
reference is counted and agrees with the suite's 2·M·N·K; a count off by a factor is reported, by the
check, by `gpubench run` (a warning line) and by gpubench.benchmark (a warning and a flag)."""

import dataclasses
import warnings
from pathlib import Path

import pytest
import torch

import gpubench
from gpubench.bench.measure import flopcheck
from gpubench.kernels import REGISTRY
from tests.test_measure import STEADY, FakeTelemetry, FakeTimer
from tests.test_plugins import gpubench_cli

REPO = Path(__file__).resolve().parent.parent
GEMM = REGISTRY["gemm"]
HALF_COUNTED = dataclasses.replace(GEMM, flops=lambda s: s["M"] * s["N"] * s["K"])  # forgets the add


def test_the_gemm_reference_is_counted_and_agrees():
    shape = {"M": 33, "N": 65, "K": 17}
    a, b, tf32 = GEMM.make_inputs(shape, "fp32", torch.device("cpu"), 0)
    out, counted = flopcheck.counted_call(GEMM.reference, a, b, tf32)
    assert counted == 2 * 33 * 65 * 17 and out.shape == (33, 65)
    check = flopcheck.FlopCheck(GEMM.flops(shape), counted)
    assert check.agrees and check.rel_diff == 0.0


def test_a_count_more_than_one_percent_off_disagrees():
    assert not flopcheck.FlopCheck(1000, 1011).agrees and flopcheck.FlopCheck(1000, 1010).agrees
    bad = flopcheck.FlopCheck(500, 1000)
    assert not bad.agrees and "declares 500 FLOPs" in bad.message("x") and "counts 1,000" in bad.message("x")


def test_every_builtin_count_agrees_where_the_reference_is_countable():
    assert flopcheck.problems(REGISTRY.values()) == []
    checks = flopcheck.check_workload(GEMM)
    assert checks and all(c.countable and c.agrees for _, c in checks)


def test_elementwise_references_are_not_countable_and_claim_nothing():
    checks = flopcheck.check_workload(REGISTRY["vector_add"])
    assert all(not c.countable and c.agrees for _, c in checks)


def test_a_miscounted_gemm_is_reported_once_naming_it():
    (line,) = flopcheck.problems([HALF_COUNTED])
    n = len(GEMM.shapes["test"])
    assert line.startswith("gemm {'M': 1, 'N': 1, 'K': 1}: declares 1 FLOPs") and f"{n} of its {n}" in line


def test_gpubench_benchmark_flags_a_miscounted_reference():
    a, b = torch.randn(64, 32, dtype=torch.float64), torch.randn(32, 16, dtype=torch.float64)
    stand_in = dict(timer_factory=lambda d, m: FakeTimer(STEADY, m), telemetry=FakeTelemetry())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wrong = gpubench.benchmark(torch.mm, a, b, flops=64 * 32 * 16, reference=torch.mm, **stand_in)
    assert "flops_mismatch" in wrong.flags and wrong.flop_check.counted == 2 * 64 * 32 * 16
    assert any("FlopCounterMode counts 65,536" in str(w.message) for w in caught)
    assert wrong.record.details["flop_check"] == {"declared": 32768, "counted": 65536, "agrees": False}
    right = gpubench.benchmark(torch.mm, a, b, flops=2 * 64 * 32 * 16, reference=torch.mm, **stand_in)
    assert right.flop_check.agrees and "flops_mismatch" not in right.flags


PLUGIN = """
import dataclasses
from gpubench.kernels.gemm import WORKLOAD as GEMM
WORKLOAD = dataclasses.replace(GEMM, name="gemm_miscounted", variants={"torch": GEMM.variants["torch"]},
                               flops=lambda s: s["M"] * s["N"] * s["K"])
"""


@pytest.mark.slow
def test_gpubench_run_warns_up_front_about_a_miscounted_plugin(tmp_path):
    (tmp_path / "miscounted.py").write_text(PLUGIN)
    module = str(tmp_path / "miscounted.py")
    p = gpubench_cli("run", "--workload-module", module, "--workload", "gemm_miscounted", "--dry-run",
                     cwd=tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr  # a warning, not a failure: the kernels are right
    assert "gemm_miscounted/torch/" in p.stdout
    warning = [line for line in p.stderr.splitlines() if "FlopCounterMode" in line]
    assert len(warning) == 1 and warning[0].startswith("gpubench run: warning: gemm_miscounted {")
