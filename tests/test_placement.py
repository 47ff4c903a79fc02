"""gpubench.roofline.placement: every ok record placed on the datasheet and the measured roofline, by one
function every tool calls; results above a ceiling (wrong FLOP/byte accounting) are caught. Real runs."""

import dataclasses

import pytest

from gpubench.roofline.placement import ABOVE_CEILING, TOLERANCE, place, place_run, run_ceilings
from tests.support import realdata


@pytest.fixture(scope="module")
def h100():
    return place_run(realdata.h100())


def test_every_ok_record_is_placed_on_both_roofs(h100):
    run = h100.run
    for rec in run.records:
        p = h100.of(rec)
        if not rec.ok:
            assert p is None
            continue
        for side in (p.datasheet, p.measured):
            assert side.bound in ("memory", "compute")
            assert side.time_s > 0 and side.attainable_tflops > 0
            assert side.intensity == pytest.approx(rec.flops / rec.bytes)
            assert side.fraction_of_bound == pytest.approx(side.lower_bound_s / rec.median)
            assert side.predicted_over_measured == pytest.approx(side.time_s / rec.median)
    assert h100.violations() == []


def test_vector_add_is_memory_bound_and_the_measured_roof_is_lower(h100):
    rec = realdata.record(h100.run, "vector_add", "triton", n=1 << 26)
    p = h100.of(rec)
    assert p.datasheet.bound == p.measured.bound == "memory"
    # 3,122 GB/s measured on this H100 against 3,350 on the datasheet: the measured bound is slower.
    assert p.measured.lower_bound_s > p.datasheet.lower_bound_s
    assert p.bound == ("memory", "roofline.measured")


def test_the_bound_falls_back_to_the_datasheet_without_measured_ceilings():
    run = realdata.calibration("run2-aa")  # measured without a ceilings file
    placed = place_run(run)
    assert placed.ceilings.measured is None
    rec = run.ok_records()[0]
    assert placed.of(rec).bound == ("memory", "roofline.datasheet")


def test_inflated_bytes_are_caught_and_flagged_for_that_record_only():
    run = realdata.h100()
    bad = realdata.record(run, "vector_add", "triton", n=1 << 26)
    bad.bytes *= 10  # the kernel did not move 10x the bytes: this result would sit 10x above DRAM
    placed = place_run(run)
    assert placed.of(bad).datasheet.violations and placed.of(bad).measured.violations
    assert ABOVE_CEILING in placed.flags(bad) and ABOVE_CEILING not in bad.flags  # derived, not stored
    lines = placed.violations()
    assert lines and all(line.startswith(bad.label) for line in lines)


def test_inflated_flops_are_caught_on_a_compute_bound_gemm():
    run = realdata.h100()
    bad = realdata.record(run, "gemm", "torch", "bf16", M=8192, N=8192, K=8192)
    bad.flops *= 2  # 2x the FLOPs of a GEMM at 0.98x the tensor peak is far above it
    assert place_run(run).of(bad).measured.violations


def test_warm_l2_resident_records_are_checked_against_l2_not_dram():
    run = realdata.h100()
    rec = realdata.record(run, "vector_add", "triton", n=1 << 24)  # 192 MiB: does not fit the 50 MiB L2
    small = dataclasses.replace(rec, shape={"n": 1 << 20}, bytes=12 << 20, flops=1 << 20, mode="warm")
    # 12 MiB in the record's measured time would be ~2.7x the DRAM roof: allowed for an L2-resident
    # warm run (the measured L2 roof is 15.8 TB/s), a violation for a cold one.
    fast = dataclasses.replace(small, timing=dataclasses.replace(rec.timing, samples=tuple(
        x * (12 << 20) / rec.bytes / 2.7 for x in rec.timing.samples)))  # fmt: skip
    ceilings = run_ceilings(run)
    warm = place(fast, ceilings)
    assert warm.measured.l2_resident and warm.measured.violations == ()
    cold = place(dataclasses.replace(fast, mode="cold"), ceilings)
    assert not cold.measured.l2_resident and cold.measured.violations


def test_tensor_cores_raise_the_compute_roof(h100):
    rec = next(r for r in h100.run.ok_records() if r.workload == "gemm" and r.dtype == "bf16")
    ceilings = h100.ceilings
    tc, simt = place(rec, ceilings), place(dataclasses.replace(rec, uses_tensor_cores=False), ceilings)
    assert tc.datasheet.attainable_tflops > 5 * simt.datasheet.attainable_tflops


def test_fp8_math_is_placed_under_the_fp8_roof(h100):
    # A qmatmul record keeps its inputs' dtype (bf16) but its dots run in fp8: placed under bf16's roof
    # an fp8 GEMM at full speed would sit ~2x above it and be flagged as wrong accounting.
    rec = realdata.record(h100.run, "gemm", "torch", "bf16", M=8192, N=8192, K=8192)
    fp8 = dataclasses.replace(rec, compute_dtype="fp8")
    assert fp8.math_dtype == "fp8" and rec.math_dtype == "bf16"
    bf16_roof = place(rec, h100.ceilings).datasheet.attainable_tflops
    assert place(fp8, h100.ceilings).datasheet.attainable_tflops == pytest.approx(2 * bf16_roof, rel=0.01)
    twice = dataclasses.replace(rec, flops=2 * rec.flops)  # as fast as fp8 would be
    assert place(twice, h100.ceilings).datasheet.violations
    assert not place(dataclasses.replace(twice, compute_dtype="fp8"), h100.ceilings).datasheet.violations


def test_records_that_did_not_run_get_no_placement(h100):
    skipped = [r for r in h100.run.records if r.status == "skipped"]
    assert skipped and all(h100.of(r) is None for r in skipped)


def test_embedded_ceilings_say_where_they_came_from(h100):
    # This H100's results and ceilings were measured on two cards of the same model.
    assert "ANOTHER card" in h100.ceilings.measured_origin
    assert "the same card" in place_run(realdata.h200()).ceilings.measured_origin


def test_a_ceilings_file_replaces_the_embedded_ceilings():
    from gpubench import results

    run = realdata.calibration("run2-aa")
    placed = place_run(run, results.read_ceilings(realdata.H100_CEILINGS).ceilings, "the file")
    assert placed.ceilings.measured is not None and placed.ceilings.measured_origin == "the file"


@pytest.mark.parametrize("path", [realdata.H100_RESULTS, realdata.H200_RESULTS], ids=lambda p: p.parent.name)
def test_real_results_sit_under_their_ceilings(path):
    """A point above a ceiling means the workload's FLOP or byte accounting is wrong."""
    assert place_run(realdata.run(path)).violations() == []


@pytest.mark.parametrize("path", sorted(realdata.CALIBRATION.glob("*.json")), ids=lambda p: p.name)
def test_calibration_runs_sit_under_the_reference_ceilings(path):
    """The calibration runs embed the ceilings of their day (median tensor rates, since replaced by the
    best observed); against the H100's committed ceilings none of them is above a roof."""
    from gpubench import results

    ceilings = results.read_ceilings(realdata.H100_CEILINGS).ceilings
    assert place_run(realdata.run(path), ceilings, "reference").violations() == []


def test_the_old_median_tensor_peaks_are_exceeded():
    """...while run1's own embedded ceilings (median tensor rates) are exceeded by its TMA GEMMs: the
    reason the roofs are now the best observed rate."""
    lines = place_run(realdata.calibration("run1-quick")).violations()
    assert lines and all("gemm/" in line and "peak" in line for line in lines)


def test_tolerance_is_small():
    assert 0 < TOLERANCE <= 0.1
