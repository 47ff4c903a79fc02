"""Which GPU a name denotes: a database key, a canonical name, an NVML/torch device name, or a unique part of
one; and a spec estimated from a device's reported properties for a GPU the database does not know.

A name that several GPUs share ("h100": SXM5 and PCIe) is an error listing the candidates with their keys,
never a silent first pick. An unknown GPU's spec comes with an `UnknownGPUWarning`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from .load import load_specs
from .model import Document, GPUSpec, frozen

__all__ = [
    "AmbiguousGPU",
    "UnknownGPU",
    "UnknownGPUWarning",
    "get_spec",
    "match_gpu",
    "resolve_spec",
    "spec_from_properties",
    "typical_rates",
]

_ARCH_OF_CC = {7: "volta", 8: "ampere", 9: "hopper", 10: "blackwell", 12: "blackwell"}
_ARCH_OF_CC_MINOR = {"7.5": "turing", "8.9": "ada"}
# Compute capability -> database GPU whose per-SM rates stand for that capability.
_REPRESENTATIVE = {
    "7.0": "v100_sxm2_16gb",
    "7.5": "t4",
    "8.0": "a100_sxm4_40gb",
    "8.6": "a10",
    "8.9": "l4",
    "9.0": "h100_sxm5",
}


class UnknownGPUWarning(UserWarning):
    """The GPU is not in the spec database: its figures are estimates."""


class UnknownGPU(KeyError):
    """No GPU of the database (or of the spec files given) has this name."""


class AmbiguousGPU(KeyError):
    """Several GPUs answer to this name; the message lists them with their keys."""


def _normalise(device_name: str) -> str:
    return " ".join(device_name.lower().split())


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def match_gpu(device_name: str | None, specs: Iterable[GPUSpec] | None = None) -> GPUSpec | None:
    """The GPU an NVML / torch device name denotes, or None. The longest pattern match wins."""
    if not device_name:
        return None
    name, best, best_len = _normalise(device_name), None, -1
    for spec in load_specs() if specs is None else specs:
        for pattern in spec.match:
            m = re.search(pattern, name)
            if m and len(m.group(0)) > best_len:
                best, best_len = spec, len(m.group(0))
    return best


def _listed(specs: Iterable[GPUSpec]) -> str:
    return ", ".join(f"{s.name} ({s.key})" for s in specs)


def get_spec(name: str, extra: Iterable[GPUSpec] = ()) -> GPUSpec:
    """A GPU by key, canonical name (any case), device name or a part of a name or key that only one GPU
    has; `extra` (a spec file's GPUs) is searched first. UnknownGPU names the known GPUs, AmbiguousGPU
    the candidates, each with its key."""
    specs = [*extra, *load_specs()]
    for spec in specs:
        if name == spec.key or _normalise(name) == _normalise(spec.name):
            return spec
    if (spec := match_gpu(name, specs)) is not None:
        return spec
    needle = _squash(name)
    hits = [s for s in specs if needle and (needle in _squash(s.name) or needle in _squash(s.key))]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise AmbiguousGPU(f"ambiguous GPU {name!r}: {_listed(hits)}; name one by its key")
    raise UnknownGPU(f"unknown GPU {name!r}; known: {_listed(specs)}")


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
        key="derived", name=name, arch=arch, compute_capability=cc_text, sm_count=sm_count,
        mem_bandwidth_gbs=bandwidth, boost_clock_mhz=sm_clock_mhz, peak_clock_mhz=sm_clock_mhz,
        mem_bus_width_bits=mem_bus_width_bits, mem_data_rate_gbps=rate_pin, mem_bytes=memory_bytes,
        l2_bytes=l2_bytes, smem_per_sm_bytes=smem_per_sm_bytes, tdp_w=tdp_w,
        flops_per_clk_per_sm=frozen(rates), sources=frozen(sources),
        notes=(
            f"Not in the database: derived from device properties; {rate_note}.",
            "Every peak assumes the maximum SM clock; some GPUs' published tensor peaks assume a lower one.",
        ),
        derived=True, origin="device",
    )  # fmt: skip


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
