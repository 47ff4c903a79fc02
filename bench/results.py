"""Results files: the versioned, self-describing interface between measuring and reporting.

Pure Python (no torch): the reports and the gate read these files on machines without a GPU.

Layout (JSON, schema "gpubench.results", version SCHEMA_VERSION):
    {
      "schema": "gpubench.results", "schema_version": 1,
      "created": ISO-8601 UTC, "synthetic": bool,     # synthetic: generated samples, not a measurement
      "status": "complete" | "partial" | "interrupted",
      "run": {"profile", "modes", "workloads", "argv", "host", "started", "finished", "notes"},
      "device": {"name", "uuid", "sm_count", "l2_bytes", "compute_capability", "memory_bytes",
                 "sm_clock_max_mhz", "mem_clock_max_mhz", "mem_bus_width_bits", "driver", "cuda", ...},
      "software": {"python", "torch", "triton", "cupy", "suite_version", "suite_commit", ...},
      "records": [Record, ...]
    }
A record is one (workload, variant, shape, dtype, mode); see `new_record`. Times are in seconds.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable
from datetime import UTC
from pathlib import Path
from typing import Any

SCHEMA = "gpubench.results"
SCHEMA_VERSION = 1
STATUSES = ("ok", "failed", "skipped")
MODES = ("cold", "warm")


class ResultsError(ValueError):
    """A results file that cannot be used: missing, truncated, foreign, or of another schema version."""


def new_record(
    workload: str,
    variant: str,
    backend: str,
    shape: dict[str, int],
    dtype: str,
    mode: str,
    *,
    status: str = "ok",
    reason: str | None = None,
    flops: int | None = None,
    bytes: int | None = None,
) -> dict[str, Any]:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return {
        "workload": workload,
        "variant": variant,
        "backend": backend,
        "shape": dict(shape),
        "dtype": dtype,
        "mode": mode,
        "status": status,
        "reason": reason,
        "flops": flops,
        "bytes": bytes,
        "correctness": None,  # {"checked": bool, "max_abs_err", "max_rel_err", "atol", "rtol"}
        "timing": None,  # see bench.stats.summarize, plus "method", "samples", "stop_reason"
        "achieved": None,  # {"tflops", "gbs"}
        "telemetry": None,  # see bench.telemetry
        "flags": [],  # e.g. "throttled", "clock_sagged", "launch_gaps", "above_ceiling"
        "roofline": None,  # {"datasheet": prediction, "measured": prediction}
    }


def record_key(rec: dict[str, Any]) -> tuple:
    """Identity of a record across runs: what the gate and the comparison match on."""
    return (rec["workload"], rec["variant"], tuple(sorted(rec["shape"].items())), rec["dtype"], rec["mode"])


def key_label(key: tuple) -> str:
    workload, variant, shape, dtype, mode = key
    dims = ",".join(f"{k}={v}" for k, v in shape)
    return f"{workload}/{variant}[{dims}|{dtype}|{mode}]"


def new_document(device: dict, software: dict, run: dict, *, synthetic: bool = False) -> dict[str, Any]:
    from datetime import datetime

    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "synthetic": bool(synthetic),
        "status": "partial",
        "run": dict(run),
        "device": dict(device),
        "software": dict(software),
        "records": [],
    }


def _clean(obj):
    """JSON cannot hold NaN/inf: store them as null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def write(doc: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write atomically: a reader never sees a half-written file, a crash leaves the old one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(_clean(doc), f, indent=1, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate a results file; ResultsError says exactly what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ResultsError(f"{path}: no such results file")
    text = path.read_text()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON (truncated or corrupt?): {exc}") from None
    validate(doc, str(path))
    return doc


def validate(doc: Any, where: str = "results") -> None:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ResultsError(f"{where}: not a gpubench results file (schema {found!r}, expected {SCHEMA!r})")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultsError(
            f"{where}: schema version {version!r}, but this gpubench reads version {SCHEMA_VERSION}; "
            "re-run the benchmark or use the matching gpubench release"
        )
    for field in ("device", "software", "run", "records"):
        if field not in doc:
            raise ResultsError(f"{where}: missing {field!r}")
    if not isinstance(doc["records"], list):
        raise ResultsError(f"{where}: 'records' must be a list")
    for i, rec in enumerate(doc["records"]):
        for field in ("workload", "variant", "shape", "dtype", "mode", "status"):
            if field not in rec:
                raise ResultsError(f"{where}: record {i} lacks {field!r}")
        if rec["status"] == "ok":
            timing = rec.get("timing") or {}
            if not timing.get("samples"):
                raise ResultsError(
                    f"{where}: record {i} ({rec['workload']}/{rec['variant']}) is ok but has no samples"
                )


def ok_records(doc: dict[str, Any]) -> Iterable[dict[str, Any]]:
    return (r for r in doc["records"] if r["status"] == "ok")


def device_model(doc: dict[str, Any]) -> str:
    return (doc.get("device") or {}).get("name") or "unknown"
