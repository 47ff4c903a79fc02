"""The ceilings from the measured entries: which entry becomes which roof (the file's layout is
gpubench.results.ceilings', which also reads and validates it)."""

from __future__ import annotations

from typing import Any

from gpubench.results import (
    CEILINGS_SCHEMA,
    CEILINGS_SCHEMA_VERSION,
    CeilingsError,
    CeilingsFile,
    parse_ceilings,
    utc_now,
)

# Entry name -> top-level ceilings key (same unit as the entry).
SCALAR_KEYS = {
    "dram_copy": "dram_copy_gbs",
    "dram_read": "dram_read_gbs",
    "dram_write": "dram_write_gbs",
    "dram_triad": "dram_triad_gbs",
    "dram_copy_torch": "dram_copy_torch_gbs",
    "l1_bandwidth": "l1_gbs",
    "l2_bandwidth": "l2_gbs",
    "smem_bandwidth": "smem_gbs",
    "launch_host": "launch_host_s",
    "launch_graph": "launch_graph_s",
    "empty_kernel_device": "empty_kernel_device_s",
    "h2d_pinned": "h2d_pinned_gbs",
    "h2d_pageable": "h2d_pageable_gbs",
    "d2h_pinned": "d2h_pinned_gbs",
    "d2h_pageable": "d2h_pageable_gbs",
}
# Entry name -> key under ceilings["peaks"].
PEAK_KEYS = {
    "fma_fp32": "fp32",
    "fma_fp64": "fp64",
    "fma_f16x2": "fp16_simt",
    "cublas_bf16": "bf16",
    "cublas_fp16": "fp16",
    "cublas_tf32": "tf32",
    "cublas_fp8": "fp8",
    "cublas_int8": "int8",
    "mma_sync_fp16": "mma_sync_fp16",
    "mma_sync_bf16": "mma_sync_bf16",
    "mma_sync_int8": "mma_sync_int8",
}
_TENSOR_16 = ("cublas_fp16", "cublas_bf16", "mma_sync_fp16", "mma_sync_bf16")
# Roof key -> the entries that measure that hardware rate: fp16 and bf16 run at one tensor-core rate, so
# one roof serves both, and the int8 roof is the better of cuBLAS (torch._int_mm) and the suite's own
# mma.sync kernel. A roof is the best sustained rate among them, never a workload's result.
RATE_GROUPS = {
    "fp32": ("fma_fp32",),
    "fp64": ("fma_fp64",),
    "fp16_simt": ("fma_f16x2",),
    "tf32": ("cublas_tf32",),
    "fp8": ("cublas_fp8",),
    "fp16": _TENSOR_16,
    "bf16": _TENSOR_16,
    "int8": ("cublas_int8", "mma_sync_int8"),
    "mma_sync_fp16": ("mma_sync_fp16", "mma_sync_bf16"),
    "mma_sync_bf16": ("mma_sync_fp16", "mma_sync_bf16"),
    "mma_sync_int8": ("mma_sync_int8",),
}
LATENCY_LEVELS = {"latency_l1": "l1", "latency_l2": "l2", "latency_dram": "dram"}
EXPECTED_UNITS = {
    **{name: "GB/s" for name, key in SCALAR_KEYS.items() if key.endswith("_gbs")},
    **{name: "s" for name, key in SCALAR_KEYS.items() if key.endswith("_s")},
    **{name: "TFLOP/s" for name in PEAK_KEYS},
    "cublas_int8": "TOP/s",
    "mma_sync_int8": "TOP/s",
    **{name: "ns" for name in LATENCY_LEVELS},
}


def _roofs(rates: dict[str, float]) -> tuple[dict[str, float], dict[str, str]]:
    """(roof per key, the entry each came from) from each entry's sustained rate (RATE_GROUPS)."""
    peaks, sources = {}, {}
    for key, members in RATE_GROUPS.items():
        measured = {m: rates[m] for m in members if m in rates}
        if measured:
            sources[key] = max(measured, key=measured.get)
            peaks[key] = measured[sources[key]]
    return peaks, sources


def _windows(e: dict[str, Any]) -> tuple[float | None, dict[str, float]]:
    """(burst rate, {window: mean SM clock}) of a rate entry. Entries measured before bench.micro.rates
    have one window, the value's own: its clock is the entry's telemetry's."""
    params = e.get("params") or {}
    burst = (params.get("burst") or {}).get("rate")
    clocks = {w: params[w]["sm_clock_mhz"] for w in ("burst", "sustained")
              if isinstance(params.get(w), dict) and params[w].get("sm_clock_mhz")}  # fmt: skip
    sm = ((e.get("telemetry") or {}).get("sm_clock_mhz") or {}).get("mean")
    if "sustained" not in clocks and "burst" not in params and sm:
        clocks["sustained"] = sm
    return burst, clocks


def build_ceilings(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The "ceilings" mapping from the measured entries (entries without a value are left out)."""
    out: dict[str, Any] = {}
    rates: dict[str, float] = {}
    sustained, burst, clocks, plateaus = {}, {}, {}, {}
    lat_ns: dict[str, float] = {}
    lat_cycles: dict[str, float] = {}
    for e in entries:
        name, value = e["name"], e.get("value")
        if value is None:
            continue
        want = EXPECTED_UNITS.get(name)
        if want is not None and e.get("unit") != want:
            raise CeilingsError(f"entry {name!r} is in {e.get('unit')!r}, expected {want!r}")
        if name in SCALAR_KEYS:
            out[SCALAR_KEYS[name]] = value
            plateau = (e.get("params") or {}).get("plateau")
            if name in ("l1_bandwidth", "l2_bandwidth") and isinstance(plateau, dict):
                plateaus[name.split("_")[0]] = plateau
        elif name in PEAK_KEYS:
            # The value is the rate at the median time after the load (bench.micro.rates): sustained.
            key = PEAK_KEYS[name]
            rates[name] = sustained[key] = value
            b, c = _windows(e)
            if b is not None:
                burst[key] = b
            if c:
                clocks[key] = c
        elif name in LATENCY_LEVELS:
            level = LATENCY_LEVELS[name]
            lat_ns[level] = value
            cycles = (e.get("params") or {}).get("cycles")
            if cycles is not None:
                lat_cycles[level] = cycles
    _dram_roofs(out)
    out["peaks"], sources = _roofs(rates)
    out["peaks_sustained"] = sustained
    held = {k: c["sustained"] for k, c in clocks.items() if "sustained" in c}  # the clock each rate held
    roof_clock = {k: held[PEAK_KEYS[src]] for k, src in sources.items() if PEAK_KEYS[src] in held}
    for key, found in (("peaks_burst", burst), ("peak_sources", sources), ("peak_clocks_mhz", clocks),
                       ("roof_clock_mhz", roof_clock), ("cache_plateaus", plateaus), ("latency_ns", lat_ns),
                       ("latency_cycles", lat_cycles)):
        if found:
            out[key] = found  # fmt: skip
    if "launch_graph_s" in out:
        out["launch_overhead_s"] = out["launch_graph_s"]
        out["launch_overhead_source"] = "cuda_graph_replay_per_launch"
    elif "empty_kernel_device_s" in out:
        out["launch_overhead_s"] = out["empty_kernel_device_s"]
        out["launch_overhead_source"] = "empty_kernel_event_duration"
    return out


def _dram_roofs(out: dict[str, Any]) -> None:
    """The roofline's DRAM roof is the best sustained figure of any access pattern: a kernel whose mix of
    reads and writes suits the memory system better than a copy's must not land above its roof. The
    "copy bandwidth" yardstick is the better of the suite's copy kernel and torch's copy."""
    dram = {
        k: out[k]
        for k in ("dram_read_gbs", "dram_write_gbs", "dram_copy_gbs", "dram_triad_gbs", "dram_copy_torch_gbs")
        if k in out
    }
    if dram:
        best = max(dram, key=dram.get)
        out["dram_gbs"], out["dram_source"] = dram[best], best
    copies = {k: dram[k] for k in ("dram_copy_gbs", "dram_copy_torch_gbs") if k in dram}
    if copies:
        best = max(copies, key=copies.get)
        out["copy_gbs"], out["copy_source"] = copies[best], best


def build_document(
    entries: list[dict[str, Any]],
    sweep: list[dict[str, Any]],
    device: dict[str, Any],
    software: dict[str, Any],
    *,
    cache_sweep: list[dict[str, Any]] | None = None,
    run: dict[str, Any] | None = None,
    skipped: list[dict[str, str]] | None = None,
    failures: list[dict[str, str]] | None = None,
    status: str | None = None,
    created: str | None = None,
    provenance: dict[str, Any] | None = None,
) -> CeilingsFile:
    """The ceilings file of a `gpubench micro` run (validated as it is built)."""
    failures = list(failures or [])
    return parse_ceilings(
        {
            "schema": CEILINGS_SCHEMA,
            "schema_version": CEILINGS_SCHEMA_VERSION,
            "created": created or utc_now(),
            "status": status or ("partial" if failures else "complete"),
            "device": dict(device),
            "software": dict(software),
            "run": dict(run or {}),
            "ceilings": build_ceilings(entries),
            "micro": list(entries),
            "sweep": list(sweep),
            "cache_sweep": list(cache_sweep or []),
            "skipped": list(skipped or []),
            "failures": failures,
            "provenance": provenance,
        },
        "the ceilings being built",
    )
