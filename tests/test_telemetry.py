"""NVML telemetry: reason decoding and flags (pure logic), and a clean 'unavailable' without NVML."""

import pytest

from gpubench.bench import telemetry
from gpubench.results import Spread, Telemetry
from tests import realdata


def test_decode_reasons():
    assert telemetry.decode_reasons(0) == []
    assert telemetry.decode_reasons(0x4 | 0x40) == ["sw_power_cap", "hw_thermal_slowdown"]
    assert telemetry.decode_reasons(0x1000) == ["unknown_0x1000"]


def test_flags():
    def tel(mask=0, lo=1980.0, mean=1980.0, top=None):
        return Telemetry(
            True, throttle_mask=mask, sm_clock_mhz=Spread(lo, mean, 1980.0), sm_clock_max_mhz=top
        )

    assert telemetry.flags_from(tel()) == []
    assert telemetry.flags_from(tel(0x4)) == ["throttled"]  # clock limit unknown
    assert telemetry.flags_from(tel(0x40)) == ["throttled"]
    assert telemetry.flags_from(tel(0x10)) == []  # sync boost is no slowdown
    # Power cap with every reading at the GPU's maximum clock: noted, not a slowdown; below it: throttled.
    assert telemetry.flags_from(tel(0x4, top=1980.0)) == ["power_capped"]
    assert telemetry.flags_from(tel(0x4, lo=1890.0, mean=1950.0, top=1980.0)) == ["throttled"]
    assert telemetry.flags_from(tel(0x4 | 0x20, top=1980.0)) == ["throttled"]
    assert telemetry.flags_from(tel(lo=1600.0, mean=1900.0)) == ["clock_sagged"]
    assert telemetry.flags_from(Telemetry.unavailable("x")) == []


def test_flags_of_real_records_are_what_the_run_recorded():
    """The rule, replayed on the telemetry of every record of the committed H100 and H200 runs."""
    for run in (realdata.h100(), realdata.h200()):
        for rec in run.ok_records():
            measured = {f for f in rec.flags if f not in ("throttled", "power_capped", "clock_sagged")}
            assert sorted(measured | set(telemetry.flags_from(rec.telemetry))) == sorted(rec.flags), rec.label


@pytest.mark.parametrize(
    "index, uuid, pci, visible, target",
    [
        (0, "8ad4f6e1-5cdc", None, None, ("uuid", "GPU-8ad4f6e1-5cdc")),
        (1, "GPU-abc", "0000:1B:00.0", "3,1", ("uuid", "GPU-abc")),
        (1, None, "00000000:1B:00.0", "3,1", ("pci", "00000000:1B:00.0")),
        (1, None, None, "3,1", ("index", 1)),
        (0, None, None, "3,1", ("index", 3)),  # torch's 0 is the machine's GPU 3
        (0, None, None, "GPU-f6de95c4,GPU-8ad4", ("uuid", "GPU-f6de95c4")),
        (2, None, None, "3,1", ("index", 2)),
        (0, None, None, None, ("index", 0)),
    ],
)
def test_the_nvml_device_is_the_torch_device_whatever_cuda_visible_devices_says(
    index, uuid, pci, visible, target
):
    assert telemetry.nvml_target(index, uuid, pci, visible) == target


def test_sampler_without_nvml_says_unavailable():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the no-NVML path is for CPU machines")
    s = telemetry.TelemetrySampler(torch.device("cuda", 0))
    s.start()
    out = s.stop()
    assert out.available is False and out.reason
