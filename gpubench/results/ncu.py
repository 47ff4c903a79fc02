"""A record profiled under Nsight Compute (`gpubench ncu`): the hardware's own account of one call, to
hold the suite's event timing and byte accounting against.

Every figure is per call of the record's variant (the sum over the kernels one call launches), the median
over the profiled calls, in base units: seconds, bytes, percent, MHz. `available` false: `reason` says
why (ncu missing, counters not readable, the kernel not profiled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gpubench.results.codec import Struct

__all__ = ["NcuProfile"]


@dataclass(frozen=True)
class NcuProfile(Struct):
    available: bool
    reason: str | None = None
    time_s: float | None = None  # gpu__time_duration.sum over the call's kernels
    dram_read_bytes: float | None = None  # dram__bytes_read.sum
    dram_write_bytes: float | None = None  # dram__bytes_write.sum
    l2_bytes: float | None = None  # lts__t_bytes.sum: every byte through the L2 slices
    sm_throughput_pct: float | None = None  # sm__throughput, duration-weighted over the call's kernels
    tensor_pct: float | None = None  # tensor pipes active, duration-weighted (the higher of mma.sync, wgmma)
    sm_clock_mhz: float | None = None  # the SM clock ncu saw (with --clock-control none: the GPU's own)
    calls: int = 0
    kernels_per_call: int | None = None
    kernels: list[str] = field(default_factory=list)  # the kernels of one call, as ncu named them
    metrics: dict[str, float] = field(default_factory=dict)  # every metric read, per call, base units
    clock_control: str = "none"
    cache_control: str = "none"  # ncu's; the suite flushes L2 itself before every cold call
    command: list[str] = field(default_factory=list)
    ncu_version: str | None = None
    created: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def unavailable(cls, reason: str, **kw) -> NcuProfile:
        return cls(available=False, reason=reason, **kw)

    @property
    def dram_bytes(self) -> float | None:
        if self.dram_read_bytes is None or self.dram_write_bytes is None:
            return None
        return self.dram_read_bytes + self.dram_write_bytes

    def event_over_ncu(self, event_median_s: float | None) -> float | None:
        """The record's event-timed median over ncu's duration (1.0: they agree)."""
        return event_median_s / self.time_s if event_median_s and self.time_s else None

    def accounted_over_dram(self, accounted_bytes: int | None) -> float | None:
        """The record's compulsory-byte count over the DRAM bytes ncu measured (1.0: they agree)."""
        dram = self.dram_bytes
        return accounted_bytes / dram if accounted_bytes and dram else None
