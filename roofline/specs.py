"""GPU spec database (roofline/data/gpus.toml) and the peaks derived from it.

A peak is derived as sm_count x FLOP/clk/SM x clock and is dense; 2:4-sparse peaks are kept apart. Each GPU
records the clock its published peaks assume (Hopper uses a lower one for its low-precision tensor peaks).
Peaks are TFLOP/s (TOP/s for integer types). A GPU that is not in the database gets a spec derived from its
reported properties and the per-SM rates typical of its compute capability, with an `UnknownGPUWarning`.
"""

# long module: the spec database as one unit: gpus.toml, lookups by name and by device, the device check
from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

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
_TABLE_KEYS = {
    "name", "match", "arch", "compute_capability", "sm_count", "base_clock_mhz", "boost_clock_mhz",
    "peak_clock_mhz", "peak_clock_overrides_mhz", "mem_type", "mem_bus_width_bits", "mem_data_rate_gbps",
    "mem_bandwidth_gbs", "mem_gb", "l2_bytes", "smem_per_sm_bytes", "tdp_w", "sparsity_factor", "sparse_keys",
    "flops_per_clk_per_sm", "published_dense_tflops", "published_sparse_tflops", "published_discrepancies",
    "sources", "notes", "extends",
}  # fmt: skip
_ARCH_OF_CC = {7: "volta", 8: "ampere", 9: "hopper", 10: "blackwell", 12: "blackwell"}
_ARCH_OF_CC_MINOR = {"7.5": "turing", "8.9": "ada"}
# Compute capability -> database GPU whose per-SM rates stand for that capability.
_REPRESENTATIVE = {
    "7.0": "v100_sxm2_16gb",
    "7.5": "t4",
    "8.0": "a100_sxm4_40gb",
    "8.9": "l4",
    "9.0": "h100_sxm5",
}
# cc 8.6 has no GPU in the database: GA10x rates from the CUDA guide (FP64 2 results/clk/SM) and the A10
# datasheet (62.5 TF32 / 125 FP16 / 250 INT8 dense at 72 SMs x 1695 MHz = 512 / 1024 / 2048 per SM per clock).
_CC86_RATES = {"fp64": 4, "fp32": 256, "fp16_simt": 256, "tc_tf32": 512, "tc_fp16": 1024, "tc_bf16": 1024,
               "tc_int8": 2048, "tc_int4": 4096}  # fmt: skip


class UnknownGPUWarning(UserWarning):
    """The GPU is not in the spec database: its figures are estimates."""


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    url: str
    kind: str = "vendor"  # "vendor", "third-party" or "device"


def _frozen(d: Mapping | None = None) -> Mapping:
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
    peak_clock_overrides_mhz: Mapping[str, float] = field(default_factory=_frozen)  # rate key -> MHz
    mem_type: str | None = None
    mem_bus_width_bits: int | None = None
    mem_data_rate_gbps: float | None = None  # per pin
    mem_bytes: int | None = None
    l2_bytes: int | None = None
    smem_per_sm_bytes: int | None = None
    tdp_w: float | None = None
    flops_per_clk_per_sm: Mapping[str, float] = field(default_factory=_frozen)  # dense
    sparsity_factor: float = 2.0
    sparse_keys: tuple[str, ...] = ()
    published_dense_tflops: Mapping[str, float] = field(default_factory=_frozen)
    published_sparse_tflops: Mapping[str, float] = field(default_factory=_frozen)
    published_discrepancies: Mapping[str, str] = field(default_factory=_frozen)
    sources: Mapping[str, tuple[Document, ...]] = field(default_factory=_frozen)
    notes: tuple[str, ...] = ()
    derived: bool = False  # True: estimated from device properties, not from the database

    def __hash__(self) -> int:
        return hash((self.key, self.name, self.derived))

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


# ------------------------------------------------------------------------------------------------ loading


def _read(path: str | None) -> dict[str, Any]:
    if path is None:
        data = resources.files("gpubench.roofline").joinpath("data/gpus.toml").read_bytes()
    else:
        data = Path(path).read_bytes()
    return tomllib.loads(data.decode())


def _inherit(tables: dict[str, dict], key: str, seen: tuple[str, ...] = ()) -> dict:
    table = dict(tables[key])
    parent = table.pop("extends", None)
    if parent is None:
        if "unset" in table:
            raise ValueError(f"gpus.{key}: 'unset' only makes sense with 'extends'")
        return table
    if parent not in tables or parent in seen:
        raise ValueError(f"gpus.{key}: extends unknown or circular parent {parent!r}")
    for required in ("name", "match"):
        if required not in table:
            raise ValueError(f"gpus.{key}: a table that extends another must give its own {required!r}")
    merged = _inherit(tables, parent, seen + (key,))
    sources = {**merged.get("sources", {}), **table.get("sources", {})}
    for name in table.pop("unset", ()):  # parent figures that do not hold for this GPU
        merged.pop(name, None)
        sources.pop(name, None)
    merged.update(table)
    merged["sources"] = sources
    return merged


def _check_keys(key: str, what: str, got, allowed) -> None:
    bad = sorted(set(got) - set(allowed))
    if bad:
        raise ValueError(f"gpus.{key}: unknown {what} {bad}; allowed: {sorted(allowed)}")


def _build(key: str, t: dict[str, Any], docs: dict[str, Document]) -> GPUSpec:
    _check_keys(key, "fields", t, _TABLE_KEYS)
    for required in ("name", "match", "arch", "compute_capability", "sm_count", "mem_bandwidth_gbs"):
        if required not in t:
            raise ValueError(f"gpus.{key}: missing {required!r}")
    if t["arch"] not in ARCHES:
        raise ValueError(f"gpus.{key}: arch {t['arch']!r} not one of {ARCHES}")
    if not re.fullmatch(r"\d+\.\d+", t["compute_capability"]):
        raise ValueError(
            f"gpus.{key}: compute_capability must look like '9.0', got {t['compute_capability']!r}"
        )
    rates = t.get("flops_per_clk_per_sm", {})
    _check_keys(key, "per-SM rate keys", rates, RATE_TO_PEAK)
    _check_keys(key, "clock override keys", t.get("peak_clock_overrides_mhz", {}), rates)
    for table in ("published_dense_tflops", "published_sparse_tflops", "published_discrepancies"):
        _check_keys(key, f"{table} keys", t.get(table, {}), PEAK_KEYS)
    _check_keys(key, "sparse_keys", t.get("sparse_keys", []), PEAK_KEYS)
    if rates and not t.get("peak_clock_mhz"):
        raise ValueError(f"gpus.{key}: per-SM rates need peak_clock_mhz")
    for pattern in t["match"]:
        re.compile(pattern)
    sources = {}
    for fld, ids in t.get("sources", {}).items():
        unknown = [i for i in ids if i not in docs]
        if unknown:
            raise ValueError(f"gpus.{key}: sources.{fld} names unknown documents {unknown}")
        sources["mem_bytes" if fld == "mem_gb" else fld] = tuple(docs[i] for i in ids)
    mem_gb = t.get("mem_gb")
    return GPUSpec(
        key=key,
        name=t["name"],
        arch=t["arch"],
        compute_capability=t["compute_capability"],
        sm_count=t["sm_count"],
        mem_bandwidth_gbs=float(t["mem_bandwidth_gbs"]),
        match=tuple(t["match"]),
        base_clock_mhz=t.get("base_clock_mhz"),
        boost_clock_mhz=t.get("boost_clock_mhz"),
        peak_clock_mhz=t.get("peak_clock_mhz"),
        peak_clock_overrides_mhz=_frozen(t.get("peak_clock_overrides_mhz")),
        mem_type=t.get("mem_type"),
        mem_bus_width_bits=t.get("mem_bus_width_bits"),
        mem_data_rate_gbps=t.get("mem_data_rate_gbps"),
        mem_bytes=int(mem_gb * 2**30) if mem_gb else None,
        l2_bytes=t.get("l2_bytes"),
        smem_per_sm_bytes=t.get("smem_per_sm_bytes"),
        tdp_w=t.get("tdp_w"),
        flops_per_clk_per_sm=_frozen(rates),
        sparsity_factor=float(t.get("sparsity_factor", 2.0)),
        sparse_keys=tuple(t.get("sparse_keys", ())),
        published_dense_tflops=_frozen(t.get("published_dense_tflops")),
        published_sparse_tflops=_frozen(t.get("published_sparse_tflops")),
        published_discrepancies=_frozen(t.get("published_discrepancies")),
        sources=_frozen(sources),
        notes=tuple(t.get("notes", ())),
    )


@functools.lru_cache(maxsize=8)
def _load(path: str | None) -> tuple[GPUSpec, ...]:
    raw = _read(path)
    docs = {i: Document(id=i, **d) for i, d in raw.get("documents", {}).items()}
    tables = raw.get("gpus", {})
    return tuple(_build(key, _inherit(tables, key), docs) for key in tables)


def load_specs(path: str | Path | None = None) -> list[GPUSpec]:
    """Every GPU in the database (parsed once and cached)."""
    return list(_load(str(path) if path is not None else None))


def _normalise(device_name: str) -> str:
    return " ".join(device_name.lower().split())


def match_gpu(device_name: str | None) -> GPUSpec | None:
    """The database GPU an NVML / torch device name denotes, or None. The longest pattern match wins."""
    if not device_name:
        return None
    name, best, best_len = _normalise(device_name), None, -1
    for spec in load_specs():
        for pattern in spec.match:
            m = re.search(pattern, name)
            if m and len(m.group(0)) > best_len:
                best, best_len = spec, len(m.group(0))
    return best


def get_spec(name: str) -> GPUSpec:
    """A GPU by database key, canonical name (any case) or device name; KeyError names the known ones."""
    for spec in load_specs():
        if name == spec.key or _normalise(name) == _normalise(spec.name):
            return spec
    spec = match_gpu(name)
    if spec is None:
        known = ", ".join(s.name for s in load_specs())
        raise KeyError(f"unknown GPU {name!r}; known: {known}")
    return spec


# ------------------------------------------------------------------------------------- unknown GPUs


def _parse_cc(cc: Any) -> tuple[int, int] | None:
    if isinstance(cc, (tuple, list)) and len(cc) == 2:
        return int(cc[0]), int(cc[1])
    text = str(cc).strip().lower() if cc is not None else ""
    m = re.fullmatch(r"sm_?(\d+)(\d)a?", text) or re.fullmatch(r"(\d+)(?:\.(\d+))?", text)
    return (int(m.group(1)), int(m.group(2) or 0)) if m else None


def typical_rates(compute_capability: Any) -> tuple[dict[str, float], str]:
    """Per-SM dense rates typical of a compute capability, and a note on where they come from."""
    cc = _parse_cc(compute_capability)
    if cc is None:
        return {}, f"compute capability {compute_capability!r} not understood: no compute peaks"
    tables = {c: dict(get_spec(k).flops_per_clk_per_sm) for c, k in _REPRESENTATIVE.items()}
    tables["8.6"] = dict(_CC86_RATES)
    known = sorted((tuple(map(int, c.split("."))), c) for c in tables)
    text = f"{cc[0]}.{cc[1]}"
    if text in tables:
        return tables[text], f"per-SM rates typical of compute capability {text}"
    same_major = [c for v, c in known if v[0] == cc[0] and v <= cc]
    if same_major:
        return tables[same_major[-1]], f"per-SM rates of compute capability {same_major[-1]} used for {text}"
    lower = [c for v, c in known if v < cc]
    if not lower:
        return {}, f"compute capability {text} predates the table: no compute peaks"
    simt = {k: v for k, v in tables[lower[-1]].items() if not k.startswith("tc_")}
    return simt, (
        f"compute capability {text} is newer than the table: non-tensor rates of {lower[-1]} used, "
        "tensor-core peaks unknown"
    )


# long function: one GPUSpec from device properties, every field named once, with its sources
def spec_from_properties(
    name: str,
    sm_count: int | None,
    sm_clock_mhz: float | None,
    mem_clock_mhz: float | None,
    mem_bus_width_bits: int | None,
    l2_bytes: int | None,
    compute_capability: Any,
    memory_bytes: int | None = None,
    smem_per_sm_bytes: int | None = None,
    tdp_w: float | None = None,
    reason: str | None = None,
) -> GPUSpec:
    """A spec estimated from what the device reports; warns that the GPU is unknown (or `reason`). Never
    raises on missing figures: what cannot be estimated is left out. `mem_clock_mhz` is NVML's memory
    clock, half the per-pin data rate (DDR), as for every NVIDIA HBM and GDDR part."""
    rates, rate_note = typical_rates(compute_capability)
    cc = _parse_cc(compute_capability)
    cc_text = f"{cc[0]}.{cc[1]}" if cc else str(compute_capability)
    arch = _ARCH_OF_CC_MINOR.get(cc_text, _ARCH_OF_CC.get(cc[0], "unknown")) if cc else "unknown"
    rate_pin = 2 * mem_clock_mhz / 1000 if mem_clock_mhz else None
    bandwidth = mem_bus_width_bits * rate_pin / 8 if (rate_pin and mem_bus_width_bits) else None
    why = reason or f"GPU {name!r} is not in the spec database (roofline/data/gpus.toml)"
    warnings.warn(
        f"{why}: its peaks and bandwidth are estimates from the device's reported properties "
        f"({rate_note}; clock {sm_clock_mhz} MHz for every peak), not published figures.",
        UnknownGPUWarning,
        stacklevel=2,
    )
    device = (
        Document("device", "Properties reported by the CUDA runtime and NVML on this device", "", "device"),
    )
    basis = _REPRESENTATIVE.get(cc_text)
    rate_docs = get_spec(basis).sources.get("flops_per_clk_per_sm", ()) if basis else ()
    sources = {f: device for f in ("compute_capability", "sm_count", "peak_clock_mhz", "boost_clock_mhz",
                                   "mem_bus_width_bits", "mem_data_rate_gbps", "mem_bandwidth_gbs",
                                   "mem_bytes", "l2_bytes", "smem_per_sm_bytes", "tdp_w")}  # fmt: skip
    sources["flops_per_clk_per_sm"] = rate_docs or device
    return GPUSpec(
        key="derived",
        name=name,
        arch=arch,
        compute_capability=cc_text,
        sm_count=sm_count,
        mem_bandwidth_gbs=bandwidth,
        boost_clock_mhz=sm_clock_mhz,
        peak_clock_mhz=sm_clock_mhz,
        mem_bus_width_bits=mem_bus_width_bits,
        mem_data_rate_gbps=rate_pin,
        mem_bytes=memory_bytes,
        l2_bytes=l2_bytes,
        smem_per_sm_bytes=smem_per_sm_bytes,
        tdp_w=tdp_w,
        flops_per_clk_per_sm=_frozen(rates),
        sources=_frozen(sources),
        notes=(
            f"Not in the database: derived from device properties; {rate_note}.",
            "Every peak assumes the maximum SM clock; some GPUs' published tensor peaks assume a lower one.",
        ),
        derived=True,
    )


def resolve_spec(device_info: Mapping[str, Any]) -> GPUSpec:
    """The spec for a results file's device section: the database entry its name matches, else one derived
    from its properties (with an UnknownGPUWarning). A match whose SM count disagrees with the device (a MIG
    slice, an unlisted variant) is not trusted: the derived spec is returned, with a warning."""
    name = device_info.get("name") or "unknown GPU"
    spec = match_gpu(name)
    reported = device_info.get("sm_count")
    if spec is not None and (not reported or reported == spec.sm_count):
        return spec
    reason = None
    if spec is not None:
        reason = f"{name!r} matches {spec.name!r} but reports {reported} SMs, not {spec.sm_count}"
    return spec_from_properties(
        name,
        sm_count=reported,
        sm_clock_mhz=device_info.get("sm_clock_max_mhz"),
        mem_clock_mhz=device_info.get("mem_clock_max_mhz"),
        mem_bus_width_bits=device_info.get("mem_bus_width_bits"),
        l2_bytes=device_info.get("l2_bytes"),
        compute_capability=device_info.get("compute_capability"),
        memory_bytes=device_info.get("memory_bytes"),
        tdp_w=device_info.get("power_limit_w"),
        reason=reason,
    )


# ------------------------------------------------------------------------------- spec against device

# The device reports less memory than is marketed (the driver and ECC reserve some); more than the spec,
# or less than this fraction of it, is another part. Clocks within 1 % and a bandwidth within 5 % agree.
_MEMORY_REPORTED_MIN = 0.95
_CLOCK_RTOL = 0.01
_BANDWIDTH_RTOL = 0.05


def _cited(spec: GPUSpec, fld: str) -> list[str]:
    return [f"{d.title} <{d.url}>" if d.url else d.title for d in spec.sources.get(fld, ())]


def device_mismatches(spec: GPUSpec, device: Mapping[str, Any]) -> list:
    """The figures of a database spec that `device` (a results file's device section) contradicts:
    SM count, L2 size, compute capability, memory size, bus width, maximum SM clock, and the bandwidth
    its memory clock and bus imply. Empty for a spec derived from the device itself."""
    from gpubench.results.provenance import SpecMismatch

    if spec is None or spec.derived:
        return []
    out = []

    def add(fld: str, spec_value, device_value, note: str | None = None):
        out.append(SpecMismatch(fld, spec_value, device_value, spec.name, _cited(spec, fld), note))

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


# ------------------------------------------------------------------------------------------------ output


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
