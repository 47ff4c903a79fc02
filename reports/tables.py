"""Tables for the report: one per workload, the fused-vs-unfused comparison, micro-benchmarks vs datasheet.

Tables are plain data (`Table` of `Row`s of `Cell`s) rendered to HTML by the template and to markdown
by `to_markdown`, so the page and summary.md always show the same numbers. Nothing is dropped: every
record of a results file is one row of its workload's table (failed and skipped ones with their reason).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Flags that are information, not a warning; every other flag is highlighted.
QUIET_FLAGS = {"synthetic"}
# Flags that mean the number itself is suspect.
BAD_FLAGS = {"above_ceiling"}


@dataclass
class Cell:
    text: str = ""
    cls: str = ""  # CSS classes: num, best, muted, warn, bad, status-failed, ...
    title: str = ""  # hover text with the details
    colspan: int = 1
    badges: list[tuple[str, str]] = field(default_factory=list)  # (text, css class), e.g. flags

    def plain(self) -> str:
        parts = [self.text] if self.text else []
        parts += [b for b, _ in self.badges]
        return ", ".join(parts)


@dataclass
class Column:
    name: str
    sub: str = ""  # second header line, smaller
    num: bool = False
    title: str = ""


@dataclass
class Row:
    cells: list[Cell]
    status: str = "ok"
    key: str = ""  # the record's identity (workload/variant[shape|dtype|mode])


@dataclass
class Table:
    title: str
    anchor: str
    columns: list[Column]
    rows: list[Row]
    note: str = ""
    row_class: str = "rec"  # "rec" marks rows that are results records (one per record)


# ----------------------------------------------------------------------------------------- formatting


def _finite(x: Any) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt_sig(x: Any, digits: int = 3) -> str:
    """A number with `digits` significant digits, thousands separated, no exponent for everyday sizes."""
    x = _finite(x)
    if x is None:
        return "—"
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    if mag >= 9 or mag < -4:
        return f"{x:.{digits - 1}e}"
    decimals = max(0, digits - 1 - mag)
    return f"{x:,.{decimals}f}"


def fmt_time(seconds: Any) -> str:
    """Human time: 812 ns, 41.2 µs, 3.07 ms, 1.20 s."""
    s = _finite(seconds)
    if s is None:
        return "—"
    a = abs(s)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if a >= scale:
            return f"{fmt_sig(s / scale)} {unit}"
    return f"{fmt_sig(s / 1e-9)} ns"


def fmt_pct(fraction: Any, digits: int = 1) -> str:
    f = _finite(fraction)
    return "—" if f is None else f"{100 * f:.{digits}f}%"


def fmt_bytes(n: Any) -> str:
    x = _finite(n)
    if x is None:
        return "—"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(x) >= scale:
            return f"{fmt_sig(x / scale)} {unit}"
    return f"{int(x)} B"


def fmt_dim(v: Any) -> str:
    """Shape values: large powers of two as 2^k, other large numbers with separators."""
    if isinstance(v, bool) or not isinstance(v, int):
        return str(v)
    if v >= 1 << 16 and v & (v - 1) == 0:
        return f"2^{v.bit_length() - 1}"
    return f"{v:,}" if v >= 100_000 else str(v)


def fmt_shape(shape: dict | None) -> str:
    return " ".join(f"{k}={fmt_dim(v)}" for k, v in (shape or {}).items()) or "—"


def record_label(rec: dict) -> str:
    dims = ",".join(f"{k}={v}" for k, v in sorted((rec.get("shape") or {}).items()))
    return f"{rec.get('workload')}/{rec.get('variant')}[{dims}|{rec.get('dtype')}|{rec.get('mode')}]"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"


# ----------------------------------------------------------------------------------------- header


def header_facts(doc: dict, path: str = "") -> list[tuple[str, str]]:
    """(label, value) pairs for a results file's header; missing values say so."""
    dev = doc.get("device") or {}
    sw = doc.get("software") or {}
    run = doc.get("run") or {}
    recs = doc.get("records") or []
    counts = {s: sum(1 for r in recs if r.get("status") == s) for s in ("ok", "failed", "skipped")}
    gpu = str(dev.get("name") or "unknown GPU")
    details = []
    if dev.get("sm_count"):
        details.append(f"{dev['sm_count']} SMs")
    if dev.get("l2_bytes"):
        details.append(f"L2 {fmt_bytes(dev['l2_bytes'])}")
    if dev.get("memory_bytes"):
        details.append(f"{fmt_bytes(dev['memory_bytes'])}")
    if dev.get("compute_capability"):
        details.append(f"cc {dev['compute_capability']}")
    commit = sw.get("suite_commit") or "unknown"
    if sw.get("suite_version"):
        commit = f"{commit} (gpubench {sw['suite_version']})"
    modes = run.get("modes")
    facts = [
        ("GPU", gpu + (f" — {', '.join(details)}" if details else "")),
        ("driver", str(dev.get("driver") or "unknown")),
        ("CUDA", str(dev.get("cuda") or sw.get("cuda") or "unknown")),
        ("torch", str(sw.get("torch") or "—")),
        ("triton", str(sw.get("triton") or "—")),
        ("cupy", str(sw.get("cupy") or "—")),
        ("python", str(sw.get("python") or "—")),
        ("suite commit", str(commit)),
        ("date", str(doc.get("created") or run.get("started") or "unknown")),
        (
            "profile",
            str(run.get("profile") or "unknown") + (f" (modes: {', '.join(modes)})" if modes else ""),
        ),
        ("status", str(doc.get("status") or "unknown")),
        (
            "records",
            f"{len(recs)}: {counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped",
        ),
    ]
    if path:
        facts.append(("file", path))
    return facts


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
    Column("bound", title="what limits this (flops, bytes) on the datasheet roofline"),
    Column("% of bound", "datasheet", num=True, title="roofline lower-bound time / measured time"),
    Column("% of bound", "measured", num=True, title="same, on the ceilings measured on this GPU"),
    Column("predicted", "datasheet", num=True, title="predicted time (predicted / measured)"),
    Column("predicted", "measured", num=True, title="predicted time (predicted / measured)"),
    Column("flags"),
    Column("stop", title="why sampling stopped"),
]
_N_FIXED = 4  # variant, shape, dtype, mode: the columns a failed/skipped row keeps


def _placement(rec: dict, side: str) -> dict | None:
    return ((rec.get("roofline") or {}).get(side)) or None


def _bound_cells(rec: dict) -> list[Cell]:
    cells = []
    for side in ("datasheet", "measured"):
        p = _placement(rec, side)
        if not p:
            cells.append(Cell("—", "num muted", f"no {side} ceilings"))
            continue
        frac = _finite(p.get("fraction_of_bound"))
        cls = "num"
        if p.get("violations"):
            cls += " bad"
        elif frac is not None and frac >= 0.8:
            cls += " good"
        title = f"{p.get('bound')}-bound on {p.get('ceilings') or side}"
        title += f"; lower bound {fmt_time(p.get('lower_bound_s'))}"
        if p.get("l2_resident"):
            title += "; warm and L2-resident: DRAM is not the limit"
        if p.get("violations"):
            title += "; ABOVE CEILING: " + "; ".join(p["violations"])
        cells.append(Cell(fmt_pct(frac), cls, title))
    for side in ("datasheet", "measured"):
        p = _placement(rec, side)
        if not p:
            cells.append(Cell("—", "num muted", f"no {side} ceilings"))
            continue
        ratio = _finite(p.get("predicted_over_measured"))
        text = fmt_time(p.get("time_s")) + (f" ({ratio:.2f}×)" if ratio is not None else "")
        cells.append(Cell(text, "num", "predicted (predicted / measured)"))
    return cells


def _flag_cell(rec: dict) -> Cell:
    badges = []
    for f in rec.get("flags") or []:
        cls = "flag-quiet" if f in QUIET_FLAGS else "flag-bad" if f in BAD_FLAGS else "flag-warn"
        badges.append((str(f), cls))
    ds = _placement(rec, "datasheet") or {}
    if ds.get("l2_resident"):
        badges.append(("L2-resident", "flag-quiet"))
    tel = rec.get("telemetry") or {}
    title = ""
    if tel.get("available"):
        clk = tel.get("sm_clock_mhz") or {}
        bits = []
        if clk:
            bits.append(
                f"SM clock {clk.get('min')}/{fmt_sig(clk.get('mean'), 4)}/{clk.get('max')} MHz (min/mean/max)"
            )
        if tel.get("power_w") is not None:
            power = tel["power_w"]
            bits.append(f"power {fmt_sig(power.get('mean') if isinstance(power, dict) else power)} W")
        if tel.get("temperature_c") is not None:
            temp = tel["temperature_c"]
            bits.append(f"temperature {fmt_sig(temp.get('max') if isinstance(temp, dict) else temp)} °C")
        if tel.get("throttle_reasons"):
            bits.append("throttle: " + ", ".join(map(str, tel["throttle_reasons"])))
        title = "; ".join(bits)
    elif tel:
        title = f"telemetry unavailable: {tel.get('reason', 'unknown')}"
    return Cell("", "flags", title, badges=badges)


def _ok_cells(rec: dict, best: bool) -> list[Cell]:
    t = rec.get("timing") or {}
    a = rec.get("achieved") or {}
    med = _finite(t.get("median"))
    iqr = _finite(t.get("iqr"))
    spread = ", ".join(f"{k} {fmt_time(t.get(k))}" for k in ("min", "q1", "q3", "max"))
    method = t.get("method")
    med_title = spread + (f"; method: {method}" if method else "")
    ds = _placement(rec, "datasheet") or _placement(rec, "measured") or {}
    return [
        Cell(fmt_time(med), "num best" if best else "num", med_title),
        Cell(fmt_pct(iqr / med if iqr is not None and med else None), "num", f"IQR {fmt_time(iqr)}"),
        Cell("±" + fmt_pct(t.get("rel_ci"), 2) if _finite(t.get("rel_ci")) is not None else "—", "num"),
        Cell(str(t.get("n") if t.get("n") is not None else len(t.get("samples") or [])), "num"),
        Cell(fmt_sig(a.get("tflops")), "num"),
        Cell(fmt_sig(a.get("gbs"), 4), "num"),
        Cell({"memory": "mem", "compute": "comp"}.get(ds.get("bound"), ds.get("bound") or "—"), "", ""),
        *_bound_cells(rec),
        _flag_cell(rec),
        Cell(str(t.get("stop_reason") or "—"), "muted"),
    ]


def _not_ok_cells(rec: dict) -> list[Cell]:
    status = rec.get("status") or "unknown"
    reason = rec.get("reason") or "no reason recorded"
    badges = [(f, "flag-quiet" if f in QUIET_FLAGS else "flag-warn") for f in rec.get("flags") or []]
    return [
        Cell(
            f"{status.upper()}: {reason}",
            f"reason status-{status}",
            colspan=len(RESULT_COLUMNS) - _N_FIXED - 2,
        ),
        Cell("", "flags", badges=badges),
        Cell("—", "muted"),
    ]


def _order(records: list[dict]) -> list[dict]:
    """Variants of one (shape, dtype, mode) next to each other, in the order the run met them."""
    first: dict[Any, int] = {}

    def seen(key) -> int:
        return first.setdefault(key, len(first))

    keyed = []
    for i, r in enumerate(records):
        shape = tuple((r.get("shape") or {}).items())
        keyed.append(
            (
                (
                    seen(("s", shape)),
                    seen(("d", r.get("dtype"))),
                    seen(("m", r.get("mode"))),
                    seen(("v", r.get("variant"))),
                    i,
                ),
                r,
            )
        )
    return [r for _, r in sorted(keyed, key=lambda kr: kr[0])]


def _best_ids(records: Iterable[dict]) -> set[int]:
    """ids of the fastest ok record per (shape, dtype, mode), where 2+ variants ran."""
    groups: dict[Any, list[dict]] = {}
    for r in records:
        if r.get("status") == "ok" and _finite((r.get("timing") or {}).get("median")):
            # Same work only: a causal variant of the same shape does fewer FLOPs, so is not comparable.
            key = (
                tuple(sorted((r.get("shape") or {}).items())),
                r.get("dtype"),
                r.get("mode"),
                r.get("flops"),
            )
            groups.setdefault(key, []).append(r)
    return {id(min(g, key=lambda r: r["timing"]["median"])) for g in groups.values() if len(g) > 1}


def workload_tables(doc: dict, anchor_prefix: str = "") -> list[Table]:
    """One table per workload, in the order the file lists them; every record is one row."""
    by_workload: dict[str, list[dict]] = {}
    for rec in doc.get("records") or []:
        by_workload.setdefault(str(rec.get("workload")), []).append(rec)
    tables = []
    for workload, recs in by_workload.items():
        best = _best_ids(recs)
        rows = []
        for rec in _order(recs):
            variant = str(rec.get("variant"))
            fixed = [
                Cell(
                    variant,
                    "variant",
                    f"{rec.get('backend') or ''} — {rec.get('description') or ''}".strip(" —"),
                ),
                Cell(
                    fmt_shape(rec.get("shape")),
                    "shape",
                    ", ".join(f"{k}={v}" for k, v in (rec.get("shape") or {}).items()),
                ),
                Cell(str(rec.get("dtype"))),
                Cell(str(rec.get("mode"))),
            ]
            status = str(rec.get("status"))
            rest = _ok_cells(rec, id(rec) in best) if status == "ok" else _not_ok_cells(rec)
            rows.append(Row(fixed + rest, status, record_label(rec)))
        n_ok = sum(r.status == "ok" for r in rows)
        note = f"{len(rows)} records: {n_ok} ok" + (
            f", {len(rows) - n_ok} failed or skipped" if n_ok < len(rows) else ""
        )
        tables.append(Table(workload, slug(f"{anchor_prefix}-{workload}"), list(RESULT_COLUMNS), rows, note))
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


def _fusion_info(*recs: dict) -> dict:
    for r in recs:
        info = ((r.get("extra") or {}).get("fusion")) if isinstance(r.get("extra"), dict) else None
        if isinstance(info, dict):
            return info
    return {}


def fusion_tables(doc: dict, anchor_prefix: str = "") -> list[Table]:
    """Per workload with an "unfused" variant: each fused variant against it, same shape/dtype/mode."""
    recs = [r for r in doc.get("records") or [] if r.get("status") == "ok"]
    key = lambda r: (tuple(sorted((r.get("shape") or {}).items())), r.get("dtype"), r.get("mode"))  # noqa: E731
    tables = []
    for workload in dict.fromkeys(str(r.get("workload")) for r in recs):
        mine = [r for r in recs if str(r.get("workload")) == workload]
        unfused = {key(r): r for r in mine if r.get("variant") == "unfused"}
        if not unfused:
            continue
        rows = []
        for r in _order([r for r in mine if r.get("variant") != "unfused"]):
            u = unfused.get(key(r))
            if u is None:
                continue
            fm, um = _finite(r["timing"].get("median")), _finite(u["timing"].get("median"))
            speedup = um / fm if fm and um else None
            info = _fusion_info(r, u)
            ratio = _finite(info.get("ratio"))
            if ratio is None and _finite(info.get("fused_bytes")) and _finite(info.get("unfused_bytes")):
                ratio = info["unfused_bytes"] / info["fused_bytes"]
            ops = info.get("ops")
            if isinstance(ops, list):
                ops = "; ".join(
                    f"{o[0]}: {fmt_bytes(o[1])}" if isinstance(o, (list, tuple)) and len(o) == 2 else str(o)
                    for o in ops
                )
            cells = [
                Cell(fmt_shape(r.get("shape")), "shape"),
                Cell(str(r.get("dtype"))),
                Cell(str(r.get("mode"))),
                Cell(str(r.get("variant")), "variant"),
                Cell(fmt_time(fm), "num"),
                Cell(fmt_time(um), "num"),
                Cell(f"{speedup:.2f}×" if speedup else "—", "num best" if speedup and speedup > 1 else "num"),
                Cell(fmt_bytes(info.get("unfused_bytes")), "num", f"unfused ops: {ops}" if ops else ""),
                Cell(fmt_bytes(info.get("fused_bytes")), "num"),
                Cell(f"{ratio:.2f}×" if ratio else "—", "num"),
                Cell(fmt_pct(speedup / ratio, 0) if speedup and ratio else "—", "num"),
            ]
            rows.append(Row(cells, "ok", record_label(r)))
        if rows:
            tables.append(
                Table(
                    f"{workload}: fused vs unfused",
                    slug(f"{anchor_prefix}-{workload}-fusion"),
                    list(FUSION_COLUMNS),
                    rows,
                    "measured speedup = unfused median / fused median; analytical ratio from the harness's "
                    "byte accounting (record extra.fusion) where recorded",
                    row_class="fusion",
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
_MICRO_KNOWN = {
    "name",
    "value",
    "unit",
    "datasheet",
    "percent_of_datasheet",
    "method",
    "params",
    "telemetry",
    "flags",
}


def _detail(v: Any) -> str:
    if isinstance(v, float):
        return fmt_sig(v, 4)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_detail(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_detail(x) for x in v[:8]) + (", …" if len(v) > 8 else "") + "]"
    return str(v)


def _micro_value(v: Any, unit: str) -> str:
    return fmt_time(v) if unit == "s" else fmt_sig(v, 4)


def _micro_details(m: dict) -> str:
    """Method, scalar parameters and the timing summary; raw samples and nested telemetry stay out."""
    bits = [f"method: {m['method']}"] if m.get("method") else []
    params = m.get("params") if isinstance(m.get("params"), dict) else {}
    for k, v in params.items():
        if isinstance(v, (int, float, str, bool)) and v is not None:
            bits.append(
                f"{k}: {fmt_dim(v) if isinstance(v, int) and not isinstance(v, bool) else _detail(v)}"
            )
    timing = params.get("timing") if isinstance(params.get("timing"), dict) else {}
    if timing:
        t = [f"{k} {timing[k]}" for k in ("mode", "n", "stop_reason") if timing.get(k) is not None]
        if _finite(timing.get("rel_ci")) is not None:
            t.append(f"±{fmt_pct(timing['rel_ci'], 2)}")
        bits.append("timing: " + ", ".join(t))
    bits += [f"{k}: {_detail(v)}" for k, v in m.items() if k not in _MICRO_KNOWN and v is not None]
    return "; ".join(bits)


def micro_table(ceilings_file: dict, anchor_prefix: str = "") -> Table:
    """The micro-benchmark figures of a ceilings file against the datasheet."""
    rows = []
    for m in ceilings_file.get("micro") or []:
        if not isinstance(m, dict):
            continue
        unit = str(m.get("unit") or "")
        pct = _finite(m.get("percent_of_datasheet"))
        if pct is None and _finite(m.get("value")) and _finite(m.get("datasheet")):
            pct = 100 * m["value"] / m["datasheet"]
        cls = "num"
        if pct is not None:
            cls += " bad" if pct > 105 else " good" if pct >= 85 else ""
        flags = [(str(f), "flag-quiet" if f in QUIET_FLAGS else "flag-warn") for f in m.get("flags") or []]
        rows.append(
            Row(
                [
                    Cell(str(m.get("name")), "variant"),
                    Cell(_micro_value(m.get("value"), unit), "num"),
                    Cell(unit if unit != "s" else "time"),
                    Cell(_micro_value(m.get("datasheet"), unit), "num"),
                    Cell(f"{pct:.1f}%" if pct is not None else "—", cls),
                    Cell("", "flags", badges=flags),
                    Cell(_micro_details(m), "muted details"),
                ],
                key=str(m.get("name")),
            )
        )
    if not rows:  # no itemised figures: show the ceilings themselves
        for k, v in (ceilings_file.get("ceilings") or {}).items():
            rows.append(
                Row(
                    [
                        Cell(str(k), "variant"),
                        Cell(_detail(v), "num"),
                        Cell(""),
                        Cell("—", "num"),
                        Cell("—", "num"),
                    ]
                    + [Cell(""), Cell("")],
                    key=str(k),
                )
            )
    name = (ceilings_file.get("device") or {}).get("name") or "unknown GPU"
    return Table(
        f"micro-benchmarks on {name}",
        slug(f"{anchor_prefix}-micro"),
        list(MICRO_COLUMNS),
        rows,
        row_class="micro",
    )


# ----------------------------------------------------------------------------------------- markdown


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(table: Table) -> str:
    """A GitHub-flavoured markdown table; spanned cells are filled so every row has every column."""
    heads = [c.name + (f" ({c.sub})" if c.sub else "") for c in table.columns]
    lines = [f"### {table.title}", ""]
    if table.note:
        lines += [f"_{table.note}_", ""]
    lines.append("| " + " | ".join(_md_escape(h) for h in heads) + " |")
    lines.append("|" + "|".join("---:" if c.num else "---" for c in table.columns) + "|")
    for row in table.rows:
        texts = []
        for cell in row.cells:
            texts.append(_md_escape(cell.plain()))
            texts += [""] * (cell.colspan - 1)
        texts += [""] * (len(heads) - len(texts))
        lines.append("| " + " | ".join(texts) + " |")
    return "\n".join(lines) + "\n"
