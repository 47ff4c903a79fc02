"""NVML telemetry: reason decoding and flags (pure logic), and a clean 'unavailable' without NVML."""

import pytest

from gpubench.bench import telemetry


def test_decode_reasons():
    assert telemetry.decode_reasons(0) == []
    assert telemetry.decode_reasons(0x4 | 0x40) == ["sw_power_cap", "hw_thermal_slowdown"]
    assert telemetry.decode_reasons(0x1000) == ["unknown_0x1000"]


def test_flags():
    base = {"available": True, "throttle_mask": 0, "sm_clock_mhz": {"min": 1980, "mean": 1980, "max": 1980}}
    assert telemetry.flags_from(base) == []
    assert telemetry.flags_from({**base, "throttle_mask": 0x4}) == ["throttled"]  # clock limit unknown
    assert telemetry.flags_from({**base, "throttle_mask": 0x40}) == ["throttled"]
    assert telemetry.flags_from({**base, "throttle_mask": 0x10}) == []  # sync boost is no slowdown
    # Power cap with every reading at the GPU's maximum clock: noted, not a slowdown; below it: throttled.
    capped = {**base, "throttle_mask": 0x4, "sm_clock_max_mhz": 1980.0}
    assert telemetry.flags_from(capped) == ["power_capped"]
    slowed = {**capped, "sm_clock_mhz": {"min": 1890, "mean": 1950, "max": 1980}}
    assert telemetry.flags_from(slowed) == ["throttled"]
    assert telemetry.flags_from({**capped, "throttle_mask": 0x4 | 0x20}) == ["throttled"]
    sag = {**base, "sm_clock_mhz": {"min": 1600, "mean": 1900, "max": 1980}}
    assert telemetry.flags_from(sag) == ["clock_sagged"]
    assert telemetry.flags_from({"available": False, "reason": "x"}) == []


def test_sampler_without_nvml_says_unavailable():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the no-NVML path is for CPU machines")
    s = telemetry.TelemetrySampler(torch.device("cuda", 0))
    s.start()
    out = s.stop()
    assert out["available"] is False and out["reason"]
