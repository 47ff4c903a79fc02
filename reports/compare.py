"""Hardware generations side by side: measured speed ratios next to the ratios the rooflines predict.

Pure apart from matplotlib (Agg, through `matplotlib.figure.Figure`, never pyplot's global state) in
`render_plots`; no torch, no `kernels`. `roofline.specs` and `roofline.model` are imported lazily: when
they are absent the measured ratios are still reported and the predictions are left out with a note.

For each record key (workload, variant, shape, dtype, mode) that is ok in two or more runs, the first run
that has it is the reference, and for every later run that has it:
    measured ratio       reference median / other median   (> 1: the other GPU is faster)
    predicted ratio      predicted time on the reference / predicted time on the other, from
                         `roofline.model.predict` with each GPU's datasheet ceilings
                         (`Ceilings.from_spec(roofline.specs.match_gpu(name))`) and, where both run
                         documents carry measured ceilings (`doc["ceilings"]`), with those too.
                         Memory-bound records thus follow the bandwidth ratio, compute-bound ones the
                         FLOP-rate ratio of the dtype (and tensor cores where the record says so).
    prediction error     predicted ratio / measured ratio - 1
"""

from __future__ import annotations

import html
import importlib
import json
import math
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gpubench.bench import results
from gpubench.reports.gate import _finite_or_none, _md, fmt_ratio, fmt_time, key_dict

TOLERANCE = 0.10  # the +-band drawn around y = x, and the "within" count of the summary

__all__ = [
    "TOLERANCE",
    "CompareError",
    "CompareReport",
    "CompareRow",
    "CompareRun",
    "compare",
    "datasheet_ceilings",
    "measured_ceilings",
    "predict_time",
    "render_plots",
    "to_html_section",
]


class CompareError(ValueError):
    """The runs cannot be compared (fewer than two)."""


# ----------------------------------------------------------------------------------------- rooflines


def _roofline(name: str):
    # importlib (not `from roofline import x`) so that a module placed in sys.modules is honoured.
    return importlib.import_module(f"gpubench.roofline.{name}")


def datasheet_ceilings(doc: dict) -> tuple[Any | None, str | None]:
    """(datasheet Ceilings for the document's GPU, None or a caveat) or (None, why not)."""
    name = results.device_model(doc)
    try:
        specs, model = _roofline("specs"), _roofline("model")
    except ImportError as exc:
        return None, f"roofline.specs/roofline.model not importable ({exc}): no datasheet predictions"
    try:
        if hasattr(specs, "match_gpu"):
            spec = specs.match_gpu(name)
        else:
            spec = specs.resolve_spec(dict(doc.get("device") or {}))
    except (LookupError, ValueError, TypeError) as exc:
        return None, f"no datasheet spec for {name!r}: {exc}"
    note = None
    if spec is None and hasattr(specs, "resolve_spec"):
        # Not in the spec table: roofline derives an approximate spec from the recorded device properties.
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                spec = specs.resolve_spec(dict(doc.get("device") or {}))
            note = f"{name!r} is not in the spec table: datasheet ceilings derived from its device properties"
        except (LookupError, ValueError, TypeError, AttributeError):
            spec = None
    if spec is None:
        return None, f"no datasheet spec for {name!r} in roofline.specs"
    try:
        ceilings = model.Ceilings.from_spec(spec)
    except (LookupError, ValueError, TypeError, AttributeError) as exc:
        return None, f"datasheet ceilings for {name!r} cannot be built: {exc}"
    if not getattr(ceilings, "mem_bandwidth_gbs", None):
        return (
            None,
            f"no datasheet spec for {name!r}: neither the spec table nor its device properties give one",
        )
    return ceilings, note


def measured_ceilings(doc: dict) -> tuple[Any | None, str | None]:
    """(Ceilings from doc["ceilings"], None), (None, None) when the run has none, or (None, why not)."""
    raw = doc.get("ceilings")
    if isinstance(raw, dict) and isinstance(raw.get("ceilings"), dict):
        raw = raw["ceilings"]  # a whole ceilings file was stored
    if not raw:
        return None, None
    try:
        model = _roofline("model")
    except ImportError as exc:
        return None, f"roofline.model not importable ({exc}): no measured-ceiling predictions"
    try:
        return model.Ceilings.from_measured(raw), None
    except (LookupError, ValueError, TypeError, AttributeError) as exc:
        return None, f"measured ceilings of {results.device_model(doc)!r} cannot be used: {exc}"


def predict_time(rec: dict, ceilings: Any) -> tuple[float, str | None] | None:
    """(predicted seconds, bound) for a record on `ceilings`, or None when it cannot be predicted."""
    if ceilings is None or rec.get("flops") is None or not rec.get("bytes"):
        return None
    try:
        model = _roofline("model")
        p = model.predict(
            int(rec["flops"]),
            int(rec["bytes"]),
            rec["dtype"],
            ceilings,
            uses_tensor_cores=bool(rec.get("uses_tensor_cores", False)),
        )
    except (ImportError, LookupError, ValueError, TypeError, ZeroDivisionError):
        return None
    t = getattr(p, "time_s", None)
    if not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
        return None
    return float(t), getattr(p, "bound", None)


# ----------------------------------------------------------------------------------------- data model


@dataclass
class CompareRun:
    index: int
    label: str
    gpu: str
    commit: str
    created: str
    synthetic: bool
    path: str | None
    datasheet: bool  # datasheet ceilings were found for this GPU
    measured_ceilings: bool  # the run carries usable measured ceilings


@dataclass
class CompareRow:
    key: tuple
    label: str
    workload: str
    variant: str
    reference: int  # run index of the reference (the first run with this record)
    other: int
    reference_median: float
    other_median: float
    measured_ratio: float  # reference median / other median: > 1 means the other GPU is faster
    bound: str | None  # datasheet bound on the reference GPU
    other_bound: str | None  # datasheet bound on the other GPU
    predicted_datasheet: float | None = None
    error_datasheet: float | None = None  # predicted / measured - 1
    predicted_measured: float | None = None
    error_measured: float | None = None
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key": key_dict(self.key)}


@dataclass
class CompareReport:
    runs: list[CompareRun]
    rows: list[CompareRow]
    notes: list[str] = field(default_factory=list)
    tolerance: float = TOLERANCE

    @property
    def synthetic(self) -> bool:
        return any(r.synthetic for r in self.runs)

    def pairs(self) -> list[tuple[int, int]]:
        return sorted({(r.reference, r.other) for r in self.rows})

    def rows_for(self, reference: int, other: int) -> list[CompareRow]:
        return [r for r in self.rows if r.reference == reference and r.other == other]

    def summary(self) -> list[dict[str, Any]]:
        """Per (reference, other) pair: how well each prediction follows the measured ratios."""
        out = []
        for ref, other in self.pairs():
            rows = self.rows_for(ref, other)
            entry: dict[str, Any] = {
                "reference": self.runs[ref].label,
                "other": self.runs[other].label,
                "records": len(rows),
                "median_measured_ratio": float(np.median([r.measured_ratio for r in rows])),
            }
            for side in ("datasheet", "measured"):
                errs = [e for r in rows if (e := getattr(r, f"error_{side}")) is not None]
                entry[side] = {
                    "predicted": len(errs),
                    "within_tolerance": sum(abs(e) <= self.tolerance for e in errs),
                    "median_abs_error": float(np.median(np.abs(errs))) if errs else None,
                    "max_abs_error": float(np.max(np.abs(errs))) if errs else None,
                }
            out.append(entry)
        return out

    def to_dict(self) -> dict[str, Any]:
        return _finite_or_none(
            {
                "schema": "gpubench.compare",
                "schema_version": 1,
                "synthetic": self.synthetic,
                "tolerance": self.tolerance,
                "runs": [asdict(r) for r in self.runs],
                "summary": self.summary(),
                "rows": [r.to_dict() for r in self.rows],
                "notes": list(self.notes),
            }
        )

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def _table(self) -> tuple[list[str], list[list[str]]]:
        header = [
            "record",
            "runs",
            "ref median",
            "other median",
            "measured ratio",
            "bound",
            "predicted (datasheet)",
            "error",
            "predicted (measured)",
            "error",
            "flags",
        ]
        body = []
        for r in self.rows:
            bound = r.bound or "-"
            if r.other_bound and r.other_bound != r.bound:
                bound = f"{bound} -> {r.other_bound}"
            body.append(
                [
                    r.label,
                    f"#{r.reference + 1} -> #{r.other + 1}",
                    fmt_time(r.reference_median),
                    fmt_time(r.other_median),
                    fmt_ratio(r.measured_ratio),
                    bound,
                    fmt_ratio(r.predicted_datasheet),
                    _fmt_err(r.error_datasheet),
                    fmt_ratio(r.predicted_measured),
                    _fmt_err(r.error_measured),
                    ", ".join(r.flags),
                ]
            )
        return header, body

    def _intro(self) -> list[str]:
        lines = []
        if self.synthetic:
            lines.append("SYNTHETIC data in at least one run: generated samples, not measurements.")
        lines += list(self.notes)
        return lines

    def to_text(self) -> str:
        lines = [
            "Hardware comparison (ratio = reference time / other time; > 1: the other GPU is faster)",
            "",
        ]
        lines += [
            f"run {r.label}: commit {r.commit}  {r.created}" + (f"  ({r.path})" if r.path else "")
            for r in self.runs
        ]
        lines += [f"NOTE: {n}" for n in self._intro()]
        lines.append("")
        header, body = self._table()
        widths = [max(len(x) for x in col) for col in zip(header, *body)]
        for row in (header, *body):
            lines.append("  ".join(x.ljust(w) for x, w in zip(row, widths)).rstrip())
        lines.append("")
        lines += [_summary_line(s, self.tolerance) for s in self.summary()]
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        lines = ["## Hardware comparison", ""]
        lines += [f"> **Note:** {n}" for n in self._intro()]
        if self._intro():
            lines.append("")
        lines += ["| run | GPU | commit | created |", "|---|---|---|---|"]
        lines += [
            f"| {r.index + 1} | {_md(r.gpu)} | `{_md(r.commit)}` | {_md(r.created)} |" for r in self.runs
        ]
        lines.append("")
        header, body = self._table()
        lines.append("| " + " | ".join(header) + " |")
        lines.append(
            "|"
            + "|".join(["---", "---", "---:", "---:", "---:", "---", "---:", "---:", "---:", "---:", "---"])
            + "|"
        )
        for row in body:
            row = [f"`{_md(row[0])}`", *(_md(x) for x in row[1:])]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        lines += [f"- {_summary_line(s, self.tolerance)}" for s in self.summary()]
        lines += [
            "",
            "<sub>Measured ratio = reference median / other median (> 1: the other GPU is faster). "
            "Predicted ratio from roofline.model.predict on each GPU's ceilings; error = predicted / "
            "measured - 1.</sub>",
            "",
        ]
        return "\n".join(lines)


def _summary_line(s: dict, tolerance: float) -> str:
    parts = [f"{s['reference']} -> {s['other']}: {s['records']} records, median measured ratio "]
    parts[0] += f"{s['median_measured_ratio']:.3f}"
    for side in ("datasheet", "measured"):
        d = s[side]
        if d["predicted"]:
            parts.append(
                f"{side} prediction within ±{tolerance:.0%} for {d['within_tolerance']}/{d['predicted']} "
                f"(median |error| {d['median_abs_error']:.1%}, max {d['max_abs_error']:.1%})"
            )
    return "; ".join(parts)


# ----------------------------------------------------------------------------------------- comparison


def _median(rec: dict) -> float | None:
    xs = [x for x in (rec.get("timing") or {}).get("samples") or [] if isinstance(x, (int, float)) and x > 0]
    if xs:
        return float(np.median(xs))
    med = (rec.get("timing") or {}).get("median")
    return float(med) if isinstance(med, (int, float)) and math.isfinite(med) and med > 0 else None


def _ratio(a: tuple | None, b: tuple | None) -> float | None:
    return a[0] / b[0] if a and b else None


def compare(docs: list[dict], paths: list[str] | None = None, tolerance: float = TOLERANCE) -> CompareReport:
    """Compare results documents from (usually) different GPUs; the first is the reference."""
    if len(docs) < 2:
        raise CompareError(f"a comparison needs at least two runs, got {len(docs)}")
    paths = list(paths) if paths is not None else [None] * len(docs)
    for doc, path in zip(docs, paths):
        results.validate(doc, path or "results")
    notes: list[str] = []
    runs, datasheet, measured, indexes = [], [], [], []
    for i, (doc, path) in enumerate(zip(docs, paths)):
        ds, why = datasheet_ceilings(doc)
        if why and why not in notes:
            notes.append(why)
        ms, why = measured_ceilings(doc)
        if why and why not in notes:
            notes.append(why)
        datasheet.append(ds)
        measured.append(ms)
        gpu = results.device_model(doc)
        runs.append(
            CompareRun(
                index=i,
                label=f"#{i + 1} {gpu.removeprefix('NVIDIA ')}",
                gpu=gpu,
                commit=str((doc.get("software") or {}).get("suite_commit") or "unknown"),
                created=str(doc.get("created") or "unknown"),
                synthetic=bool(doc.get("synthetic")),
                path=path,
                datasheet=ds is not None,
                measured_ceilings=ms is not None,
            )
        )
        indexes.append({results.record_key(r): r for r in doc["records"] if r["status"] == "ok"})

    keys: dict[tuple, list[int]] = {}
    for i, idx in enumerate(indexes):
        for key in idx:
            keys.setdefault(key, []).append(i)
    rows = []
    for key in sorted(keys, key=results.key_label):
        where = keys[key]
        if len(where) < 2:
            continue
        ref = where[0]
        rrec = indexes[ref][key]
        rmed = _median(rrec)
        if rmed is None:
            continue
        rds, rms = predict_time(rrec, datasheet[ref]), predict_time(rrec, measured[ref])
        for other in where[1:]:
            orec = indexes[other][key]
            omed = _median(orec)
            if omed is None:
                continue
            measured_ratio = rmed / omed
            ods, oms = predict_time(orec, datasheet[other]), predict_time(orec, measured[other])
            pds, pms = _ratio(rds, ods), _ratio(rms, oms)
            flags = sorted({f for rec in (rrec, orec) for f in rec.get("flags") or [] if f != "synthetic"})
            rows.append(
                CompareRow(
                    key=key,
                    label=results.key_label(key),
                    workload=key[0],
                    variant=key[1],
                    reference=ref,
                    other=other,
                    reference_median=rmed,
                    other_median=omed,
                    measured_ratio=measured_ratio,
                    bound=rds[1] if rds else (rms[1] if rms else None),
                    other_bound=ods[1] if ods else (oms[1] if oms else None),
                    predicted_datasheet=pds,
                    error_datasheet=pds / measured_ratio - 1 if pds else None,
                    predicted_measured=pms,
                    error_measured=pms / measured_ratio - 1 if pms else None,
                    flags=flags,
                )
            )
    if not rows:
        notes.append("no record is ok in two or more of these runs: nothing to compare")
    return CompareReport(runs=runs, rows=rows, notes=notes, tolerance=tolerance)


# ----------------------------------------------------------------------------------------- plots


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "run"


def plot_name(report: CompareReport, reference: int, other: int) -> str:
    a, b = report.runs[reference], report.runs[other]
    return f"compare-{reference + 1}-{_slug(a.gpu)}-vs-{other + 1}-{_slug(b.gpu)}.png"


def render_plots(report: CompareReport, out_dir: str | Path) -> list[Path]:
    """One scatter per (reference, other) pair with predictions: measured ratio (x) vs predicted (y).

    The y = x line and the ±tolerance band are drawn; one point per record and prediction kind, labelled
    workload/variant. Pairs with no prediction at all get no plot (the report's notes say why).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for ref, other in report.pairs():
        rows = report.rows_for(ref, other)
        points = [
            (r, kind, getattr(r, f"predicted_{kind}"))
            for r in rows
            for kind in ("datasheet", "measured")
            if getattr(r, f"predicted_{kind}") is not None
        ]
        if not points:
            continue
        fig = Figure(figsize=(7.5, 6.5), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        xs = [r.measured_ratio for r, _, _ in points]
        ys = [y for _, _, y in points]
        lo = min(min(xs), min(ys)) * 0.85
        hi = max(max(xs), max(ys)) * 1.15
        line = np.linspace(lo, hi, 50)
        tol = report.tolerance
        ax.fill_between(line, line * (1 - tol), line * (1 + tol), color="0.88", label=f"±{tol:.0%}")
        ax.plot(line, line, color="0.3", lw=1, ls="--", label="predicted = measured")
        workloads = sorted({r.workload for r, _, _ in points})
        colours = {w: f"C{i % 10}" for i, w in enumerate(workloads)}
        markers = {"datasheet": "o", "measured": "^"}
        seen = set()
        for r, kind, y in points:
            legend = f"{r.workload} ({kind} ceilings)"
            ax.scatter(
                r.measured_ratio,
                y,
                marker=markers[kind],
                color=colours[r.workload],
                s=36,
                zorder=3,
                label=legend if legend not in seen else None,
                edgecolors="black" if r.flags else "none",
            )
            seen.add(legend)
        span = hi - lo
        for (x, y), names in _label_clusters(points, span * 0.02).items():
            ax.annotate(
                "\n".join(names),
                (x, y),
                textcoords="offset points",
                xytext=(6, 0),
                va="center",
                fontsize=6.5,
                color="0.25",
            )
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        a, b = report.runs[ref], report.runs[other]
        ax.set_xlabel(f"measured ratio  t({a.gpu}) / t({b.gpu})")
        ax.set_ylabel("predicted ratio (roofline)")
        title = f"{b.gpu} vs {a.gpu}"
        if a.synthetic or b.synthetic:
            title += "  [SYNTHETIC DATA]"
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
        path = out / plot_name(report, ref, other)
        fig.savefig(path, dpi=120)
        written.append(path)
    return written


def _label_clusters(points: list, radius: float) -> dict[tuple[float, float], list[str]]:
    """Points closer than `radius` share one label: their distinct workload/variant names, one a line."""
    clusters: list[tuple[float, float, dict[str, int]]] = []
    for r, _, y in points:
        name = f"{r.workload}/{r.variant}"
        for cx, cy, names in clusters:
            if abs(cx - r.measured_ratio) <= radius and abs(cy - y) <= radius:
                names[name] = names.get(name, 0) + 1
                break
        else:
            clusters.append((r.measured_ratio, y, {name: 1}))
    return {
        (cx, cy): [f"{n} (x{k})" if k > 1 else n for n, k in sorted(names.items())]
        for cx, cy, names in clusters
    }


# ----------------------------------------------------------------------------------------- HTML


def to_html_section(report: CompareReport, out_dir: str | Path) -> str:
    """An HTML fragment for the HTML report: a heading, the table, the plots (written into `out_dir`).

    Image paths are relative to `out_dir`, so the page that embeds the fragment must live there.
    """
    plots = render_plots(report, out_dir)
    e = html.escape
    parts = ['<section class="gpubench-compare" id="hardware-comparison">', "<h2>Hardware comparison</h2>"]
    for note in report._intro():
        parts.append(f'<p class="note warn">{e(note)}</p>')
    parts.append("<ul>")
    for r in report.runs:
        parts.append(f"<li>run {e(r.label)}: commit <code>{e(r.commit)}</code>, {e(r.created)}</li>")
    parts.append("</ul>")
    header, body = report._table()
    numeric = {2, 3, 4, 6, 7, 8, 9}
    parts.append('<table class="compare">')
    parts.append("<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>")
    for row, rec in zip(body, report.rows):
        cells = []
        for i, text in enumerate(row):
            cls = ["num"] if i in numeric else []
            err = rec.error_datasheet if i == 7 else rec.error_measured if i == 9 else None
            if err is not None and abs(err) > report.tolerance:
                cls.append("warn")
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{e(text)}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    parts.append(
        "<ul>"
        + "".join(f"<li>{e(_summary_line(s, report.tolerance))}</li>" for s in report.summary())
        + "</ul>"
    )
    for path in plots:
        parts.append(
            f'<figure><img src="{e(path.name)}" alt="measured vs predicted speed ratio">'
            f"<figcaption>Measured vs predicted ratio; dashed: y = x, band: ±{report.tolerance:.0%}."
            "</figcaption></figure>"
        )
    parts.append("</section>")
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------- formatting


def _fmt_err(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:+.1%}"
