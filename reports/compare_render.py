"""Pictures of a hardware comparison: measured-vs-predicted scatter plots and the HTML report section.

matplotlib through `matplotlib.figure.Figure` on the Agg canvas, never pyplot's global state.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np

from gpubench.reports.compare import PREDICTIONS, CompareReport, summary_line

__all__ = ["plot_name", "render_plots", "to_html_section"]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "run"


def plot_name(report: CompareReport, reference: int, other: int) -> str:
    a, b = report.runs[reference], report.runs[other]
    return f"compare-{reference + 1}-{_slug(a.gpu)}-vs-{other + 1}-{_slug(b.gpu)}.png"


_TITLES = {
    "datasheet": "first principles, datasheets",
    "measured": "first principles, measured ceilings",
    "carried": "reference measurement carried over",
}
_MAX_LABELS = 8  # per panel: the worst misses are named, the rest are dots


def _panel(ax, rows, kind: str, colours: dict, lo: float, hi: float, tol: float) -> None:
    line = np.linspace(lo, hi, 50)
    ax.fill_between(line, line * (1 - tol), line * (1 + tol), color="0.9", label=f"±{tol:.0%}")
    ax.plot(line, line, color="0.35", lw=1, ls="--")
    pts = [(r, getattr(r, f"predicted_{kind}"), getattr(r, f"error_{kind}")) for r in rows]
    pts = [(r, y, e) for r, y, e in pts if y is not None]
    for r, y, _ in pts:
        ax.scatter(r.measured_ratio, y, color=colours[r.workload], s=18, zorder=3,
                   edgecolors="black" if r.flags else "none", linewidths=0.6)  # fmt: skip
    worst = sorted((p for p in pts if abs(p[2]) > tol), key=lambda p: -abs(p[2]))[:_MAX_LABELS]
    for r, y, _ in worst:
        ax.annotate(f"{r.workload}/{r.variant}", (r.measured_ratio, y), textcoords="offset points",
                    xytext=(4, 3), fontsize=6, color="0.3")  # fmt: skip
    within = sum(abs(e) <= tol for _, _, e in pts)
    ax.set_title(f"{_TITLES[kind]}: {within}/{len(pts)} within ±{tol:.0%}", fontsize=9)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.grid(True, alpha=0.3)


def render_plots(report: CompareReport, out_dir: str | Path) -> list[Path]:
    """One figure per (reference, other) pair: a panel per prediction (datasheet, measured, carried),
    measured ratio (x) against predicted (y), the y = x line and the ±tolerance band, one colour per
    workload; the worst misses of each panel are named. Pairs with no prediction get no plot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for ref, other in report.pairs():
        rows = report.rows_for(ref, other)
        kinds = [k for k in PREDICTIONS if any(getattr(r, f"predicted_{k}") is not None for r in rows)]
        if not kinds:
            continue
        values = [v for r in rows for v in [r.measured_ratio, *(getattr(r, f"predicted_{k}") for k in kinds)]]
        values = [v for v in values if v is not None]
        lo, hi = min(values) * 0.9, max(values) * 1.1
        fig = Figure(figsize=(4.6 * len(kinds) + 1.6, 5.0), layout="constrained")
        FigureCanvasAgg(fig)
        workloads = sorted({r.workload for r in rows})
        colours = {w: f"C{i % 10}" for i, w in enumerate(workloads)}
        axes = fig.subplots(1, len(kinds), squeeze=False)[0]
        for ax, kind in zip(axes, kinds):
            _panel(ax, rows, kind, colours, lo, hi, report.tolerance)
        a, b = report.runs[ref], report.runs[other]
        axes[0].set_ylabel("predicted ratio")
        for ax in axes:
            ax.set_xlabel(
                f"measured  t({a.gpu.removeprefix('NVIDIA ')}) / t({b.gpu.removeprefix('NVIDIA ')})"
            )
        handles = [Line2D([], [], ls="", marker="o", color=colours[w], label=w) for w in workloads]
        fig.legend(handles=handles, loc="outside right upper", fontsize=7, frameon=False)
        title = f"{b.gpu} vs {a.gpu}: speed ratios, measured against predicted"
        fig.suptitle(title + ("  [SYNTHETIC DATA]" if a.synthetic or b.synthetic else ""), fontsize=10)
        path = out / plot_name(report, ref, other)
        fig.savefig(path, dpi=110)
        written.append(path)
    return written


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
    numeric = {2, 3, 4, 6, 7, 8, 9, 10, 11}
    errors = {7: "error_datasheet", 9: "error_measured", 11: "error_carried"}
    parts.append('<table class="compare">')
    parts.append("<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>")
    for row, rec in zip(body, report.rows):
        cells = []
        for i, text in enumerate(row):
            cls = ["num"] if i in numeric else []
            err = getattr(rec, errors[i]) if i in errors else None
            if err is not None and abs(err) > report.tolerance:
                cls.append("warn")
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{e(text)}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    parts.append(
        "<ul>"
        + "".join(f"<li>{e(summary_line(s, report.tolerance))}</li>" for s in report.summary())
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
