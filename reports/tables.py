"""Tables for the report: one per workload, fused against unfused, micro-benchmarks against the datasheet.

The data comes from reports.frames (pandas: placement, best variant, order, fusion pairs); this module
only turns it into cells (reports.table_model, rendered to HTML by the template and to markdown by
`to_markdown`). Every record of a results file is one row of its workload's table (failed and skipped
ones with their reason).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gpubench.fmt import (
    DASH,
    finite,
    fmt_bytes,
    fmt_dim,
    fmt_pct,
    fmt_shape,
    fmt_sig,
    fmt_time,
    shape_label,
    slug,
)  # fmt: skip
from gpubench.reports.frames import fusion_frame, micro_frame, placed_frame, table_order
from gpubench.reports.table_model import Cell, Column, Row, Table, to_markdown
from gpubench.results import CeilingsFile, MicroEntry, Record, Run
from gpubench.roofline.placement import PlacedRun

__all__ = ["fusion_tables", "header_facts", "micro_table", "to_markdown", "workload_tables"]

# Flags that are information, not a warning; every other flag is highlighted.
QUIET_FLAGS = {"synthetic"}
# Flags that mean the number itself is suspect.
BAD_FLAGS = {"above_ceiling"}


def _flag_badges(flags: list[str]) -> list[tuple[str, str]]:
    return [
        (f, "flag-quiet" if f in QUIET_FLAGS else "flag-bad" if f in BAD_FLAGS else "flag-warn")
        for f in flags
    ]


# ----------------------------------------------------------------------------------------- header


def header_facts(run: Run) -> list[tuple[str, str]]:
    """(label, value) pairs for a results file's header; missing values say so."""
    dev, sw, info = run.device, run.software, run.run
    counts = {s: sum(r.status == s for r in run.records) for s in ("ok", "failed", "skipped")}
    details = [
        f"{dev.sm_count} SMs" if dev.sm_count else "",
        f"L2 {fmt_bytes(dev.l2_bytes)}" if dev.l2_bytes else "",
        fmt_bytes(dev.memory_bytes) if dev.memory_bytes else "",
        f"cc {dev.compute_capability}" if dev.compute_capability else "",
    ]
    details = [d for d in details if d]
    commit = sw.suite_commit or "unknown"
    if sw.suite_version:
        commit = f"{commit} (gpubench {sw.suite_version})"
    modes = f" (modes: {', '.join(info.modes)})" if info.modes else ""
    facts = [
        ("GPU", run.gpu + (f" — {', '.join(details)}" if details else "")),
        ("GPU UUID", dev.uuid or "unknown"),
        ("driver", dev.driver or "unknown"),
        ("CUDA", dev.cuda or "unknown"),
        ("torch", sw.torch or DASH),
        ("triton", sw.triton or DASH),
        ("cupy", sw.cupy or DASH),
        ("python", sw.python or DASH),
        ("suite commit", commit),
        ("date", run.created or info.started or "unknown"),
        ("profile", (info.profile or "unknown") + modes),
        ("status", run.status),
        (
            "records",
            f"{len(run.records)}: {counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped",
        ),
    ]
    return facts + ([("file", run.path)] if run.path else [])


# ----------------------------------------------------------------------------------------- workloads

RESULT_COLUMNS = [
    Column("variant"),
    Column("shape"),
    Column("dtype"),
    Column("mode"),
    Column("median", num=True, title="median device time per call"),
    Column("IQR", "% of median", num=True, title="inter-quartile range relative to the median"),
    Column("±CI", "95%, median", num=True, title="relative half-width of the median's 95% interval"),
    Column("n", num=True, title="samples"),
    Column("TFLOP/s", num=True),
    Column("GB/s", num=True, title="compulsory DRAM bytes / median time"),
    Column("limit", title="the term of the performance model that limits this record (hover: every term)"),
    Column("% of bound", "datasheet", num=True, title="roofline lower-bound time / measured time"),
    Column("% of bound", "measured", num=True, title="same, on the ceilings measured on this GPU"),
    Column("predicted", "datasheet", num=True, title="predicted time (predicted / measured)"),
    Column("predicted", "measured", num=True, title="predicted time (predicted / measured)"),
    Column("flags"),
    Column("stop", title="why sampling stopped"),
]
_N_FIXED = 4  # variant, shape, dtype, mode: the columns a failed/skipped row keeps


def _bound_cells(row: pd.Series, placed: PlacedRun, rec: Record) -> list[Cell]:
    p = placed.of(rec)
    cells = []
    for side in ("datasheet", "measured"):
        s = p.side(side) if p is not None else None
        if s is None:
            cells.append(Cell(DASH, "num muted", f"no {side} ceilings"))
            continue
        frac = finite(s.fraction_of_bound)
        cls = "num bad" if s.violations else "num good" if frac is not None and frac >= 0.8 else "num"
        title = f"{s.bound}-bound on {s.ceilings}; lower bound {fmt_time(s.lower_bound_s)}"
        if s.l2_resident:
            title += "; warm and L2-resident: DRAM is not the limit"
        if s.violations:
            title += "; ABOVE CEILING: " + "; ".join(s.violations)
        cells.append(Cell(fmt_pct(frac), cls, title))
    for side in ("datasheet", "measured"):
        s = p.side(side) if p is not None else None
        if s is None:
            cells.append(Cell(DASH, "num muted", f"no {side} ceilings"))
            continue
        ratio = finite(s.predicted_over_measured)
        text = fmt_time(s.time_s) + (f" ({ratio:.2f}×)" if ratio is not None else "")
        cells.append(Cell(text, "num", "predicted (predicted / measured)"))
    return cells


def _telemetry_title(rec: Record) -> str:
    tel = rec.telemetry
    if tel is None:
        return ""
    if not tel.available:
        return f"telemetry unavailable: {tel.reason or 'unknown'}"
    bits = []
    if tel.sm_clock_mhz:
        c = tel.sm_clock_mhz
        bits.append(f"SM clock {c.min:g}/{fmt_sig(c.mean, 4)}/{c.max:g} MHz (min/mean/max)")
    if tel.power_w:
        source = f" ({tel.power_source})" if tel.power_source else ""
        bits.append(f"power {fmt_sig(tel.power_w.mean)} W{source}")
    if tel.power_from_energy_w:
        bits.append(f"power from energy {fmt_sig(tel.power_from_energy_w)} W")
    if tel.temperature_c:
        bits.append(f"temperature {fmt_sig(tel.temperature_c.max)} °C")
    if tel.throttle_reasons:
        bits.append("throttle: " + ", ".join(tel.throttle_reasons))
    return "; ".join(bits)


def _flag_cell(row: pd.Series, placed: PlacedRun, rec: Record) -> Cell:
    badges = _flag_badges(placed.flags(rec))
    if row["l2_resident"]:
        badges.append(("L2-resident", "flag-quiet"))
    return Cell("", "flags", _telemetry_title(rec), badges=badges)


def _limit_cell(placed: PlacedRun, rec: Record) -> Cell:
    p = placed.of(rec)
    limit, side = p.limit if p is not None else (None, None)
    if limit is None:
        return Cell(DASH, "muted")
    terms = ", ".join(f"{k} {fmt_time(v)}" for k, v in sorted(side.terms.items(), key=lambda kv: -kv[1]))
    return Cell(limit, "", f"{side.ceilings} ceilings: {terms}")


def _ok_cells(row: pd.Series, placed: PlacedRun, rec: Record) -> list[Cell]:
    t = rec.timing
    spread = ", ".join(f"{k} {fmt_time(getattr(t, k))}" for k in ("min", "q1", "q3", "max"))
    med = Cell(fmt_time(t.median), "num best" if row["best"] else "num", f"{spread}; method: {t.method}")
    return [
        med,
        Cell(fmt_pct(t.iqr / t.median), "num", f"IQR {fmt_time(t.iqr)}"),
        Cell("±" + fmt_pct(t.rel_ci, 2) if finite(t.rel_ci) is not None else DASH, "num"),
        Cell(str(t.n), "num"),
        Cell(fmt_sig(rec.achieved_tflops), "num"),
        Cell(fmt_sig(rec.achieved_gbs, 4), "num"),
        _limit_cell(placed, rec),
        *_bound_cells(row, placed, rec),
        _flag_cell(row, placed, rec),
        Cell(t.stop_reason, "muted"),
    ]


def _not_ok_cells(rec: Record) -> list[Cell]:
    span = len(RESULT_COLUMNS) - _N_FIXED - 2
    return [
        Cell(
            f"{rec.status.upper()}: {rec.reason or 'no reason recorded'}",
            f"reason status-{rec.status}",
            colspan=span,
        ),
        Cell("", "flags", badges=_flag_badges(rec.flags)),
        Cell(DASH, "muted"),
    ]


def workload_tables(placed: PlacedRun, anchor_prefix: str = "") -> list[Table]:
    """One table per workload, in the order the file lists them; every record is one row."""
    df = placed_frame(placed)
    tables = []
    for workload, part in df.groupby("workload", sort=False):
        if any(placed.run.records[int(p)].collective is not None for p in part["pos"]):
            continue  # a collective's records: reports.comm_report's table
        rows = []
        for _, row in table_order(part).iterrows():
            rec = placed.run.records[int(row["pos"])]
            fixed = [
                Cell(rec.variant, "variant", f"{rec.backend} — {rec.description}".strip(" —")),
                Cell(fmt_shape(rec.shape), "shape", shape_label(rec.shape, ", ")),
                Cell(rec.dtype),
                Cell(rec.mode),
            ]
            rest = _ok_cells(row, placed, rec) if rec.ok else _not_ok_cells(rec)
            rows.append(Row(fixed + rest, rec.status, rec.label))
        n_ok = sum(r.status == "ok" for r in rows)
        note = f"{len(rows)} records: {n_ok} ok" + (
            f", {len(rows) - n_ok} failed or skipped" if n_ok < len(rows) else ""
        )
        tables.append(
            Table(str(workload), slug(f"{anchor_prefix}-{workload}"), list(RESULT_COLUMNS), rows, note)
        )
    return tables


# ----------------------------------------------------------------------------------------- fusion

FUSION_COLUMNS = [
    Column("shape"),
    Column("dtype"),
    Column("mode"),
    Column("fused variant"),
    Column("fused", "median", num=True),
    Column("unfused", "median", num=True),
    Column("measured speedup", "unfused / fused", num=True),
    Column("unfused bytes", num=True),
    Column("fused bytes", num=True),
    Column("analytical ratio", "bytes", num=True, title="unfused DRAM bytes / fused DRAM bytes"),
    Column("speedup / ratio", num=True, title="how much of the analytical saving the measurement shows"),
]


def _ops_text(ops: Any) -> str:
    if not isinstance(ops, list):
        return ""
    return "; ".join(
        f"{o[0]}: {fmt_bytes(o[1])}" if isinstance(o, (list, tuple)) and len(o) == 2 else str(o) for o in ops
    )


def fusion_tables(placed: PlacedRun, anchor_prefix: str = "") -> list[Table]:
    pairs = fusion_frame(placed)
    tables = []
    for workload, part in pairs.groupby("workload", sort=False) if not pairs.empty else ():
        rows = []
        for _, r in part.iterrows():
            speedup, ratio = finite(r["speedup"]), finite(r["ratio"])
            ops = _ops_text(r["ops"])
            cells = [
                Cell(fmt_shape(placed.run.records[int(r["pos"])].shape), "shape"),
                Cell(r["dtype"]),
                Cell(r["mode"]),
                Cell(r["variant"], "variant"),
                Cell(fmt_time(r["median_s"]), "num"),
                Cell(fmt_time(r["median_s_unfused"]), "num"),
                Cell(
                    f"{speedup:.2f}×" if speedup else DASH, "num best" if speedup and speedup > 1 else "num"
                ),
                Cell(fmt_bytes(r["unfused_bytes"]), "num", f"unfused ops: {ops}" if ops else ""),
                Cell(fmt_bytes(r["fused_bytes"]), "num"),
                Cell(f"{ratio:.2f}×" if ratio else DASH, "num"),
                Cell(fmt_pct(r["of_ratio"], 0), "num"),
            ]
            rows.append(Row(cells, "ok", r["label"]))
        note = (
            "measured speedup = unfused median / fused median; analytical ratio from the harness's byte "
            "accounting (record extra.fusion) where recorded"
        )
        title = f"{workload}: fused vs unfused"
        tables.append(
            Table(
                title, slug(f"{anchor_prefix}-{workload}-fusion"), list(FUSION_COLUMNS), rows, note, "fusion"
            )
        )
    return tables


# ----------------------------------------------------------------------------------------- micro-benchmarks

MICRO_COLUMNS = [
    Column("benchmark"),
    Column("measured", num=True),
    Column("unit"),
    Column("datasheet", num=True),
    Column("% of datasheet", num=True),
    Column("flags"),
    Column("details"),
]


def _detail(v: Any) -> str:
    if isinstance(v, float):
        return fmt_sig(v, 4)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_detail(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_detail(x) for x in v[:8]) + (", …" if len(v) > 8 else "") + "]"
    return str(v)


def _micro_details(m: MicroEntry) -> str:
    """Method, scalar parameters and the timing summary; raw samples and nested telemetry stay out."""
    bits = [f"method: {m.method}"] if m.method else []
    for k, v in m.params.items():
        if isinstance(v, (int, float, str, bool)):
            bits.append(
                f"{k}: {fmt_dim(v) if isinstance(v, int) and not isinstance(v, bool) else _detail(v)}"
            )
    timing = m.params.get("timing") if isinstance(m.params.get("timing"), dict) else {}
    if timing:
        t = [f"{k} {timing[k]}" for k in ("mode", "n", "stop_reason") if timing.get(k) is not None]
        if finite(timing.get("rel_ci")) is not None:
            t.append(f"±{fmt_pct(timing['rel_ci'], 2)}")
        bits.append("timing: " + ", ".join(t))
    bits += [f"{k}: {_detail(v)}" for k, v in m.extra.items() if v is not None]
    return "; ".join(bits)


def _micro_value(v: Any, unit: str) -> str:
    return fmt_time(v) if unit == "s" else fmt_sig(v, 4)


def micro_table(ceilings: CeilingsFile, anchor_prefix: str = "") -> Table:
    """The micro-benchmark figures of a ceilings file against the datasheet."""
    rows = []
    for m, (_, r) in zip(ceilings.micro, micro_frame(ceilings).iterrows()):
        pct = finite(r["pct"])
        cls = "num" + ((" bad" if pct > 105 else " good" if pct >= 85 else "") if pct is not None else "")
        cells = [
            Cell(m.name, "variant"),
            Cell(_micro_value(m.value, m.unit), "num"),
            Cell(m.unit if m.unit != "s" else "time"),
            Cell(_micro_value(m.datasheet, m.unit), "num"),
            Cell(f"{pct:.1f}%" if pct is not None else DASH, cls),
            Cell("", "flags", badges=_flag_badges(m.flags)),
            Cell(_micro_details(m), "muted details"),
        ]
        rows.append(Row(cells, key=m.name))
    if not rows:  # no itemised figures: show the ceilings themselves
        for k, v in ceilings.ceilings.to_json().items():
            if v not in (None, {}, []):
                rows.append(Row([Cell(k, "variant"), Cell(_detail(v), "num")] + [Cell("")] * 5, key=k))
    anchor = slug(f"{anchor_prefix}-micro")
    return Table(f"micro-benchmarks on {ceilings.gpu}", anchor, list(MICRO_COLUMNS), rows, row_class="micro")


# ----------------------------------------------------------------------------------------- markdown
