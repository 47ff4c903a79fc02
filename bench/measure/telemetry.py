"""NVML telemetry: clocks, power, energy, temperature and throttle reasons while a benchmark runs.

A thread polls every 5 ms; NVML's own sample buffers add the driver's readings of the window. Power is
NVML's instantaneous field where the driver has it (nvmlDeviceGetPowerUsage is a 1 s average on Ampere
and newer, which a record of tens of milliseconds does not move), and the mean power of the window comes
from the energy counter's rise (power_from_energy). The measurement loop marks each sample batch, and
each batch gets the SM clock of the readings inside it (per_batch). Without NVML (a CPU machine, a
container without the library) every reading says "unavailable" with the reason, and nothing raises.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from gpubench.results import Spread, Telemetry

# Clock-event ("throttle") reason bits, from nvml.h. GPU idle, application clocks and sync boost are not
# slowdowns; the rest mean the GPU ran below the clock it would otherwise have used.
REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
SLOWDOWN_MASK = 0x4 | 0x8 | 0x20 | 0x40 | 0x80
POWER_CAP = 0x4
# Under sw_power_cap alone the power controller may hold the clock where it was: seen on an H100 during
# bf16 GEMMs (bit set, every SM-clock reading at its 1980 MHz maximum). Such a result is flagged
# "power_capped" (kept in comparisons) unless some reading fell below this fraction of the maximum clock.
AT_MAX_CLOCK = 0.99
# A benchmark whose SM clock varied by more than this (max - min) / max is flagged "clock_sagged".
SAG_FRACTION = 0.05


def decode_reasons(mask: int) -> list[str]:
    names = [name for bit, name in REASONS.items() if mask & bit]
    unknown = mask & ~sum(REASONS)
    if unknown:
        names.append(f"unknown_0x{unknown:x}")
    return names


def nvml():
    import pynvml

    pynvml.nvmlInit()
    return pynvml


def nvml_target(
    torch_index: int, uuid: str | None, pci_bus_id: str | None, visible: str | None
) -> tuple[str, str | int]:
    """How to find, through NVML, the GPU torch calls `torch_index`: ("uuid", "GPU-..."), ("pci", bus id)
    or ("index", NVML index). NVML numbers every GPU of the machine, torch only the visible ones, in the
    order CUDA_VISIBLE_DEVICES (`visible`) gives, so an index is the last resort and is mapped through it."""
    if uuid:
        text = str(uuid)
        return "uuid", text if text.startswith(("GPU-", "MIG-")) else f"GPU-{text}"
    if pci_bus_id:
        return "pci", pci_bus_id
    entries = [e.strip() for e in (visible or "").split(",") if e.strip()]
    if entries and torch_index < len(entries):
        entry = entries[torch_index]
        if entry.isdigit():
            return "index", int(entry)
        if entry.startswith(("GPU-", "MIG-")):
            return "uuid", entry
    return "index", torch_index


def _pci_bus_id(props) -> str | None:
    bus = getattr(props, "pci_bus_id", None)
    if bus is None:
        return None
    domain, device = getattr(props, "pci_domain_id", 0) or 0, getattr(props, "pci_device_id", 0) or 0
    return f"{domain:08X}:{bus:02X}:{device:02X}.0"


def handle_for(torch_device) -> tuple[Any, Any]:
    """(pynvml module, handle) of the GPU a torch CUDA device is, however CUDA_VISIBLE_DEVICES orders
    the devices (see `nvml_target`); raises if NVML is unusable."""
    import os

    import torch

    nv = nvml()
    props = torch.cuda.get_device_properties(torch_device)
    kind, value = nvml_target(
        torch_device.index or 0,
        str(getattr(props, "uuid", "") or "") or None,
        _pci_bus_id(props),
        os.environ.get("CUDA_VISIBLE_DEVICES"),
    )
    if kind == "uuid":
        return nv, nv.nvmlDeviceGetHandleByUUID(value)
    if kind == "pci":
        return nv, nv.nvmlDeviceGetHandleByPciBusId(value)
    return nv, nv.nvmlDeviceGetHandleByIndex(value)


def _throttle_mask(nv, h) -> int:
    fn = (
        getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None)
        or nv.nvmlDeviceGetCurrentClocksThrottleReasons
    )
    return int(fn(h))


def _spread(xs: list[float]) -> Spread | None:
    return Spread(min(xs), statistics.fmean(xs), max(xs)) if xs else None


# ---- pure logic over timestamped readings (tested on the CPU) -------------------------------------

# The energy counter of NVML moves in steps (tens of ms apart); a window must see it rise twice, this
# far apart at least, for the rise to time the power.
MIN_ENERGY_SPAN_S = 0.05


def power_from_energy(readings: list[tuple[float, float]]) -> tuple[float | None, str | None]:
    """(mean watts, None) from (time s, energy J) readings of the cumulative counter: the rise between
    its first and last change in the window over the time between them; (None, why) when it changed
    too few times or over too short a span to be timed."""
    changes = [readings[i] for i in range(1, len(readings)) if readings[i][1] != readings[i - 1][1]]
    if len(changes) < 2:
        return None, f"the energy counter changed {len(changes)} time(s) in the window: too few to time it"
    (t0, e0), (t1, e1) = changes[0], changes[-1]
    if t1 - t0 < MIN_ENERGY_SPAN_S:
        return None, f"the energy counter's changes span {1e3 * (t1 - t0):.0f} ms: too short to time it"
    return (e1 - e0) / (t1 - t0), None


def per_batch(clocks: list[tuple[float, float]], marks: list[tuple[float, int]], t0: float) -> list[dict]:
    """The SM clock of each sample batch: the readings (time, MHz) between one batch mark (time, samples
    so far) and the next; a batch too short to hold a reading gets the last reading before its end."""
    out, lo = [], t0
    for t, n in marks:
        inside = [mhz for ts, mhz in clocks if lo < ts <= t]
        before = [mhz for ts, mhz in clocks if ts <= t]
        mhz = statistics.fmean(inside) if inside else (before[-1] if before else None)
        out.append({"n": n, "t_s": t - t0, "sm_clock_mhz": mhz, "readings": len(inside)})
        lo = t
    return out


def driver_samples(samples, t_lo: float, t_hi: float, scale: float = 1.0) -> list[tuple[float, float]]:
    """(time s, value) of NVML sample-buffer entries (timeStamp in microseconds, sampleValue a union)
    that fall in [t_lo, t_hi]; `scale` converts the unsigned value (mW -> W: 1e-3)."""
    out = []
    for s in samples:
        t = s.timeStamp * 1e-6
        if t_lo <= t <= t_hi:
            out.append((t, float(s.sampleValue.uiVal) * scale))
    return out


def _instant_power(nv, h) -> float | None:
    """Watts from NVML's instantaneous power field (drivers that have it), else None."""
    field_id = getattr(nv, "NVML_FI_DEV_POWER_INSTANT", None)
    if field_id is None:
        return None
    v = nv.nvmlDeviceGetFieldValues(h, [field_id])[0]
    return v.value.uiVal / 1000.0 if v.nvmlReturn == 0 else None


class TelemetrySampler:
    """Polls NVML on a background thread between start() and stop(), every `interval_s`; `mark(n)` (the
    measurement loop's on_batch) notes where each sample batch ended, for the clock per batch. NVML's own
    sample buffers add the driver's clock and power readings of the window. `nvml=(module, handle)`
    stands in for the GPU's (the CPU tests)."""

    def __init__(self, torch_device=None, interval_s: float = 0.005, nvml=None):
        self.interval_s = interval_s
        self.error: str | None = None
        try:
            self._nv, self._h = nvml if nvml is not None else handle_for(torch_device)
        except Exception as exc:  # no NVML, no driver, no permission
            self._nv = self._h = None
            self.error = f"NVML unavailable: {exc}"
        self.max_sm_clock_mhz = None
        if self._nv is not None:
            try:
                nv = self._nv
                self.max_sm_clock_mhz = float(nv.nvmlDeviceGetMaxClockInfo(self._h, nv.NVML_CLOCK_SM))
            except Exception:
                pass
        self._instant = True  # until the field fails once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reset()

    def _reset(self):
        self.sm, self.mem, self.power, self.temp = [], [], [], []
        self.energy: list[tuple[float, float]] = []
        self.marks: list[tuple[float, int]] = []
        self.mask = 0
        self.idle_readings = 0
        self.t_start = self.t_end = 0.0

    def _power(self) -> float | None:
        nv, h = self._nv, self._h
        if self._instant:
            try:
                watts = _instant_power(nv, h)
                if watts is not None:
                    return watts
            except Exception:
                pass
            self._instant = False
        try:
            return nv.nvmlDeviceGetPowerUsage(h) / 1000.0
        except Exception:
            return None

    def _read(self):
        nv, h = self._nv, self._h
        now = time.time()
        self._energy(now)
        mask = _throttle_mask(nv, h)
        self.temp.append(float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)))
        if mask & 0x1:
            # Idle between batches: its clocks say nothing about the kernel, and idle is no slowdown.
            self.idle_readings += 1
            return
        self.mask |= mask
        self.sm.append((now, float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM))))
        self.mem.append(float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM)))
        watts = self._power()
        if watts is not None:
            self.power.append(watts)

    def _energy(self, now: float) -> None:
        try:
            self.energy.append((now, self._nv.nvmlDeviceGetTotalEnergyConsumption(self._h) / 1000.0))  # mJ
        except Exception:
            pass

    def _loop(self):
        while not self._stop.wait(self.interval_s):
            try:
                self._read()
            except Exception as exc:
                self.error = f"NVML read failed: {exc}"
                return

    def start(self) -> None:
        self._reset()
        if self._nv is None:
            return
        self.t_start = time.time()
        self._read()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def mark(self, n_samples: int) -> None:
        """A sample batch ended with `n_samples` samples taken so far."""
        self.marks.append((time.time(), int(n_samples)))

    def _driver(self) -> int:
        """Merge NVML's sample buffers for the window (SM clock, power): the driver's own readings."""
        nv, h, added = self._nv, self._h, 0
        since = int(self.t_start * 1e6)
        buffers = (("NVML_PROCESSOR_CLK_SAMPLES", 1.0, "sm"), ("NVML_TOTAL_POWER_SAMPLES", 1e-3, "power"))
        for kind, scale, into in buffers:
            try:
                _, raw = nv.nvmlDeviceGetSamples(h, getattr(nv, kind), since)
            except Exception:
                continue
            got = driver_samples(raw, self.t_start, self.t_end, scale)
            if into == "sm":
                self.sm.extend(got)
                self.sm.sort()
            else:
                self.power.extend(v for _, v in got)
            added += len(got)
        return added

    def stop(self) -> Telemetry:
        if self._nv is None:
            return Telemetry.unavailable(self.error or "NVML unavailable")
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self._read()
        except Exception as exc:
            self.error = self.error or f"NVML read failed: {exc}"
        self.t_end = time.time()
        polled = len(self.sm)
        added = self._driver()
        watts, note = power_from_energy(self.energy)
        energy = self.energy[-1][1] - self.energy[0][1] if len(self.energy) >= 2 else None
        return Telemetry(
            available=True,
            reason=self.error,
            n_readings=polled,
            idle_readings=self.idle_readings,
            interval_s=self.interval_s,
            sm_clock_mhz=_spread([mhz for _, mhz in self.sm]),
            sm_clock_max_mhz=self.max_sm_clock_mhz,
            mem_clock_mhz=_spread(self.mem),
            power_w=_spread(self.power),
            temperature_c=_spread(self.temp),
            energy_j=energy,
            window_s=self.t_end - self.t_start,
            throttle_mask=self.mask,
            throttle_reasons=decode_reasons(self.mask),
            power_source="instant" if self._instant else "average",
            power_from_energy_w=watts,
            energy_note=note,
            batches=per_batch(self.sm, self.marks, self.t_start),
            driver_samples=added,
        )


def flags_from(telemetry: Telemetry) -> list[str]:
    """Flags a result measured while the GPU slowed itself down."""
    if not telemetry.available:
        return []
    flags = []
    mask, sm = telemetry.throttle_mask, telemetry.sm_clock_mhz
    if mask & SLOWDOWN_MASK & ~POWER_CAP:
        flags.append("throttled")
    elif mask & POWER_CAP:
        top = telemetry.sm_clock_max_mhz
        at_max = bool(sm and top and sm.min >= AT_MAX_CLOCK * top)
        flags.append("power_capped" if at_max else "throttled")
    if sm and sm.max > 0 and (sm.max - sm.min) / sm.max > SAG_FRACTION:
        flags.append("clock_sagged")
    return flags
