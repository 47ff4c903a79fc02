"""What a GPU spec is: the record type, its source documents, the peaks derived from it, and its JSON form.

A peak is derived as sm_count x FLOP/clk/SM x clock and is dense; 2:4-sparse peaks are kept apart. Each GPU
records the clock its published peaks assume (Hopper uses a lower one for its low-precision tensor peaks).
Peaks are TFLOP/s (TOP/s for integer types).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "ARCHES",
    "FIGURE_FIELDS",
    "PEAK_KEYS",
    "RATE_TO_PEAK",
    "Document",
    "GPUSpec",
    "frozen",
    "to_json",
]

# Per-SM rate key -> peak key. fp16/bf16/tf32/fp8/int8 peaks are tensor-core rates; fp32 and fp64 are not.
RATE_TO_PEAK = {
    "fp64": "fp64",
    "tc_fp64": "fp64_tc",
    "fp32": "fp32",
    "fp16_simt": "fp16_simt",
    "tc_tf32": "tf32",
    "tc_fp16": "fp16",
    "tc_bf16": "bf16",
    "tc_fp8": "fp8",
    "tc_int8": "int8",
    "tc_int4": "int4",
    "tc_fp4": "fp4",
    "tc_fp16_f16acc": "fp16_f16acc",
    "tc_fp8_f16acc": "fp8_f16acc",
}
PEAK_KEYS = tuple(RATE_TO_PEAK.values())
ARCHES = ("volta", "turing", "ampere", "ada", "hopper", "blackwell", "unknown")
# Fields that hold a figure and so need a source (tables may be sourced as a whole or per key).
FIGURE_FIELDS = (
    "compute_capability", "sm_count", "base_clock_mhz", "boost_clock_mhz", "peak_clock_mhz",
    "peak_clock_overrides_mhz", "mem_type", "mem_bus_width_bits", "mem_data_rate_gbps", "mem_bandwidth_gbs",
    "mem_bytes", "l2_bytes", "smem_per_sm_bytes", "tdp_w", "sparse_keys", "flops_per_clk_per_sm",
    "published_dense_tflops", "published_sparse_tflops",
)  # fmt: skip


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    url: str
    kind: str = "vendor"  # "vendor", "third-party", "device" or "user" (a spec file or a what-if)


def frozen(d: Mapping | None = None) -> Mapping:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class GPUSpec:
    key: str
    name: str
    arch: str
    compute_capability: str
    sm_count: int | None
    mem_bandwidth_gbs: float | None
    match: tuple[str, ...] = ()
    base_clock_mhz: float | None = None
    boost_clock_mhz: float | None = None
    peak_clock_mhz: float | None = None  # the clock the published peaks assume (usually boost)
    peak_clock_overrides_mhz: Mapping[str, float] = field(default_factory=frozen)  # rate key -> MHz
    mem_type: str | None = None
    mem_bus_width_bits: int | None = None
    mem_data_rate_gbps: float | None = None  # per pin
    mem_bytes: int | None = None
    l2_bytes: int | None = None
    smem_per_sm_bytes: int | None = None
    tdp_w: float | None = None
    flops_per_clk_per_sm: Mapping[str, float] = field(default_factory=frozen)  # dense
    sparsity_factor: float = 2.0
    sparse_keys: tuple[str, ...] = ()
    published_dense_tflops: Mapping[str, float] = field(default_factory=frozen)
    published_sparse_tflops: Mapping[str, float] = field(default_factory=frozen)
    published_discrepancies: Mapping[str, str] = field(default_factory=frozen)
    sources: Mapping[str, tuple[Document, ...]] = field(default_factory=frozen)
    notes: tuple[str, ...] = ()
    derived: bool = False  # True: estimated from device properties, not from the database
    origin: str = "database"  # "database", "device", or the spec file it came from

    def __hash__(self) -> int:
        return hash((self.key, self.name, self.derived, self.origin))

    def clock_mhz_for(self, rate_key: str) -> float | None:
        return self.peak_clock_overrides_mhz.get(rate_key, self.peak_clock_mhz)

    def derived_peaks(self) -> dict[str, float]:
        """Peak key -> sm_count x FLOP/clk/SM x clock, in TFLOP/s; only what the per-SM table gives."""
        out = {}
        for rate_key, peak_key in RATE_TO_PEAK.items():
            rate, clock = self.flops_per_clk_per_sm.get(rate_key), self.clock_mhz_for(rate_key)
            if rate and clock and self.sm_count:
                out[peak_key] = self.sm_count * rate * clock / 1e6
        return out

    @property
    def peaks(self) -> dict[str, float]:
        """Dense peaks in TFLOP/s: derived where per-SM rate and clock are known, else the published total."""
        derived = self.derived_peaks()
        return {k: derived.get(k, self.published_dense_tflops.get(k)) for k in PEAK_KEYS
                if k in derived or k in self.published_dense_tflops}  # fmt: skip

    @property
    def peak_origin(self) -> dict[str, str]:
        derived = self.derived_peaks()
        return {k: "derived" if k in derived else "published" for k in self.peaks}

    @property
    def sparse_peaks(self) -> dict[str, float]:
        peaks = self.peaks
        return {k: peaks[k] * self.sparsity_factor for k in self.sparse_keys if k in peaks}

    @property
    def peak_clocks_mhz(self) -> dict[str, float]:
        """Peak key -> the clock its derived peak assumes."""
        derived = self.derived_peaks()
        inverse = {p: r for r, p in RATE_TO_PEAK.items()}
        return {k: self.clock_mhz_for(inverse[k]) for k in derived}

    @property
    def theoretical_bandwidth_gbs(self) -> float | None:
        """Bus width x per-pin data rate, for comparison with the published bandwidth."""
        if self.mem_bus_width_bits and self.mem_data_rate_gbps:
            return self.mem_bus_width_bits * self.mem_data_rate_gbps / 8
        return None

    def cited(self, fld: str) -> list[str]:
        """The documents a figure cites, one 'title <url>' each."""
        return [f"{d.title} <{d.url}>" if d.url else d.title for d in self.sources.get(fld, ())]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Document):
        return dataclasses.asdict(value)
    return value


def to_json(spec: GPUSpec) -> dict[str, Any]:
    """Every field, plus peaks, sparse_peaks, peak_clocks_mhz and peak_origin, as plain JSON types."""
    out = {f.name: _plain(getattr(spec, f.name)) for f in dataclasses.fields(spec)}
    out["peaks"] = {k: round(v, 3) for k, v in spec.peaks.items()}
    out["sparse_peaks"] = {k: round(v, 3) for k, v in spec.sparse_peaks.items()}
    out["peak_clocks_mhz"] = spec.peak_clocks_mhz
    out["peak_origin"] = spec.peak_origin
    out["theoretical_bandwidth_gbs"] = spec.theoretical_bandwidth_gbs
    out["peak_units"] = "dense TFLOP/s (TOP/s for int8/int4); fp16/bf16/tf32/fp8/int8 are tensor-core rates"
    return out
