"""NVML telemetry: clocks, power, energy, temperature and throttle reasons while a benchmark runs.

Without NVML (a CPU machine, a container without the library) every reading says "unavailable" with
the reason, and nothing raises.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

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


def handle_for(torch_device) -> tuple[Any, Any]:
    """(pynvml module, handle) for a torch CUDA device, matched by UUID; raises if NVML is unusable."""
    nv = _nvml()
    import torch

    props = torch.cuda.get_device_properties(torch_device)
    uuid = getattr(props, "uuid", None)
    if uuid is not None:
        text = str(uuid)
        try:
            return nv, nv.nvmlDeviceGetHandleByUUID(text if text.startswith("GPU-") else f"GPU-{text}")
        except Exception:
            pass
    return nv, nv.nvmlDeviceGetHandleByIndex(torch_device.index or 0)


def _throttle_mask(nv, h) -> int:
    fn = (
        getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None)
        or nv.nvmlDeviceGetCurrentClocksThrottleReasons
    )
    return int(fn(h))


def _spread(xs: list[float]) -> dict[str, float] | None:
    if not xs:
        return None
    return {"min": min(xs), "mean": statistics.fmean(xs), "max": max(xs)}


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

    def stop(self) -> dict[str, Any]:
        if self._nv is None:
            return {"available": False, "reason": self.error}
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
        return {
            "available": True,
            "reason": self.error,
            "n_readings": len(self.sm),
            "idle_readings": self.idle_readings,
            "interval_s": self.interval_s,
            "sm_clock_mhz": _spread(self.sm),
            "sm_clock_max_mhz": self.max_sm_clock_mhz,  # the GPU's maximum, for the power-cap rule
            "mem_clock_mhz": _spread(self.mem),
            "power_w": _spread(self.power),
            "temperature_c": _spread(self.temp),
            "energy_j": energy,  # over the whole measurement window, idle gaps included
            "window_s": self.t_end - self.t_start,
            "throttle_mask": self.mask,
            "throttle_reasons": decode_reasons(self.mask),
        }


def flags_from(telemetry: dict[str, Any]) -> list[str]:
    """Flags a result measured while the GPU slowed itself down."""
    if not telemetry.get("available"):
        return []
    flags = []
    mask = telemetry.get("throttle_mask", 0)
    sm = telemetry.get("sm_clock_mhz")
    if mask & SLOWDOWN_MASK & ~POWER_CAP:
        flags.append("throttled")
    elif mask & POWER_CAP:
        top = telemetry.get("sm_clock_max_mhz")
        at_max = bool(sm and top and sm["min"] >= AT_MAX_CLOCK * top)
        flags.append("power_capped" if at_max else "throttled")
    if sm and sm["max"] > 0 and (sm["max"] - sm["min"]) / sm["max"] > SAG_FRACTION:
        flags.append("clock_sagged")
    return flags
