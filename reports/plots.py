"""Roofline plots (matplotlib, Agg canvas, no pyplot state): one PNG per results file and dtype class.

A dtype class is the set of records that share a compute ceiling: the same datasheet peak and the same
tensor-core use (fp32 on CUDA cores, bf16/fp16 on tensor cores, ...). Each plot has
- log-log axes: operational intensity (FLOP per compulsory DRAM byte) against achieved TFLOP/s;
- the datasheet roof dashed, the measured roof solid, and roofs for the cache levels (L2, shared memory)
  that the micro-benchmarks measured, in their own colours;
- each ok record as a point: one marker per workload, one colour per variant, filled for cold L2 and
  hollow for warm; one label per workload/variant, placed where it overlaps neither points nor other
  labels (a thin leader line joins a label pushed away from its point);
- points above a ceiling (broken accounting) ringed in red.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import Bbox

from gpubench.fmt import fmt_sig, shape_label, slug
from gpubench.results import Record
from gpubench.roofline.placement import ABOVE_CEILING, PlacedRun, memory_levels

MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p", "8", "d"]
VARIANT_COLORS = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#637939",
]
LEVEL_COLORS = {"DRAM": "#222222", "L2": "#c2410c", "shared": "#0f766e"}
DPI = 130


@dataclass
class Plot:
    filename: str  # relative to the output directory
    title: str
    dtype_class: str
    n_points: int
    omitted: list[str] = field(default_factory=list)


def compute_peak(ceilings, dtype: str, tensor_cores: bool) -> float | None:
    """The compute ceiling (TFLOP/s) roofline.roof applies to `dtype` with or without tensor cores."""
    from gpubench.roofline.roof import predict

    try:
        v = predict(1, 1, dtype, ceilings, uses_tensor_cores=tensor_cores).peak_tflops
    except (KeyError, ValueError, TypeError):
        return None
    return float(v) if v is not None and math.isfinite(v) and v > 0 else None


def _levels(ceilings) -> list[tuple[str, float]]:
    dram = ceilings.mem_bandwidth_gbs
    return ([("DRAM", float(dram))] if dram else []) + memory_levels(ceilings)


def _intensity(rec: Record) -> float | None:
    f, b = rec.flops, rec.bytes
    return f / b if f and b and f > 0 and b > 0 else None


def _achieved(rec: Record) -> float | None:
    a = rec.achieved_tflops
    return float(a) if a is not None and math.isfinite(a) and a > 0 else None


def dtype_classes(records: list[Record], datasheet, measured) -> dict[str, list[Record]]:
    """Group ok records by compute ceiling; keys are readable labels such as "fp32 · CUDA cores"."""
    ref = datasheet or measured
    groups: dict[tuple, list[Record]] = {}
    for rec in records:
        tc = rec.uses_tensor_cores
        peak = compute_peak(ref, rec.math_dtype, tc) if ref is not None else None
        key = (tc, round(peak, 3) if peak else rec.math_dtype)
        groups.setdefault(key, []).append(rec)
    out = {}
    for (tc, _), recs in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        dtypes = ", ".join(sorted({r.dtype for r in recs}))
        label = f"{dtypes} · {'tensor cores' if tc else 'CUDA cores'}"
        while label in out:
            label += "'"
        out[label] = recs
    return out


def _roof(x: np.ndarray, peak: float | None, gbs: float) -> np.ndarray:
    y = x * gbs / 1e3  # FLOP/byte x GB/s = GFLOP/s -> TFLOP/s
    return np.minimum(y, peak) if peak else y


def _resample(xy: np.ndarray, step: float = 3.0) -> np.ndarray:
    """Points every `step` pixels along a polyline given in display coordinates."""
    out = [xy[:1]]
    for a, b in zip(xy[:-1], xy[1:]):
        n = max(1, int(np.hypot(*(b - a)) / step))
        t = np.linspace(0, 1, n, endpoint=False)[1:, None] if n > 1 else np.empty((0, 1))
        out.append(a + t * (b - a))
        out.append(b[None, :])
    return np.vstack(out)


def _overlap(a: Bbox, b: Bbox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _candidates():
    for r in (7, 14, 24, 36, 50, 66, 84):
        for deg in (30, -30, 90, -90, 150, -150, 0, 180, 60, -60, 120, -120):
            a = math.radians(deg)
            yield r, r * math.cos(a), r * math.sin(a)


def _place_labels(fig, ax, renderer, labels, points_disp, obstacles, line_disp) -> None:
    """Greedy placement: each label goes to the nearest candidate offset that collides with nothing
    (points, labels already placed, the legend, the ceiling lines)."""
    ax_box = ax.get_window_extent(renderer)
    point_boxes = [Bbox.from_extents(x - 4, y - 4, x + 4, y + 4) for x, y in points_disp]
    placed: list[Bbox] = list(obstacles)
    lx, ly = (line_disp[:, 0], line_disp[:, 1]) if len(line_disp) else (np.array([]), np.array([]))
    for text, xy, color in labels:
        best = None
        for r, dx, dy in _candidates():
            ha = "left" if dx > 1 else "right" if dx < -1 else "center"
            va = "bottom" if dy > 1 else "top" if dy < -1 else "center"
            ann = ax.annotate(
                text, xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, fontsize=7.5
            )
            bb = ann.get_window_extent(renderer).expanded(1.06, 1.2)
            ann.remove()
            cost = sum(_overlap(bb, o) for o in placed) + sum(_overlap(bb, p) for p in point_boxes)
            crossing = np.count_nonzero((lx > bb.x0) & (lx < bb.x1) & (ly > bb.y0) & (ly < bb.y1))
            cost += 4.0 * crossing  # a ceiling line through the text: worse than a longer leader
            inside = ax_box.x0 <= bb.x0 and bb.x1 <= ax_box.x1 and ax_box.y0 <= bb.y0 and bb.y1 <= ax_box.y1
            if not inside:
                cost += 1e6
            score = cost * 10 + r
            if best is None or score < best[0]:
                best = (score, r, dx, dy, ha, va, bb)
            if cost == 0:
                break
        _, r, dx, dy, ha, va, bb = best
        arrow = dict(arrowstyle="-", color=color, lw=0.6, alpha=0.8, shrinkA=0, shrinkB=3) if r > 10 else None
        ax.annotate(
            text,
            xy,
            xytext=(dx, dy),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=7.5,
            color=color,
            arrowprops=arrow,
            bbox=dict(boxstyle="round,pad=0.12", fc="white", ec="none", alpha=0.8),
            zorder=6,
        )
        placed.append(bb)


@dataclass
class _Roof:
    source: str  # "datasheet" or "measured"
    level: str  # "DRAM", "L2", "shared"
    gbs: float
    peak: float | None  # TFLOP/s: one roof, at the highest of the class's peaks
    peak_text: str


def _roofs(dtypes: list[str], tc: bool, datasheet, measured) -> list[_Roof]:
    """Every ceiling of the class: each memory level of each side, under the side's compute peak."""
    roofs = []
    for source, c in (("datasheet", datasheet), ("measured", measured)):
        if c is None:
            continue
        peaks = {}
        for dt in dtypes:
            p = compute_peak(c, dt, tc)
            if p:
                peaks.setdefault(round(p, 3), []).append(dt)
        peak = max(peaks) if peaks else None
        peak_text = ", ".join(f"{'/'.join(d)} {fmt_sig(p)}" for p, d in sorted(peaks.items()))
        for level, gbs in _levels(c):
            if gbs and math.isfinite(gbs):
                roofs.append(_Roof(source, level, gbs, peak, peak_text))
    return roofs


def _draw_roofs(ax, roofs: list[_Roof], pts) -> tuple[tuple[float, float, float, float], list[np.ndarray]]:
    """Draw the ceilings over the range they and the points need: ((x_lo, x_hi, y_lo, y_hi), the lines in
    data space)."""
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    dram = [(r.gbs, r.peak) for r in roofs if r.level == "DRAM"]
    ridges = [pk * 1e3 / g for g, pk in dram if pk]
    peaks_all = [r.peak for r in roofs if r.peak]
    x_lo = min(xs + [min(ridges) / 30 if ridges else 0.01]) / 3
    x_hi = max(xs + [max(ridges) * 4 if ridges else 100]) * 2.5
    y_hi = max(ys + peaks_all + [1e-3]) * 4
    # The bottom where the slowest DRAM roof enters the plot, so its whole slope shows.
    y_lo = min(ys + ([x_lo * min(g for g, _ in dram) / 1e3] if dram else [1e-3])) / 1.5
    x = np.logspace(math.log10(x_lo), math.log10(x_hi), 400)
    line_data = []
    for r in roofs:
        bw = f"{fmt_sig(r.gbs / 1e3, 3)} TB/s" if r.gbs >= 1e3 else f"{fmt_sig(r.gbs)} GB/s"
        label = f"{r.source}: {r.level} {bw}"
        if r.level == "DRAM" and r.peak:
            label += f", {r.peak_text} TFLOP/s"
        line_data.append(np.column_stack([x, _roof(x, r.peak, r.gbs)]))
        ax.plot(x, _roof(x, r.peak, r.gbs), ls="--" if r.source == "datasheet" else "-",
                lw=1.6 if r.level == "DRAM" else 1.1, color=LEVEL_COLORS.get(r.level, "#555"),
                alpha=0.75 if r.source == "datasheet" else 1.0, label=label, zorder=2)  # fmt: skip
    return (x_lo, x_hi, y_lo, y_hi), line_data


def _draw_points(ax, pts, above) -> tuple[dict, dict, dict]:
    """Each record a point (marker by workload, colour by variant, hollow when warm; ringed when above a
    ceiling): (marker by workload, colour by variant, the points of each (workload, variant))."""
    workloads = list(dict.fromkeys(r.workload for *_, r in pts))
    variants = list(dict.fromkeys(r.variant for *_, r in pts))
    marker = {w: MARKERS[i % len(MARKERS)] for i, w in enumerate(workloads)}
    color = {v: VARIANT_COLORS[i % len(VARIANT_COLORS)] for i, v in enumerate(variants)}
    groups: dict[tuple, list] = {}
    for px, py, rec in pts:
        w, v = rec.workload, rec.variant
        face = "none" if rec.mode == "warm" else color[v]
        ax.scatter([px], [py], marker=marker[w], s=42, facecolors=face, edgecolors=color[v], linewidths=1.3,
                   zorder=4, alpha=0.9)  # fmt: skip
        if rec.key in above:
            ax.scatter([px], [py], marker="o", s=170, facecolors="none", edgecolors="#dc2626", linewidths=1.6,
                       zorder=5)  # fmt: skip
        groups.setdefault((w, v), []).append((px, py))
    return marker, color, groups


def _dress_axes(ax, limits, title: str, has_roofs: bool, marker: dict, any_above: bool):
    """Scales, limits, grid and the two legends (ceilings inside, workloads outside); returns the
    ceilings' legend (or the note that there are none), which labels must keep off."""
    x_lo, x_hi, y_lo, y_hi = limits
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel("operational intensity (FLOP per DRAM byte)", fontsize=10)
    ax.set_ylabel("achieved TFLOP/s", fontsize=10)
    ax.set_title(title, fontsize=11, loc="left")
    ax.grid(True, which="major", color="#d4d4d8", lw=0.6)
    ax.grid(True, which="minor", color="#f0f0f2", lw=0.4)
    ax.tick_params(labelsize=8.5)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    if has_roofs:
        ceil_legend = ax.legend(loc="upper left", fontsize=7.5, frameon=True, framealpha=0.92,
                                title="ceilings", title_fontsize=8)  # fmt: skip
        ax.add_artist(ceil_legend)
    else:
        none = "no ceilings known for this GPU and dtype"
        ceil_legend = ax.text(0.01, 0.98, none, transform=ax.transAxes, va="top", fontsize=8, color="#b45309")
    dot = dict(ls="", marker="o", color="#444")
    handles = [Line2D([], [], ls="", marker=m, color="#444", markerfacecolor="#444", label=w)
               for w, m in marker.items()]  # fmt: skip
    handles += [Line2D([], [], **dot, markerfacecolor="#444", label="cold L2 (filled)"),
                Line2D([], [], **dot, markerfacecolor="none", label="warm L2 (hollow)")]  # fmt: skip
    if any_above:
        handles.append(Line2D([], [], ls="", marker="o", ms=11, color="#dc2626", markerfacecolor="none",
                              label="above a ceiling"))  # fmt: skip
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
              title="workloads", title_fontsize=8.5)  # fmt: skip
    return ceil_legend


def _label_points(fig, ax, renderer, pts, above, groups, color, line_data, ceil_legend) -> None:
    """One label per workload/variant at its highest point, and one per point above a ceiling (its
    accounting is wrong), placed off the points, the ceilings' legend and the ceiling lines."""
    labels = []
    for (w, v), gp in sorted(groups.items(), key=lambda kv: -max(p[1] for p in kv[1])):
        anchor = max(gp, key=lambda p: p[1])
        labels.append((f"{w}/{v}", anchor, color[v]))
    for px, py, rec in pts:
        if rec.key in above:
            what = ABOVE_CEILING.replace("_", " ")
            text = f"{rec.workload}/{rec.variant} {shape_label(rec.shape)} {rec.mode}: {what}"
            labels.insert(0, (text, (px, py), "#b91c1c"))
    points_disp = ax.transData.transform([(px, py) for px, py, _ in pts]) if pts else []
    # Densely resampled ceiling lines in display space, so labels keep off them.
    line_disp = np.empty((0, 2))
    if line_data:
        line_disp = np.vstack([_resample(ax.transData.transform(d)) for d in line_data])
    obstacles = [ceil_legend.get_window_extent(renderer)]
    _place_labels(fig, ax, renderer, labels, points_disp, obstacles, line_disp)


def roofline_figure(
    records: list[Record], datasheet, measured, title: str, above: set | frozenset = frozenset()
) -> tuple[Figure, list[str]]:
    """The figure for one dtype class; returns it and notes on records that could not be drawn."""
    fig = Figure(figsize=(10.5, 6.2), dpi=DPI)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    omitted, pts = [], []
    for rec in records:
        x, y = _intensity(rec), _achieved(rec)
        if x is None or y is None:
            omitted.append(f"{rec.label}: no FLOPs or bytes to place on a log-log roofline")
            continue
        pts.append((x, y, rec))
    dtypes = sorted({r.dtype for r in records})
    roofs = _roofs(dtypes, any(r.uses_tensor_cores for r in records), datasheet, measured)
    limits, line_data = _draw_roofs(ax, roofs, pts)
    marker, color, groups = _draw_points(ax, pts, above)
    any_above = any(r.key in above for *_, r in pts)
    ceil_legend = _dress_axes(ax, limits, title, bool(roofs), marker, any_above)
    fig.subplots_adjust(left=0.08, right=0.8, top=0.92, bottom=0.1)
    _label_points(fig, ax, canvas.get_renderer(), pts, above, groups, color, line_data, ceil_legend)
    if not pts:
        ax.text(
            0.5, 0.5, "no ok records to place", transform=ax.transAxes, ha="center", fontsize=11, color="#666"
        )
    return fig, omitted


def roofline_plots(placed: PlacedRun, out_dir: Path, stem: str) -> list[Plot]:
    """Write one PNG per dtype class of the run's ok records into out_dir; returns what was written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run, datasheet, measured = placed.run, placed.ceilings.datasheet, placed.ceilings.measured
    ok = [r for r in run.ok_records() if r.collective is None]  # collectives: reports.comm_report
    above = {r.key for r in ok if ABOVE_CEILING in placed.flags(r)}
    plots = []
    for label, recs in dtype_classes(ok, datasheet, measured).items():
        title = f"{run.gpu} — {label} ({len(recs)} results)"
        if run.synthetic:
            title = "SYNTHETIC — " + title
        fig, omitted = roofline_figure(recs, datasheet, measured, title, above)
        name = f"{stem}-roofline-{slug(label)}.png"
        fig.savefig(out_dir / name, dpi=DPI, bbox_inches="tight", facecolor="white")
        plots.append(Plot(name, title, label, len(recs) - len(omitted), omitted))
    return plots
