"""What the history shows: a table of a workload's records over time, and a trend plot per GPU model
(matplotlib, Agg canvas), for `gpubench history show` and the report's history section.

A trend plot draws, for each record key of one workload on one GPU model, its median time in each run
relative to that key's median over the history shown: 1.0 is its usual time, 1.10 a run 10 % slower,
so records of very different sizes share one axis and a regression stands out as a step.
"""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gpubench.fmt import fmt_time, shape_label, slug
from gpubench.reports.history import History

__all__ = ["html_section", "key_label", "table", "trend_plot"]

LEGEND_MAX = 12  # more lines than this are drawn, but not named in the legend
DPI = 110


def key_label(row) -> str:
    return f"{row['variant']} {shape_label(json.loads(row['shape']))} {row['dtype']} {row['mode']}"


def table(frame) -> str:
    """The rows as text, by record then date: record, date, commit, median, samples, status."""
    if frame.empty:
        return "(no records)"
    shown = frame.assign(
        record=frame.apply(key_label, axis=1),
        commit=frame["commit"].str[:10].replace("", "unknown"),
        median=frame["median_s"].map(lambda s: fmt_time(s, 4)),
    ).sort_values(["record", "created"], kind="stable")
    return shown[["record", "created", "commit", "median", "n", "status"]].to_string(index=False)


def trend_plot(frame, gpu_model: str, workload: str, path: Path) -> Path | None:
    """The trend PNG of `workload` on `gpu_model` (None when it has no ok record there)."""
    import pandas as pd

    rows = frame[(frame["gpu_model"] == gpu_model) & (frame["status"] == "ok")]
    if rows.empty:
        return None
    rows = rows.assign(when=pd.to_datetime(rows["created"], utc=True), label=rows.apply(key_label, axis=1))
    fig = Figure(figsize=(9, 4.8), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for n, (label, g) in enumerate(rows.groupby("label", sort=True)):
        g = g.sort_values("when")
        rel = g["median_s"] / g["median_s"].median()
        ax.plot(
            g["when"],
            rel,
            marker="o",
            linewidth=1.2,
            markersize=4,
            label=label if n < LEGEND_MAX else None,
            color=None if n < LEGEND_MAX else "#bbbbbb",
        )
    ax.axhline(1.0, color="#444444", linewidth=0.8, linestyle="--")
    ax.set_title(
        f"{workload} on {gpu_model}: median time per run, relative to each record's history median",
        fontsize=10,
    )
    ax.set_ylabel("time / history median")
    ax.grid(True, alpha=0.3)
    if len(rows["label"].unique()) > 0:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def plot_name(workload: str, gpu_model: str) -> str:
    return f"history-{slug(workload)}-{slug(gpu_model)}.png"


def html_section(history: History, img_dir: Path, out_dir: Path, embed: bool = False) -> list[dict]:
    """Per GPU model: its runs (date, commit, records, status) and one trend plot per workload."""
    import base64

    out = []
    for model in history.models():
        runs = history.runs(model)
        plots = []
        for workload in history.workloads():
            path = trend_plot(
                history.records(workload, gpu_model=model),
                model,
                workload,
                img_dir / plot_name(workload, model),
            )
            if path is None:
                continue
            src = (
                "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
                if embed
                else path.relative_to(out_dir).as_posix()
            )
            plots.append({"src": src, "title": f"{workload} on {model}"})
        rows = [
            {
                "created": r.created,
                "commit": r.commit[:10] or "unknown",
                "records": r.records,
                "status": r.status,
                "source": r.source or "",
            }
            for r in runs
        ]
        out.append({"gpu": model, "anchor": f"history-{slug(model)}", "runs": rows, "plots": plots})
    return out
