"""The ceilings file: what `gpubench micro` measured on one GPU, and the roofs it yields.

Layout (JSON, schema "gpubench.ceilings", version CEILINGS_SCHEMA_VERSION):
    {
      "schema", "schema_version", "created", "status": "complete" | "partial" | "interrupted",
      "device": Device, "software": Software, "run": {"quick", "families", "argv", "wall_s", "datasheet"},
      "ceilings": MeasuredCeilings,    # the roofs: only what was measured, never a datasheet figure
      "micro": [MicroEntry, ...],      # every figure measured, against its datasheet value
      "sweep": [...],                  # arithmetic-intensity sweep points
      "cache_sweep": [...],            # working-set sweep points
      "skipped": [{"name", "reason"}], "failures": [{"family", "error"}],
      "provenance": Provenance         # commit, dirty tree, environment knobs, spec mismatches
    }
Units: GB/s (1e9 B/s), TFLOP/s (int8: TOP/s), seconds, nanoseconds for latencies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gpubench.results.codec import FieldError, Struct
from gpubench.results.machine import Device, Software
from gpubench.results.provenance import Provenance

__all__ = ["CEILINGS_SCHEMA", "CEILINGS_SCHEMA_VERSION", "CeilingsFile", "MeasuredCeilings", "MicroEntry"]

CEILINGS_SCHEMA = "gpubench.ceilings"
CEILINGS_SCHEMA_VERSION = 1
_FILE_STATUSES = ("complete", "partial", "interrupted")


@dataclass(frozen=True)
class MeasuredCeilings(Struct):
    """The roofs measured on one GPU (bench.micro.ceilings.build_ceilings makes them)."""

    dram_gbs: float | None = None  # the roofline's DRAM roof: the best access pattern measured
    dram_source: str | None = None
    copy_gbs: float | None = None  # the "copy bandwidth" yardstick: the better of the two copies
    copy_source: str | None = None
    dram_read_gbs: float | None = None
    dram_write_gbs: float | None = None
    dram_copy_gbs: float | None = None
    dram_triad_gbs: float | None = None
    dram_copy_torch_gbs: float | None = None
    l1_gbs: float | None = None
    l2_gbs: float | None = None
    smem_gbs: float | None = None
    # The roof per hardware rate, TFLOP/s: the best sustained rate of the micro-benchmarks that measure it
    # (fp16 and bf16 share one). Files before peak_sources held the best single sample here instead.
    peaks: dict[str, float] = field(default_factory=dict)
    peaks_sustained: dict[str, float] = field(default_factory=dict)  # each figure's own rate at the median
    peaks_burst: dict[str, float] = field(default_factory=dict)  # the same from an idle GPU, a short window
    peak_sources: dict[str, str] = field(default_factory=dict)  # roof key -> the entry that measured it
    peak_clocks_mhz: dict[str, dict[str, float]] = field(default_factory=dict)  # key -> {burst, sustained}
    roof_clock_mhz: dict[str, float] = field(default_factory=dict)  # roof key -> its source's sustained clock
    cache_plateaus: dict[str, dict[str, Any]] = field(default_factory=dict)  # "l1", "l2": the plateau found
    launch_overhead_s: float | None = None
    launch_overhead_source: str | None = None
    launch_host_s: float | None = None
    launch_graph_s: float | None = None
    empty_kernel_device_s: float | None = None
    latency_ns: dict[str, float] = field(default_factory=dict)  # "l1", "l2", "dram"
    latency_cycles: dict[str, float] = field(default_factory=dict)
    h2d_pinned_gbs: float | None = None
    h2d_pageable_gbs: float | None = None
    d2h_pinned_gbs: float | None = None
    d2h_pageable_gbs: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        for name in ("dram_gbs", "copy_gbs", "l1_gbs", "l2_gbs", "smem_gbs", "launch_overhead_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise FieldError(name, f"{value!r} is not a positive figure")
        for key, value in self.peaks.items():
            if not value > 0:
                raise FieldError(f"peaks.{key}", f"{value!r} is not a positive rate")

    def dram_or_copy_gbs(self) -> float | None:
        """The DRAM roof; files that predate `dram_gbs` have only the copy kernel's figure."""
        return self.dram_gbs if self.dram_gbs is not None else self.dram_copy_gbs


@dataclass(frozen=True)
class MicroEntry(Struct):
    """One measured figure (bench.micro.common.make_entry)."""

    name: str
    value: float | None
    unit: str
    datasheet: float | None = None
    percent_of_datasheet: float | None = None
    method: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    telemetry: dict[str, Any] | None = None
    flags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class CeilingsFile(Struct):
    device: Device
    software: Software
    ceilings: MeasuredCeilings
    schema: str = CEILINGS_SCHEMA
    schema_version: int = CEILINGS_SCHEMA_VERSION
    created: str | None = None
    status: str = "complete"
    run: dict[str, Any] = field(default_factory=dict)
    micro: list[MicroEntry] = field(default_factory=list)
    sweep: list[dict[str, Any]] = field(default_factory=list)
    cache_sweep: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    provenance: Provenance | None = None  # the commit, the tree's state, the knobs, spec mismatches
    extra: dict[str, Any] = field(default_factory=dict)
    path: str | None = field(default=None, metadata={"transient": True}, compare=False)

    def __post_init__(self):
        if self.status not in _FILE_STATUSES:
            raise FieldError("status", f"{self.status!r} is not one of {', '.join(_FILE_STATUSES)}")

    @property
    def gpu(self) -> str:
        return self.device.model
