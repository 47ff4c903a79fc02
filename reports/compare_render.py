"""Pictures of a hardware comparison: measured-vs-predicted scatter plots and the HTML report section.

matplotlib through `matplotlib.figure.Figure` on the Agg canvas, never pyplot's global state.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np

from gpubench.reports.compare import CompareReport, summary_line

__all__ = ["plot_name", "render_plots", "to_html_section"]


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
