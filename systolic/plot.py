"""The Pareto plot of `gpubench dse`: every configuration's cycles against its area, the front joined up.

Drawn with matplotlib's object API on an Agg canvas, never pyplot's global state.
"""

from __future__ import annotations

from pathlib import Path

from .config import DATAFLOW_NAMES
from .dse import Point
from .errors import SystolicInputError

_MARKERS = {"os": "o", "ws": "s", "is": "^"}


def plot_pareto(points: list[Point], front: list[Point], path: str | Path, title: str = "") -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(7.5, 5.0), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for df, name in DATAFLOW_NAMES.items():
        mine = [p for p in points if p.config.dataflow == df]
        if mine:
            ax.scatter(
                [p.values["area"] for p in mine],
                [p.values["cycles"] for p in mine],
                s=18,
                alpha=0.45,
                marker=_MARKERS[df],
                label=f"{name} ({df})",
            )
    xs, ys = [p.values["area"] for p in front], [p.values["cycles"] for p in front]
    ax.step(xs, ys, where="post", color="black", linewidth=1.2, label="Pareto front")
    ax.scatter(xs, ys, s=36, facecolors="none", edgecolors="black")
    for p in front:
        c = p.config
        ax.annotate(
            f"{c.rows}x{c.cols} {c.dataflow}",
            (p.values["area"], p.values["cycles"]),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.set_xlabel("area (mm$^2$, PE + SRAM model)")
    ax.set_ylabel("cycles (topology total)")
    ax.set_title(title or "cycles vs area")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    try:
        fig.savefig(path)
    except (OSError, ValueError) as exc:
        raise SystolicInputError(f"--plot: cannot write {str(path)!r}: {exc}") from None
    return path
