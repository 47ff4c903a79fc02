"""Roofline maths on hand-worked cases: bounds, ridge point, the edge cases (no FLOPs, no bytes, a missing
peak), and the ceiling check that catches a result no GPU could produce."""

import math

import pytest

from gpubench import results
from gpubench.results import MeasuredCeilings
from gpubench.roofline.roof import (
    Ceilings,
    check_ceiling,
    peak_key,
    predict,
)
from gpubench.roofline.specs import get_spec
from tests.support.realdata import H100_CEILINGS

# 1000 GB/s and 10 TFLOP/s: ridge at 10 FLOP/byte.
SIMPLE = Ceilings("datasheet", 1000.0, {"fp32": 10.0, "bf16": 100.0})
GFLOP, GB = 1e9, 1e9


def test_memory_bound_hand_worked():
    p = predict(GFLOP, GB, "fp32", SIMPLE)
    assert p.bound == "memory"
    assert p.memory_time_s == pytest.approx(1e-3) and p.compute_time_s == pytest.approx(1e-4)
    assert p.time_s == pytest.approx(1e-3) and p.lower_bound_s == pytest.approx(1e-3)
    assert p.intensity == pytest.approx(1.0)
    assert p.attainable_tflops == pytest.approx(1.0)  # 1 FLOP/B x 1000 GB/s
    assert p.ceilings_label == "datasheet" and p.peak_key == "fp32" and p.note is None


def test_compute_bound_hand_worked():
    p = predict(100 * GFLOP, GB, "fp32", SIMPLE)
    assert p.bound == "compute" and p.time_s == pytest.approx(10e-3)
    assert p.attainable_tflops == pytest.approx(10.0) and p.intensity == pytest.approx(100.0)


def test_tensor_cores_pick_the_tensor_peak():
    p = predict(100 * GFLOP, GB, "bfloat16", SIMPLE, uses_tensor_cores=True)
    assert p.peak_key == "bf16" and p.time_s == pytest.approx(1e-3) and p.bound == "memory"
    q = predict(100 * GFLOP, GB, "bfloat16", SIMPLE, uses_tensor_cores=False)
    assert q.peak_key == "fp32" and q.time_s == pytest.approx(10e-3)


def test_launch_overhead_is_added_to_the_time_but_not_the_bound():
    c = Ceilings("measured", 1000.0, {"fp32": 10.0}, launch_overhead_s=5e-6)
    p = predict(GFLOP, GB, "fp32", c)
    assert p.time_s == pytest.approx(1e-3 + 5e-6) and p.lower_bound_s == pytest.approx(1e-3)


def test_zero_flops_is_a_pure_copy():
    p = predict(0, 2 * GB, "fp16", SIMPLE)
    assert p.bound == "memory" and p.time_s == pytest.approx(2e-3)
    assert p.intensity == 0 and p.attainable_tflops == 0


def test_zero_bytes_is_compute_only():
    p = predict(GFLOP, 0, "fp32", SIMPLE)
    assert p.bound == "compute" and p.time_s == pytest.approx(1e-4)
    assert p.intensity is None and p.attainable_tflops == 10.0


def test_no_work_at_all():
    p = predict(0, 0, "fp32", Ceilings("measured", 1000.0, {"fp32": 10.0}, launch_overhead_s=3e-6))
    assert p.time_s == pytest.approx(3e-6) and p.lower_bound_s == 0 and "no work" in p.note


def test_a_missing_peak_gives_no_prediction_rather_than_a_memory_only_one():
    p = predict(100 * GFLOP, GB, "float8_e4m3fn", SIMPLE, uses_tensor_cores=True)
    assert p.peak_key == "fp8" and p.peak_tflops is None and p.compute_time_s is None
    assert p.time_s is None and p.lower_bound_s is None and p.bound == "unknown"
    assert p.memory_time_s == pytest.approx(1e-3)  # shown, but never offered as the prediction
    assert "no datasheet fp8 rate" in p.note and "no prediction" in p.note


def test_missing_bandwidth_and_missing_everything():
    p = predict(GFLOP, GB, "fp32", Ceilings("measured", None, {"fp32": 10.0}))
    assert p.bound == "compute" and p.time_s == pytest.approx(1e-4) and "compute-only" in p.note
    q = predict(GFLOP, GB, "fp32", Ceilings("measured", None, {}))
    assert q.bound == "unknown" and q.time_s is None and q.lower_bound_s is None


def test_measured_ceilings_never_fall_back_to_the_datasheet():
    c = Ceilings.from_measured(MeasuredCeilings(dram_copy_gbs=3000.0, peaks={"fp32": 60.0}))
    assert c.label == "measured" and dict(c.peaks) == {"fp32": 60.0}
    p = predict(GFLOP, GB, "bf16", c, uses_tensor_cores=True)
    assert p.peak_tflops is None and "no measured bf16 rate" in p.note and p.time_s is None
    assert c.launch_overhead_s is None and dict(c.cache_gbs) == {}


def test_measured_ceilings_keys():
    m = MeasuredCeilings(dram_gbs=2900, l2_gbs=9000, smem_gbs=30000, launch_overhead_s=2e-6,
                         peaks={"float32": 50, "fp64": 25})  # fmt: skip
    c = Ceilings.from_measured(m)
    assert c.mem_bandwidth_gbs == 2900 and c.launch_overhead_s == 2e-6
    assert dict(c.peaks) == {"fp32": 50.0, "fp64": 25.0}
    assert c.bandwidth_gbs("l2") == 9000 and c.bandwidth_gbs("smem") == 30000


def test_datasheet_ceilings_from_spec():
    c = Ceilings.from_spec(get_spec("a100_sxm4_80gb"), launch_overhead_s=4e-6)
    assert c.label == "datasheet" and c.mem_bandwidth_gbs == 2039 and c.launch_overhead_s == 4e-6
    assert c.peaks["fp32"] == pytest.approx(19.49, abs=0.01)
    assert c.peaks["bf16"] == pytest.approx(311.87, abs=0.01)


def test_a_vector_add_on_h100_is_memory_bound():
    n = 2**28  # fp32: one add per element; read 2 x 4 B, write 4 B
    p = predict(n, 12 * n, "float32", Ceilings.from_spec(get_spec("h100_sxm5")))
    assert p.bound == "memory" and p.time_s == pytest.approx(12 * n / 3350e9)
    assert p.intensity == pytest.approx(1 / 12)


def test_ceiling_check_catches_an_impossible_result():
    # 1 GB in 0.1 ms is 10 000 GB/s on a 1000 GB/s part: the byte count (or the timer) is wrong.
    violations = check_ceiling(1e-4, 0, GB, SIMPLE)
    assert len(violations) == 1 and "GB/s exceeds the datasheet dram bandwidth" in violations[0]
    # 10 GFLOP in 0.1 ms is 100 TFLOP/s against a 10 TFLOP/s fp32 roof.
    violations = check_ceiling(1e-4, 10 * GFLOP, 0, SIMPLE, dtype="fp32")
    assert len(violations) == 1 and "TFLOP/s exceeds the datasheet fp32 peak" in violations[0]


def test_ceiling_check_passes_results_within_tolerance():
    assert check_ceiling(0.97e-3, GFLOP, GB, SIMPLE, dtype="fp32") == []  # 1031 GB/s, within 5 %
    assert check_ceiling(0.97e-3, GFLOP, GB, SIMPLE, tolerance=0.01) != []
    # No dtype: only the highest roof (bf16 100 TFLOP/s) is certain.
    assert check_ceiling(1e-3, 50 * GFLOP, 0, SIMPLE) == []
    assert check_ceiling(1e-3, 50 * GFLOP, 0, SIMPLE, dtype="fp32") != []


def test_ceiling_check_against_l2_for_warm_results():
    c = Ceilings("measured", 1000.0, {"fp32": 10.0}, cache_gbs={"l2": 5000.0})
    assert check_ceiling(0.5e-3, 0, GB, c, memory_level="l2") == []  # 2000 GB/s: fine from L2
    assert check_ceiling(0.5e-3, 0, GB, c) != []  # but not from DRAM
    assert check_ceiling(0.1e-3, 0, GB, c, memory_level="smem") == []  # no smem roof: not checked


def test_half_precision_simt_math_may_beat_the_fp32_roof():
    c = Ceilings("datasheet", 1000.0, {"fp32": 10.0, "fp16_simt": 20.0})
    assert check_ceiling(1e-3, 15 * GFLOP, 0, c, dtype="float16") == []
    assert check_ceiling(1e-3, 15 * GFLOP, 0, c, dtype="float32") != []


def test_bad_inputs_are_rejected():
    for bad in (-1, math.nan, math.inf):
        with pytest.raises(ValueError, match="flops"):
            predict(bad, GB, "fp32", SIMPLE)
    with pytest.raises(ValueError, match="measured_time_s"):
        check_ceiling(0, GFLOP, GB, SIMPLE)


def test_measured_ceilings_of_a_real_h100():
    c = Ceilings.from_measured(results.read_ceilings(H100_CEILINGS).ceilings)
    assert c.mem_bandwidth_gbs == pytest.approx(3121.8, abs=0.1)  # the best pattern: the write kernel
    assert c.peaks["bf16"] == pytest.approx(789.5, abs=0.1) and c.bandwidth_gbs("l2") > 10_000


def test_peak_key_and_prediction_serialise():
    assert peak_key("fp8", True) == "fp8" and peak_key("fp8", False) == "fp32"
    d = predict(GFLOP, GB, "fp32", SIMPLE).to_dict()
    assert d["bound"] == "memory" and d["time_s"] == pytest.approx(1e-3) and "note" in d
