"""Runs as long-format pandas DataFrames: one row per record (or per sample), shape axes as columns.

pandas is imported here only, when a frame is asked for: reading and writing results needs none.
"""

from __future__ import annotations

from typing import Any

from gpubench.fmt import shape_label

__all__ = ["RECORD_COLUMNS", "to_frame"]

# The fixed columns of the record frame, in order; shape axes follow `shape`.
RECORD_COLUMNS = (
    "gpu", "gpu_uuid", "commit", "created", "workload", "variant", "backend", "dtype", "mode",
    "status", "reason", "shape",
)  # fmt: skip
_STAT_COLUMNS = (
    "flops", "bytes", "uses_tensor_cores", "n_samples", "median_s", "q1_s", "q3_s", "iqr_s", "min_s",
    "max_s", "mean_s", "stdev_s", "cv", "rel_ci", "tflops", "gbs", "method", "stop_reason", "flags",
    "sm_clock_min_mhz", "sm_clock_mean_mhz", "mem_clock_mean_mhz", "power_mean_w", "power_max_w",
    "temperature_max_c", "energy_j", "throttle_reasons", "power_from_energy_w", "sustained_median_s",
    "ncu_time_s", "ncu_dram_bytes", "event_over_ncu", "accounted_over_dram", "algbw_GBps", "busbw_GBps",
    "wrong",
)  # fmt: skip


def _axis_column(axis: str) -> str:
    """Shape axes are plain columns unless the name is taken by a fixed one."""
    return f"shape_{axis}" if axis in RECORD_COLUMNS or axis in _STAT_COLUMNS else axis


def _telemetry_cells(rec) -> dict[str, Any]:
    tel = rec.telemetry
    if tel is None or not tel.available:
        return {}
    pick = lambda spread, attr: getattr(spread, attr) if spread is not None else None  # noqa: E731
    return {
        "sm_clock_min_mhz": pick(tel.sm_clock_mhz, "min"),
        "sm_clock_mean_mhz": pick(tel.sm_clock_mhz, "mean"),
        "mem_clock_mean_mhz": pick(tel.mem_clock_mhz, "mean"),
        "power_mean_w": pick(tel.power_w, "mean"),
        "power_max_w": pick(tel.power_w, "max"),
        "temperature_max_c": pick(tel.temperature_c, "max"),
        "energy_j": tel.energy_j,
        "throttle_reasons": ";".join(tel.throttle_reasons),
        "power_from_energy_w": tel.power_from_energy_w,
    }


def _checks_cells(rec) -> dict[str, Any]:
    """The record against other measurements of it: after a load (--sustained), under Nsight Compute."""
    out: dict[str, Any] = {}
    if rec.sustained is not None:
        out["sustained_median_s"] = rec.sustained.timing.median
    prof = rec.ncu
    if prof is not None and prof.available:
        out["ncu_time_s"], out["ncu_dram_bytes"] = prof.time_s, prof.dram_bytes
        out["event_over_ncu"] = prof.event_over_ncu(rec.median)
        out["accounted_over_dram"] = prof.accounted_over_dram(rec.bytes)
    return out


def _row(run, rec) -> dict[str, Any]:
    row: dict[str, Any] = {
        "gpu": run.gpu,
        "gpu_uuid": rec.gpu_uuid or run.device.uuid,
        "commit": run.software.suite_commit,
        "created": run.created,
        "workload": rec.workload,
        "variant": rec.variant,
        "backend": rec.backend,
        "dtype": rec.dtype,
        "mode": rec.mode,
        "status": rec.status,
        "reason": rec.reason,
        "shape": shape_label(rec.shape),
    }
    row.update({_axis_column(k): v for k, v in rec.shape.items()})
    row.update(flops=rec.flops, bytes=rec.bytes, uses_tensor_cores=rec.uses_tensor_cores)
    row["flags"] = ";".join(rec.flags)
    t = rec.timing
    if t is not None:
        row.update(
            n_samples=t.n, median_s=t.median, q1_s=t.q1, q3_s=t.q3, iqr_s=t.iqr, min_s=t.min, max_s=t.max,
            mean_s=t.mean, stdev_s=t.stdev, cv=t.cv, rel_ci=t.rel_ci, method=t.method,
            stop_reason=t.stop_reason, tflops=rec.achieved_tflops, gbs=rec.achieved_gbs,
        )  # fmt: skip
    if rec.collective is not None:  # nccl-tests' columns for a collective
        row.update(algbw_GBps=rec.algbw_gbps, busbw_GBps=rec.busbw_gbps, wrong=rec.collective.wrong)
    row.update(_telemetry_cells(rec))
    row.update(_checks_cells(rec))
    return row


def to_frame(run, samples: bool = False):
    """One row per record (`samples=False`), or one per (record, sample) with `sample` and `time_s`."""
    import pandas as pd

    rows = []
    axes: dict[str, None] = {}
    for rec in run.records:
        base = _row(run, rec)
        axes.update({_axis_column(k): None for k in rec.shape})
        if not samples:
            rows.append(base)
            continue
        for i, x in enumerate(rec.timing.samples if rec.timing is not None else ()):
            rows.append({**{k: base[k] for k in (*RECORD_COLUMNS, *map(_axis_column, rec.shape))},
                         "sample": i, "time_s": x})  # fmt: skip
    columns = [*RECORD_COLUMNS, *axes]
    columns += ["sample", "time_s"] if samples else list(_STAT_COLUMNS)
    return pd.DataFrame(rows, columns=columns)
