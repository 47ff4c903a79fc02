"""NVML telemetry: reason decoding and flags (pure logic), power from the energy counter, the clock of
each sample batch, NVML's sample buffers, the sampler's aggregation over a stand-in NVML, and a clean
'unavailable' without NVML."""

import time
from types import SimpleNamespace

import pytest

from gpubench.bench.measure import telemetry
from gpubench.results import Spread, Telemetry
from tests.support import realdata


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


# ---- power from energy, clocks per batch, NVML's sample buffers (pure logic) --------------------------


def test_the_committed_runs_show_why_power_comes_from_energy():
    """nvmlDeviceGetPowerUsage is a 1 s average on Ampere and newer: over a GEMM's ~65 ms window it still
    reads the idle GPU, while the energy counter rises by steps tens of ms apart, so energy over window
    is coarse and often 0 for a window that short."""
    run = realdata.h100()
    rec = realdata.record(run, "gemm", "torch", "bf16", M=8192, N=8192, K=8192)
    tel = rec.telemetry
    assert tel.power_w.max < 135 and 420 < tel.energy_j / tel.window_s < 430
    zero = [r for r in run.ok_records() if r.telemetry.energy_j == 0]
    assert len(zero) == 45 and all(r.telemetry.window_s < 0.2 for r in zero)


def test_power_from_energy_needs_two_changes_far_enough_apart():
    # A counter stepping every 20 ms at 400 W, read every 5 ms for 100 ms.
    reads = [(i * 0.005, 400.0 * 0.02 * ((i * 5) // 20)) for i in range(21)]
    watts, note = telemetry.power_from_energy(reads)
    assert watts == pytest.approx(400.0) and note is None
    once = [(0.0, 10.0), (0.01, 10.0), (0.02, 18.0), (0.03, 18.0)]
    watts, note = telemetry.power_from_energy(once)
    assert watts is None and "changed 1 time" in note
    short = [(0.0, 1.0), (0.01, 2.0), (0.02, 3.0)]
    watts, note = telemetry.power_from_energy(short)
    assert watts is None and "too short" in note
    assert telemetry.power_from_energy([])[0] is None


def test_the_clock_of_each_sample_batch():
    clocks = [(0.01, 1980.0), (0.02, 1980.0), (0.05, 1500.0), (0.06, 1400.0), (0.09, 1700.0)]
    marks = [(0.03, 10), (0.04, 25), (0.07, 60), (0.10, 100)]
    got = telemetry.per_batch(clocks, marks, 0.0)
    assert [b["n"] for b in got] == [10, 25, 60, 100]
    assert [b["sm_clock_mhz"] for b in got] == [1980.0, 1980.0, 1450.0, 1700.0]
    assert [b["readings"] for b in got] == [2, 0, 2, 1]  # the second held none: the last reading before it
    assert telemetry.per_batch([], [(0.1, 5)], 0.0)[0]["sm_clock_mhz"] is None


def test_nvml_sample_buffers_are_taken_within_the_window():
    sample = lambda t_s, v: SimpleNamespace(timeStamp=int(t_s * 1e6), sampleValue=SimpleNamespace(uiVal=v))  # noqa: E731
    raw = [sample(99.0, 1000), sample(100.5, 1980), sample(101.0, 1755), sample(102.5, 600)]
    assert telemetry.driver_samples(raw, 100.0, 102.0) == [(100.5, 1980.0), (101.0, 1755.0)]
    assert telemetry.driver_samples([sample(100.5, 350000)], 100.0, 102.0, 1e-3) == [(100.5, 350.0)]


class FakeNvml:
    """NVML's calls the sampler makes, over a GPU drawing `watts` at `mhz` (clock and energy read from
    the wall clock, the energy counter stepping every 10 ms as NVML's does)."""

    NVML_CLOCK_SM, NVML_CLOCK_MEM, NVML_TEMPERATURE_GPU = 0, 2, 0
    NVML_FI_DEV_POWER_INSTANT, NVML_PROCESSOR_CLK_SAMPLES, NVML_TOTAL_POWER_SAMPLES = 186, 6, 0

    def __init__(self, watts=420.0, mhz=1755.0, instant=True):
        self.t0, self.watts, self.mhz, self.instant = time.time(), watts, mhz, instant

    def nvmlDeviceGetMaxClockInfo(self, h, kind):
        return 1980

    def nvmlDeviceGetClockInfo(self, h, kind):
        return self.mhz if kind == self.NVML_CLOCK_SM else 2619

    def nvmlDeviceGetTemperature(self, h, kind):
        return 40

    def nvmlDeviceGetCurrentClocksEventReasons(self, h):
        return 0

    def nvmlDeviceGetTotalEnergyConsumption(self, h):  # mJ, in 10 ms steps
        return int(1000 * self.watts * 0.01 * ((time.time() - self.t0) // 0.01))

    def nvmlDeviceGetPowerUsage(self, h):
        return 131000  # the 1 s average: still the idle GPU

    def nvmlDeviceGetFieldValues(self, h, ids):
        if not self.instant:
            raise RuntimeError("field not supported")
        return [SimpleNamespace(nvmlReturn=0, value=SimpleNamespace(uiVal=int(1000 * self.watts)))]

    def nvmlDeviceGetSamples(self, h, kind, since_us):
        now = time.time()
        value = int(self.mhz) if kind == self.NVML_PROCESSOR_CLK_SAMPLES else int(1000 * self.watts)
        entry = SimpleNamespace(timeStamp=int((now - 0.01) * 1e6), sampleValue=SimpleNamespace(uiVal=value))
        return 1, [entry]


def test_the_sampler_sees_the_load_of_a_short_record():
    s = telemetry.TelemetrySampler(nvml=(FakeNvml(), "handle"), interval_s=0.005)
    s.start()
    for n in (10, 20, 40):
        time.sleep(0.07)
        s.mark(n)
    out = s.stop()
    assert out.available and out.power_source == "instant" and out.power_w.max == pytest.approx(420.0)
    assert out.power_from_energy_w == pytest.approx(420.0, rel=0.1) and out.energy_note is None
    assert [b["n"] for b in out.batches] == [10, 20, 40]
    assert all(b["sm_clock_mhz"] == 1755.0 for b in out.batches)
    assert out.n_readings >= 10 and out.driver_samples == 2  # one clock and one power buffer entry
    back = Telemetry.from_json(out.to_json())
    assert back == out


def test_without_the_instant_field_power_is_the_average_and_says_so():
    s = telemetry.TelemetrySampler(nvml=(FakeNvml(instant=False), "handle"), interval_s=0.005)
    s.start()
    time.sleep(0.02)
    out = s.stop()
    assert out.power_source == "average" and out.power_w.min == pytest.approx(131.0)
