"""The collective roofline: for each collective of a run, busbw against size, measured points (one series per
variant and mode) beside the model's curve over the same topology and the wire's busbw ceiling. Small
messages sit on the latency-bound left (the shaded span, where the model names latency as the limit),
large ones on the bandwidth-bound right under the ceiling. And the table of the same records."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gpubench.fmt import slug
from gpubench.reports.plots import DPI, MARKERS, VARIANT_COLORS, Plot
from gpubench.reports.tables import Cell, Column, Row, Table
from gpubench.results import Record, Run
from gpubench.roofline.comm import predict
from gpubench.roofline.comm.placement import place_collective, topology_from_json


def collective_records(run: Run) -> dict[tuple, list[Record]]:
    """The run's collective records by (collective, ranks, nodes, dtype), in file order."""
    groups: dict[tuple, list[Record]] = {}
    for rec in run.records:
        c = rec.collective
        if c is not None:
            groups.setdefault((c.name, c.ranks, c.nodes, rec.dtype), []).append(rec)
    return groups


def _model_curve(rec: Record, sizes: np.ndarray) -> tuple[list[float], list[bool], float | None] | None:
    """The model's busbw at `sizes` for `rec`'s collective and topology, where it names latency, and the
    wire's ceiling; None without a usable topology."""
    c = rec.collective
    try:
        topo = topology_from_json(c.topology)
        per_node = -(-c.ranks // c.nodes)
        preds = [
            predict(c.name, int(s), c.ranks, topo, per_node, c.algorithm, c.protocol, c.backend)
            for s in sizes
        ]
    except ValueError:
        return None
    return [p.busbw_gbps for p in preds], [p.limit == "latency" for p in preds], preds[-1].ceiling_busbw_gbps


def _draw(ax, recs: list[Record]) -> str:
    series: dict[tuple, list[Record]] = {}
    for rec in recs:
        if rec.ok:
            series.setdefault((rec.variant, rec.mode), []).append(rec)
    for i, ((variant, mode), part) in enumerate(series.items()):
        part.sort(key=lambda r: r.collective.nbytes)
        ax.plot(
            [r.collective.nbytes for r in part],
            [r.busbw_gbps for r in part],
            MARKERS[i % len(MARKERS)],
            color=VARIANT_COLORS[i % len(VARIANT_COLORS)],
            label=f"measured: {variant}, {mode}",
            ms=6,
        )
    sizes = sorted(r.collective.nbytes for r in recs)
    grid = np.geomspace(max(1, sizes[0]), sizes[-1] * 1.0001, 64)
    curve = _model_curve(recs[0], grid)
    if curve is None:
        return "no model: the records store no usable topology"
    bus, latency, ceiling = curve
    placed = place_collective(recs[0])
    label = (
        f"model ({placed.prediction.label if placed else 'model'}) over {recs[0].collective.topology['name']}"
    )
    ax.plot(grid, bus, "-", color="#111827", lw=1.6, label=label)
    if ceiling:
        ax.axhline(ceiling, color="#b91c1c", ls="--", lw=1.2, label=f"wire ceiling {ceiling:.3g} GB/s")
    lat = [s for s, is_lat in zip(grid, latency) if is_lat]
    if lat:
        ax.axvspan(grid[0], max(lat), color="#e5e7eb", alpha=0.6, lw=0, label="latency-bound (model)")
    return ""


def collective_plots(run: Run, out_dir: Path, stem: str) -> list[Plot]:
    """One PNG per (collective, ranks, nodes, dtype) of the run."""
    plots = []
    for (name, ranks, nodes, dtype), recs in collective_records(run).items():
        title = f"{name} — {ranks} ranks on {nodes} node(s), {dtype}, {recs[0].collective.backend}"
        fig = Figure(figsize=(8.5, 5.2))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        note = _draw(ax, recs)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("size S (bytes; nccl-tests' convention)")
        ax.set_ylabel("busbw (GB/s = 1e9 B/s)")
        ax.set_title(title, fontsize=11)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=8, loc="lower right")
        file = f"{stem}-comm-{slug(f'{name}-{ranks}r-{nodes}n-{dtype}')}.png"
        fig.savefig(out_dir / file, dpi=DPI, bbox_inches="tight", facecolor="white")
        plots.append(Plot(file, title, dtype, sum(r.ok for r in recs), [note] if note else []))
    return plots


COLUMNS = [
    Column("variant"),
    Column("size", "bytes", num=True),
    Column("mode"),
    Column("time", "median", num=True),
    Column("algbw", "GB/s", num=True),
    Column("busbw", "GB/s", num=True),
    Column("#wrong", num=True),
    Column("predicted busbw", "GB/s", num=True),
    Column("predicted / measured", "time", num=True),
    Column("algorithm", "model"),
    Column("limit", "model"),
    Column("clock"),
]


def _num(x, fmt: str = ".4g") -> Cell:
    return Cell(
        "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt), "num"
    )


def collective_tables(run: Run, anchor: str) -> list[Table]:
    """One table per (collective, ranks, nodes, dtype): every record a row, measured beside the model."""
    tables = []
    for (name, ranks, nodes, dtype), recs in collective_records(run).items():
        rows = []
        for rec in sorted(recs, key=lambda r: (r.variant, r.mode, r.collective.nbytes)):
            p = place_collective(rec)
            pred = p.prediction if p else None
            rows.append(
                Row(
                    [
                        Cell(rec.variant, "variant", rec.description),
                        _num(rec.collective.nbytes, "d"),
                        Cell(rec.mode),
                        _num(rec.median * 1e6 if rec.median else None, ".4g"),
                        _num(rec.algbw_gbps),
                        _num(rec.busbw_gbps),
                        _num(rec.collective.wrong, "d"),
                        _num(pred.busbw_gbps if pred else None),
                        _num(p.predicted_over_measured if p else None, ".3f"),
                        Cell(pred.label if pred else "—"),
                        Cell(pred.limit if pred else "—"),
                        Cell(rec.collective.clock, title=rec.timing.method if rec.timing else ""),
                    ],
                    rec.status,
                    rec.label,
                )
            )
        note = (
            f"{len(rows)} records; time in µs; busbw = algbw x nccl-tests' factor; the model's algorithm is "
            "what it predicts the library runs (or what was forced)"
        )
        tables.append(
            Table(
                f"{name} · {ranks} ranks · {nodes} node(s) · {dtype}",
                slug(f"{anchor}-comm-{name}-{ranks}-{nodes}-{dtype}"),
                COLUMNS,
                rows,
                note,
            )
        )
    return tables
