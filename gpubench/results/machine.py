"""Where something was measured: the GPU as the suite saw it, and the software that ran."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gpubench.results.codec import Struct

__all__ = ["Device", "Software"]


@dataclass(frozen=True)
class Device(Struct):
    """What the suite saw of the GPU (bench.measure.device.device_info); every field may be missing."""

    name: str | None = None
    index: int | None = None
    uuid: str | None = None
    compute_capability: str | None = None
    sm_count: int | None = None
    memory_bytes: int | None = None
    l2_bytes: int | None = None
    max_threads_per_sm: int | None = None
    smem_per_block_optin_bytes: int | None = None
    regs_per_sm: int | None = None
    nvml: dict[str, Any] | None = None
    sm_clock_max_mhz: float | None = None
    mem_clock_max_mhz: float | None = None
    mem_bus_width_bits: int | None = None
    power_limit_w: float | None = None
    persistence_mode: bool | None = None
    applications_sm_clock_mhz: float | None = None
    driver: str | None = None
    cuda_driver: str | None = None
    cuda: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        """The GPU model runs are grouped by ("unknown" when not recorded)."""
        return self.name or "unknown"


@dataclass(frozen=True)
class Software(Struct):
    python: str | None = None
    platform: str | None = None
    suite_version: str | None = None
    suite_commit: str | None = None
    numpy: str | None = None
    pytest_benchmark: str | None = None
    torch: str | None = None
    cuda_runtime: str | None = None
    triton: str | None = None
    cupy: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
