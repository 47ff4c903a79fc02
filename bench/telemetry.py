"""NVML telemetry: clocks, power, energy, temperature and throttle reasons while a benchmark runs.

Without NVML (a CPU machine, a container without the library) every reading says "unavailable" with
the reason, and nothing raises.
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


def _nvml():
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

    nv = _nvml()
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


class TelemetrySampler:
    """Polls NVML on a background thread between start() and stop()."""

    def __init__(self, torch_device, interval_s: float = 0.01):
        self.interval_s = interval_s
        self.error: str | None = None
        try:
            self._nv, self._h = handle_for(torch_device)
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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reset()

    def _reset(self):
        self.sm, self.mem, self.power, self.temp = [], [], [], []
        self.mask = 0
        self.idle_readings = 0
        self.energy_start = self.energy_end = None
        self.t_start = self.t_end = 0.0

    def _read(self):
        nv, h = self._nv, self._h
        mask = _throttle_mask(nv, h)
        self.temp.append(float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)))
        if mask & 0x1:
            # Idle between batches: its clocks say nothing about the kernel, and idle is no slowdown.
            self.idle_readings += 1
            return
        self.mask |= mask
        self.sm.append(float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)))
        self.mem.append(float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM)))
        try:
            self.power.append(nv.nvmlDeviceGetPowerUsage(h) / 1000.0)
        except Exception:
            pass

    def _energy(self):
        try:
            return self._nv.nvmlDeviceGetTotalEnergyConsumption(self._h) / 1000.0  # mJ -> J
        except Exception:
            return None

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
        self.energy_start = self._energy()
        self.t_start = time.perf_counter()
        self._read()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

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
        self.t_end = time.perf_counter()
        self.energy_end = self._energy()
        energy = None
        if self.energy_start is not None and self.energy_end is not None:
            energy = self.energy_end - self.energy_start
        return Telemetry(
            available=True,
            reason=self.error,
            n_readings=len(self.sm),
            idle_readings=self.idle_readings,
            interval_s=self.interval_s,
            sm_clock_mhz=_spread(self.sm),
            sm_clock_max_mhz=self.max_sm_clock_mhz,
            mem_clock_mhz=_spread(self.mem),
            power_w=_spread(self.power),
            temperature_c=_spread(self.temp),
            energy_j=energy,
            window_s=self.t_end - self.t_start,
            throttle_mask=self.mask,
            throttle_reasons=decode_reasons(self.mask),
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
