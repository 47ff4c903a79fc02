"""Place every result on two rooflines: the GPU's datasheet and the ceilings measured on it.

Pure (no torch, no GPU, no `bench` import): the harness calls `annotate` before writing a results file,
and the reports call it again on what they read (it is idempotent), so that a file written before the
ceilings were measured still gets its measured roofline.

For each ok record, `record["roofline"]` becomes
    {"datasheet": Placement | None, "measured": Placement | None}
and a Placement is
    time_s             predicted time (roofline.model.predict, launch overhead included where modelled)
    bound              "memory" or "compute": the ceiling that limits this (flops, bytes) pair
    intensity          FLOP per DRAM byte (the record's flops / bytes)
    attainable_tflops  the roofline's height at that intensity
    lower_bound_s      max(flops / compute peak, bytes / bandwidth): no run can be faster
    fraction_of_bound  lower_bound_s / measured median (1.0 = on the roof)
    predicted_over_measured  time_s / measured median
    violations         roofline.model.check_ceiling on the measured median: a result above a ceiling
                       means the FLOP or byte accounting is wrong (the record is flagged "above_ceiling")
    l2_resident        warm mode with a working set that fits in L2: DRAM is then not the bound, so the
                       memory check uses the L2 ceiling where one is known and is skipped otherwise
    peak_key, peak_tflops, bandwidth_gbs, launch_overhead_s, note
                       what the prediction used (roofline.model.peak_key's rule, from the record's
                       dtype and "uses_tensor_cores"), and why a prediction is one-sided
    ceilings           the label of the ceilings used ("datasheet" or "measured")
Records that are not ok, or that lack FLOP/byte counts or a median, get `roofline = None`.
The flag "above_ceiling" is added or removed to match the violations, so annotating again after fixing
the accounting (or with other ceilings) leaves no stale flag.
"""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any

from gpubench.roofline.model import Ceilings, check_ceiling, predict
from gpubench.roofline.specs import GPUSpec, resolve_spec

CEILINGS_SCHEMA = "gpubench.ceilings"
ABOVE_CEILING = "above_ceiling"
# Relative headroom before a result counts as above a ceiling: timing noise, clocks a little above the
# base the peak assumes. 10x-inflated accounting is far outside it.
TOLERANCE = 0.05

__all__ = [
    "ABOVE_CEILING",
    "CEILINGS_SCHEMA",
    "TOLERANCE",
    "annotate",
    "ceiling_violations",
    "ceilings_for",
    "measured_ceilings_dict",
    "memory_levels",
    "spec_for",
]


def measured_ceilings_dict(measured: Any) -> dict | None:
    """The measured-ceilings dict out of `measured`: None, the dict itself, or a whole ceilings file."""
    if measured is None:
        return None
    if not isinstance(measured, dict):
        raise TypeError(f"measured ceilings must be a dict, got {type(measured).__name__}")
    if measured.get("schema") == CEILINGS_SCHEMA or (
        "ceilings" in measured and isinstance(measured["ceilings"], dict)
    ):
        inner = measured.get("ceilings")
        if not isinstance(inner, dict):
            raise ValueError("ceilings file has no 'ceilings' object")
        return inner
    return measured


def spec_for(doc: dict) -> GPUSpec | None:
    """The datasheet spec of doc["device"] (roofline.specs.resolve_spec: the database entry, or one derived
    from the device's properties with an UnknownGPUWarning); None when not even that is possible."""
    try:
        return resolve_spec(dict(doc.get("device") or {}))
    except (KeyError, ValueError, TypeError, LookupError) as exc:
        name = (doc.get("device") or {}).get("name")
        warnings.warn(f"no datasheet roofline for {name!r}: {exc}", stacklevel=2)
        return None


def ceilings_for(doc: dict, measured: Any = None) -> tuple[Ceilings | None, Ceilings | None]:
    """(datasheet, measured) ceilings for a results document; either may be None.

    Datasheet: from the spec resolved from doc["device"] (see `spec_for`).
    Measured: `measured` (a ceilings dict or a whole ceilings file), else doc["ceilings"]; a dict that
    cannot be read raises ValueError naming the problem.
    """
    spec = spec_for(doc)
    datasheet = Ceilings.from_spec(spec) if spec is not None else None
    raw = measured_ceilings_dict(measured if measured is not None else doc.get("ceilings"))
    measured_c = None
    if raw:
        try:
            measured_c = Ceilings.from_measured(raw)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"measured ceilings cannot be used: {type(exc).__name__}: {exc}") from exc
    return datasheet, measured_c


_LEVEL_NAMES = {"l2": "L2", "smem": "shared", "shared": "shared"}


def memory_levels(ceilings: Ceilings) -> list[tuple[str, float]]:
    """[(level name, GB/s)] of the cache ceilings known beyond DRAM ("L2", "shared"), slowest first."""
    levels = []
    for level, gbs in dict(getattr(ceilings, "cache_gbs", None) or {}).items():
        if isinstance(gbs, (int, float)) and math.isfinite(gbs) and gbs > 0:
            levels.append((_LEVEL_NAMES.get(str(level).lower(), str(level)), float(gbs)))
    return sorted(levels, key=lambda lv: lv[1])


def _finite(x: Any) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _place(rec: dict, ceilings: Ceilings, median: float, l2_bytes: int | None) -> dict:
    flops, nbytes = int(rec["flops"]), int(rec["bytes"])
    tc = bool(rec.get("uses_tensor_cores", False))
    p = predict(flops, nbytes, rec["dtype"], ceilings, uses_tensor_cores=tc)
    resident = bool(rec.get("mode") == "warm" and l2_bytes and nbytes <= l2_bytes)
    violations = check_ceiling(
        median,
        flops,
        nbytes,
        ceilings,
        TOLERANCE,
        dtype=rec["dtype"],
        uses_tensor_cores=tc,
        memory_level="l2" if resident else "dram",  # no L2 roof known: the bandwidth is not checked
    )
    lower = _finite(p.lower_bound_s)
    time_s = _finite(p.time_s)
    return {
        "time_s": time_s,
        "bound": p.bound,
        "intensity": _finite(p.intensity),
        "attainable_tflops": _finite(p.attainable_tflops),
        "lower_bound_s": lower,
        "fraction_of_bound": lower / median if lower is not None else None,
        "predicted_over_measured": time_s / median if time_s is not None else None,
        "violations": list(violations),
        "l2_resident": resident,
        "peak_key": p.peak_key,
        "peak_tflops": _finite(p.peak_tflops),
        "bandwidth_gbs": _finite(p.bandwidth_gbs),
        "launch_overhead_s": _finite(p.launch_overhead_s),
        "note": p.note,
        "ceilings": p.ceilings_label,
    }


def _median(rec: dict) -> float | None:
    med = _finite((rec.get("timing") or {}).get("median"))
    return med if med and med > 0 else None


def annotate(doc: dict, measured: Any = None) -> dict:
    """Fill record["roofline"] for every ok record of `doc` (in place; returns doc). Idempotent.

    `measured`: measured ceilings (dict or whole ceilings file); default doc.get("ceilings").
    """
    datasheet, measured_c = ceilings_for(doc, measured)
    l2_bytes = (doc.get("device") or {}).get("l2_bytes")
    for rec in doc.get("records", []):
        flags = rec.setdefault("flags", [])
        median = _median(rec)
        if rec.get("status") != "ok" or median is None or rec.get("flops") is None or not rec.get("bytes"):
            rec["roofline"] = None
            if ABOVE_CEILING in flags:
                flags.remove(ABOVE_CEILING)
            continue
        try:
            rec["roofline"] = {
                "datasheet": _place(rec, datasheet, median, l2_bytes) if datasheet else None,
                "measured": _place(rec, measured_c, median, l2_bytes) if measured_c else None,
            }
        except (ValueError, TypeError) as exc:  # e.g. negative counts: no placement, and say why
            warnings.warn(f"{_label(rec)}: no roofline placement: {exc}", stacklevel=2)
            rec["roofline"] = None
            continue
        above = any((rec["roofline"][side] or {}).get("violations") for side in ("datasheet", "measured"))
        if above and ABOVE_CEILING not in flags:
            flags.append(ABOVE_CEILING)
        elif not above and ABOVE_CEILING in flags:
            flags.remove(ABOVE_CEILING)
    return doc


def _label(rec: dict) -> str:
    dims = ",".join(f"{k}={v}" for k, v in sorted((rec.get("shape") or {}).items()))
    return f"{rec.get('workload')}/{rec.get('variant')}[{dims}|{rec.get('dtype')}|{rec.get('mode')}]"


def ceiling_violations(doc: dict, measured: Any = None) -> list[str]:
    """Every ceiling violation in `doc`, one line each: "<record>: <datasheet|measured>: <what>".

    Uses the stored annotations when every ok record has them (and no `measured` is given); otherwise
    annotates a copy, leaving `doc` untouched.
    """
    ok = [r for r in doc.get("records", []) if r.get("status") == "ok"]
    if measured is not None or any(r.get("roofline") is None and r.get("bytes") for r in ok):
        doc = annotate(copy.deepcopy(doc), measured)
        ok = [r for r in doc.get("records", []) if r.get("status") == "ok"]
    out = []
    for rec in ok:
        for side in ("datasheet", "measured"):
            for v in ((rec.get("roofline") or {}).get(side) or {}).get("violations") or []:
                out.append(f"{_label(rec)}: {side}: {v}")
    return out
