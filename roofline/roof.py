"""Roofline maths: ceilings, the analytical prediction, the fraction of the bound, the ceiling check.

Units: bandwidth GB/s (1e9 B/s), peaks TFLOP/s (1e12 FLOP/s), time seconds, intensity FLOP/byte.

Which peak bounds a kernel, and what happens where the ceilings lack it (a stated fallback, or a refused
prediction: never one on memory alone), is roofline.rates' rule (`compute_rate`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from gpubench import dtypes
from gpubench.results import MeasuredCeilings
from gpubench.roofline.rates import compute_rate, peak_key

__all__ = [
    "Ceilings",
    "Prediction",
    "check_ceiling",
    "peak_key",
    "predict",
    "ridge_points",
]


@dataclass(frozen=True)
class Ceilings:
    """The roofs one result is placed under: a datasheet's, or those measured on the GPU at hand."""

    label: str  # "datasheet" or "measured"
    mem_bandwidth_gbs: float | None
    peaks: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))  # key -> TFLOP/s
    launch_overhead_s: float | None = None
    cache_gbs: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))  # "l2", "smem"

    def __post_init__(self):
        peaks = {k: float(v) for k, v in self.peaks.items() if v is not None}
        object.__setattr__(self, "peaks", MappingProxyType(peaks))
        object.__setattr__(self, "cache_gbs", MappingProxyType(dict(self.cache_gbs)))

    def __hash__(self) -> int:
        return hash((self.label, self.mem_bandwidth_gbs, tuple(sorted(self.peaks.items()))))

    @classmethod
    def from_spec(cls, spec, launch_overhead_s: float | None = None) -> Ceilings:
        """Datasheet ceilings of a `roofline.specs.GPUSpec` (dense peaks)."""
        return cls("datasheet", spec.mem_bandwidth_gbs, spec.peaks, launch_overhead_s)

    @classmethod
    def from_measured(cls, measured: MeasuredCeilings) -> Ceilings:
        """Ceilings from the roofs measured on a GPU. What was not measured stays missing: it never falls
        back to a datasheet figure."""
        peaks = {dtypes.normalise(k): v for k, v in measured.peaks.items()}
        caches = {"l2": measured.l2_gbs, "smem": measured.smem_gbs}
        caches = {level: v for level, v in caches.items() if v is not None}
        return cls("measured", measured.dram_or_copy_gbs(), peaks, measured.launch_overhead_s, caches)

    def bandwidth_gbs(self, level: str = "dram") -> float | None:
        return self.mem_bandwidth_gbs if level == "dram" else self.cache_gbs.get(level)


@dataclass(frozen=True)
class Prediction:
    time_s: float | None  # lower bound + launch overhead (when known)
    bound: str  # "memory", "compute" or "unknown"
    intensity: float | None  # FLOP/byte; None when bytes == 0
    attainable_tflops: float | None  # min(peak, intensity x bandwidth)
    ceilings_label: str
    peak_key: str
    peak_tflops: float | None
    bandwidth_gbs: float | None
    compute_time_s: float | None
    memory_time_s: float | None
    lower_bound_s: float | None  # max(compute, memory) time, without launch overhead
    launch_overhead_s: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_non_negative(**values: float) -> None:
    for name, v in values.items():
        if v is None or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")


def predict(
    flops: float,
    bytes: float,
    dtype: Any,
    ceilings: Ceilings,
    uses_tensor_cores: bool = False,
    gpu: Any = None,
) -> Prediction:
    """Roofline time of a kernel doing `flops` FLOP and moving `bytes` bytes of compulsory DRAM traffic on
    `gpu` (its spec, for roofline.rates' rule). A missing bandwidth gives a compute-only prediction, noted;
    a missing compute rate a stated fallback or, with FLOPs to do, no prediction (time None), noted."""
    _check_non_negative(flops=flops, bytes=bytes)
    rate = compute_rate(ceilings.peaks, dtype, uses_tensor_cores, gpu, ceilings.label)
    key, peak, bandwidth = rate.used or rate.key, rate.tflops, ceilings.mem_bandwidth_gbs
    compute_s = flops / (peak * 1e12) if peak else None
    memory_s = bytes / (bandwidth * 1e9) if bandwidth else None
    intensity = flops / bytes if bytes else None
    notes = [rate.note] if rate.note else []
    if bandwidth is None:
        notes.append(f"no {ceilings.label} memory bandwidth: compute-only prediction")
    if flops == 0 and bytes == 0:
        notes.append("no work: zero FLOPs and zero bytes")
    refused = bool(rate.refused and flops)  # never a time from memory alone
    times = [] if refused else [t for t in (compute_s, memory_s) if t is not None]
    lower = max(times) if times else None
    if lower is None:
        bound = "unknown"
    elif memory_s is not None and (compute_s is None or memory_s >= compute_s):
        bound = "memory"
    else:
        bound = "compute"
    if intensity is None:  # no bytes: the compute roof alone
        attainable = peak
    elif bandwidth is None:
        attainable = peak
    else:
        roof = intensity * bandwidth / 1e3
        attainable = min(peak, roof) if peak else roof
    overhead = ceilings.launch_overhead_s
    time_s = None if lower is None else lower + (overhead or 0.0)
    return Prediction(
        time_s=time_s,
        bound=bound,
        intensity=intensity,
        attainable_tflops=attainable,
        ceilings_label=ceilings.label,
        peak_key=key,
        peak_tflops=peak,
        bandwidth_gbs=bandwidth,
        compute_time_s=compute_s,
        memory_time_s=memory_s,
        lower_bound_s=lower,
        launch_overhead_s=overhead,
        note="; ".join(notes) or None,
    )


def _ceiling_peak(ceilings: Ceilings, dtype: Any, uses_tensor_cores: bool) -> tuple[str, float | None]:
    if dtype is None:  # no dtype: nothing can beat the highest roof
        best = max(ceilings.peaks.items(), key=lambda kv: kv[1], default=(None, None))
        return f"highest ({best[0]})", best[1]
    key = peak_key(dtype, uses_tensor_cores)
    peak = ceilings.peaks.get(key)
    half = dtypes.normalise(dtype) in ("fp16", "bf16")
    if not uses_tensor_cores and half and "fp16_simt" in ceilings.peaks:
        peak = max(peak or 0.0, ceilings.peaks["fp16_simt"])  # packed half2 math can legitimately beat fp32
        key = f"{key}/fp16_simt"
    return key, peak


def check_ceiling(
    measured_time_s: float,
    flops: float,
    bytes: float,
    ceilings: Ceilings,
    tolerance: float = 0.05,
    dtype: Any = None,
    uses_tensor_cores: bool = False,
    memory_level: str = "dram",
) -> list[str]:
    """Violations of the roofs by a measured result. A result above a ceiling means its FLOP or byte
    accounting is wrong (or the ceiling is). `memory_level` picks the bandwidth roof: "dram" for cold
    results, "l2" for warm ones whose working set fits in L2 (a missing roof is not checked)."""
    if not measured_time_s or measured_time_s <= 0:
        raise ValueError(f"measured_time_s must be > 0, got {measured_time_s!r}")
    _check_non_negative(flops=flops, bytes=bytes)
    out = []
    bandwidth = ceilings.bandwidth_gbs(memory_level)
    achieved_gbs = bytes / measured_time_s / 1e9
    if bandwidth and achieved_gbs > bandwidth * (1 + tolerance):
        out.append(
            f"achieved {achieved_gbs:.1f} GB/s exceeds the {ceilings.label} {memory_level} bandwidth "
            f"{bandwidth:.1f} GB/s by more than {tolerance:.0%}: byte accounting too high?"
        )
    key, peak = _ceiling_peak(ceilings, dtype, uses_tensor_cores)
    achieved_tflops = flops / measured_time_s / 1e12
    if peak and achieved_tflops > peak * (1 + tolerance):
        out.append(
            f"achieved {achieved_tflops:.2f} TFLOP/s exceeds the {ceilings.label} {key} peak "
            f"{peak:.2f} TFLOP/s by more than {tolerance:.0%}: FLOP accounting too high?"
        )
    return out


RIDGE_LEVELS = {"DRAM": "dram", "L2": "l2", "shared": "smem"}


def ridge_points(ceilings: Ceilings) -> dict[str, dict[str, float]]:
    """Peak key -> memory level (DRAM, L2, shared: those the ceilings have) -> the ridge point, FLOP per
    byte: peak / bandwidth, the intensity above which a kernel fed from that level can be compute-bound."""
    levels = {name: ceilings.bandwidth_gbs(level) for name, level in RIDGE_LEVELS.items()}
    return {
        key: {name: peak * 1e3 / gbs for name, gbs in levels.items() if gbs}
        for key, peak in ceilings.peaks.items()
    }
