"""Plain-text tables of systolic results (the commands' default output)."""

from __future__ import annotations

from .analysis import TopologyResult
from .config import DATAFLOW_NAMES, ArrayConfig


def table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    """Columns padded to width; the first `left` columns left-aligned, the rest right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def count(value: float) -> str:
    """12345678 -> '12.3M', 4096 -> '4,096'."""
    if abs(value) >= 10_000_000:
        return f"{value / 1e6:,.1f}M"
    return f"{value:,.0f}"


def percent(fraction: float) -> str:
    return f"{100 * fraction:.1f}%"


def describe_config(c: ArrayConfig) -> str:
    if c.bandwidth is None:
        bw = "bandwidth estimated (CALC: no stalls)"
    else:
        bw = "DRAM " + "/".join(f"{b:g}" for b in c.bandwidth) + " words/cycle (ifmap/filter/ofmap)"
    sram = "/".join(f"{getattr(c, f'{o}_kb'):g}" for o in ("ifmap", "filter", "ofmap"))
    return (
        f"{c.rows}x{c.cols} array, {DATAFLOW_NAMES[c.dataflow]} ({c.dataflow}), SRAM {sram} KB "
        f"(ifmap/filter/ofmap), {c.word_bytes}-byte words, {bw}"
    )


def _traffic_cells(d: dict) -> list[str]:
    return [
        f"{count(d['sram_reads']['ifmap'])}/{count(d['sram_reads']['filter'])}",
        count(d["sram_writes"]["ofmap"]),
        f"{count(d['dram_reads']['ifmap'])}/{count(d['dram_reads']['filter'])}",
        count(d["dram_writes"]["ofmap"]),
    ]


def layer_table(result: TopologyResult) -> str:
    header = [
        "layer",
        "M",
        "N",
        "K",
        "x",
        "folds",
        "cycles",
        "stalls",
        "map eff",
        "util",
        "SRAM rd in/flt",
        "SRAM wr",
        "DRAM rd in/flt",
        "DRAM wr",
    ]
    rows = []
    for r in result.layers:
        rows.append(
            [
                r.layer.name,
                str(r.layer.m),
                str(r.layer.n),
                str(r.layer.k),
                str(r.layer.repeat),
                str(r.compute.folds),
                count(r.cycles),
                count(r.stall_cycles),
                percent(r.compute.mapping_efficiency),
                percent(r.compute.compute_utilization),
                *_traffic_cells(r.to_dict()),
            ]
        )
    t = result.totals()
    rows.append(
        [
            "total",
            "",
            "",
            "",
            "",
            "",
            count(t["total_cycles"]),
            count(t["stall_cycles"]),
            percent(t["mapping_efficiency"]),
            percent(t["compute_utilization"]),
            *_traffic_cells(t),
        ]
    )
    return table(header, rows)


def topology_report(result: TopologyResult) -> str:
    t = result.topology
    lines = [
        f"{t.name}: {len(t.layers)} layers from {t.source or '-'} ({t.format})",
        f"accelerator: {describe_config(result.config)}",
        f"cycle model: {result.cycle_model}",
        "",
        layer_table(result),
        "",
    ]
    lines += [
        "cycles = compute + stalls; map eff = mean fraction of PEs mapped per fold; util = mean useful",
        "MACs / (PEs x fold cycles); x = instances (depthwise: one per channel); SRAM/DRAM in words; --json",
        "for everything",
    ]
    if result.cycle_model == "scalesim":
        lines.append(
            "cycle model scalesim: SCALE-Sim 3.0.0's counts (no OS drain term, last-cycle index); "
            "--cycle-model paper for the closed forms"
        )
    return "\n".join(lines)
