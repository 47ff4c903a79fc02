"""A database spec checked against the device a run measured: the figures the device contradicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import GPUSpec

__all__ = ["device_mismatches"]

# The device reports less memory than is marketed (the driver and ECC reserve some); more than the spec,
# or less than this fraction of it, is another part. Clocks within 1 % and a bandwidth within 5 % agree.
_MEMORY_REPORTED_MIN = 0.95
_CLOCK_RTOL = 0.01
_BANDWIDTH_RTOL = 0.05


def device_mismatches(spec: GPUSpec, device: Mapping[str, Any]) -> list:
    """The figures of a database spec that `device` (a results file's device section) contradicts:
    SM count, L2 size, compute capability, memory size, bus width, maximum SM clock, and the bandwidth
    its memory clock and bus imply. Empty for a spec derived from the device itself."""
    from gpubench.results.provenance import SpecMismatch

    if spec is None or spec.derived:
        return []
    out = []

    def add(fld: str, spec_value, device_value, note: str | None = None):
        out.append(SpecMismatch(fld, spec_value, device_value, spec.name, spec.cited(fld), note))

    for fld in ("sm_count", "l2_bytes", "mem_bus_width_bits", "compute_capability"):
        got, want = device.get(fld), getattr(spec, fld)
        if got is not None and want is not None and str(got) != str(want):
            add(fld, want, got)
    mem, marketed = device.get("memory_bytes"), spec.mem_bytes
    if mem and marketed and not (_MEMORY_REPORTED_MIN * marketed <= mem <= marketed):
        add("mem_bytes", marketed, mem, f"outside {_MEMORY_REPORTED_MIN:.0%}-100 % of the marketed size")
    clock, boost = device.get("sm_clock_max_mhz"), spec.boost_clock_mhz
    if clock and boost and abs(clock / boost - 1) > _CLOCK_RTOL:
        add("boost_clock_mhz", boost, clock, "the device's maximum SM clock (NVML)")
    mem_mhz, bus = device.get("mem_clock_max_mhz"), device.get("mem_bus_width_bits")
    if mem_mhz and bus and spec.mem_bandwidth_gbs:
        implied = 2 * mem_mhz * bus / 8 / 1000  # double data rate: NVML's memory clock is half the pin rate
        if abs(implied / spec.mem_bandwidth_gbs - 1) > _BANDWIDTH_RTOL:
            add("mem_bandwidth_gbs", spec.mem_bandwidth_gbs, round(implied, 1),
                f"implied by the device's memory clock {mem_mhz} MHz x {bus} bits")  # fmt: skip
    return out
