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
}
LATENCY_LEVELS = {"latency_l1": "l1", "latency_l2": "l2", "latency_dram": "dram"}
EXPECTED_UNITS = {
    **{name: "GB/s" for name, key in SCALAR_KEYS.items() if key.endswith("_gbs")},
    **{name: "s" for name, key in SCALAR_KEYS.items() if key.endswith("_s")},
    **{name: "TFLOP/s" for name in PEAK_KEYS},
    "cublas_int8": "TOP/s",
    **{name: "ns" for name in LATENCY_LEVELS},
}


def build_ceilings(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The "ceilings" mapping from the measured entries (entries without a value are left out)."""
    out: dict[str, Any] = {}
    peaks: dict[str, float] = {}
    sustained: dict[str, float] = {}
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
        elif name in PEAK_KEYS:
            # The roof is the best observed rate (an upper bound is what a ceiling is for); the median
            # rate is kept as the sustained one. Under back-to-back load the power cap pulls the clock
            # down: cuBLAS bf16 8192^3 on an H100 gave 790 TFLOP/s at best, 703 at the median over 1 s.
            timing = (e.get("params") or {}).get("timing") or {}
            med, best = timing.get("median_s"), timing.get("min_s")
            key = PEAK_KEYS[name]
            sustained[key] = value
            peaks[key] = value * med / best if med and best and best > 0 else value
        elif name in LATENCY_LEVELS:
            level = LATENCY_LEVELS[name]
            lat_ns[level] = value
            cycles = (e.get("params") or {}).get("cycles")
            if cycles is not None:
                lat_cycles[level] = cycles
    # The roofline's DRAM roof is the best sustained figure of any access pattern: a kernel whose mix of
    # reads and writes suits the memory system better than a copy's must not land above its roof. The
    # "copy bandwidth" yardstick is the better of the suite's copy kernel and torch's copy.
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
    out["peaks"] = peaks
    out["peaks_sustained"] = sustained
    if "launch_graph_s" in out:
        out["launch_overhead_s"] = out["launch_graph_s"]
        out["launch_overhead_source"] = "cuda_graph_replay_per_launch"
    elif "empty_kernel_device_s" in out:
        out["launch_overhead_s"] = out["empty_kernel_device_s"]
        out["launch_overhead_source"] = "empty_kernel_event_duration"
    if lat_ns:
        out["latency_ns"] = lat_ns
    if lat_cycles:
        out["latency_cycles"] = lat_cycles
    return out


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
        },
        "the ceilings being built",
    )
