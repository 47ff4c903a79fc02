"""Tables of each variant against the baselines its workload is judged by: the speed-up over each
baseline at the same shape, dtype and mode, the fraction of the roof that bounds it, where the record
carries one, the error its number format costs (quantised matmul: SQNR against float64), and where a
baseline was compiled (torch.compile), what compiling it took: its record's `compile` details, measured
once outside its samples.

The baselines are the records whose role is `baseline` (gpubench.roles: the workload's variants declare
it, each record carries it), in the order the run first met them. A table appears for a workload only
when a baseline and some other variant both measured one shape.
"""

from __future__ import annotations

import math
from collections import defaultdict

from gpubench.fmt import DASH, fmt_pct, fmt_shape, fmt_sig, fmt_time, slug
from gpubench.reports.table_model import Cell, Column, Row, Table
from gpubench.results import Record
from gpubench.roles import BASELINE
from gpubench.roofline.placement import PlacedRun

__all__ = ["baseline_tables", "compile_times", "speedups"]

def _case(rec: Record) -> tuple:
    return rec.workload, tuple(sorted(rec.shape.items())), rec.dtype, rec.mode


def speedups(records: list[Record]) -> dict[tuple, dict[str, float]]:
    """{record key: {baseline variant: baseline median / record median}} for every ok record that is not
    itself a baseline and whose case (workload, shape, dtype, mode) a baseline measured."""
    by_case: dict[tuple, dict[str, Record]] = defaultdict(dict)
    for rec in records:
        if rec.ok and rec.median and rec.median > 0:
            by_case[_case(rec)][rec.variant] = rec
    out = {}
    for variants in by_case.values():
        bases = {name: rec.median for name, rec in variants.items() if rec.role == BASELINE}
        for name, rec in variants.items():
            if bases and name not in bases:
                out[rec.key] = {b: m / rec.median for b, m in bases.items()}
    return out


def _sqnr(rec: Record) -> float | None:
    err = rec.details.get("quant_error") if isinstance(rec.details, dict) else None
    value = err.get("sqnr_db") if isinstance(err, dict) else None
    return float(value) if isinstance(value, (int, float)) and not math.isnan(value) else None


def _compile_info(rec: Record) -> dict | None:
    info = rec.details.get("compile") if isinstance(rec.details, dict) else None
    ok = isinstance(info, dict) and isinstance(info.get("compile_s"), (int, float))
    return info if ok else None


def compile_times(records: list[Record]) -> dict[tuple, tuple[str, dict]]:
    """{case: (baseline variant, its compile details)} for the compiled baselines of each case."""
    return {_case(r): (r.variant, info) for r in records
            if r.ok and r.role == BASELINE and (info := _compile_info(r)) is not None}  # fmt: skip


def _compile_cell(entry: tuple[str, dict] | None) -> Cell:
    if entry is None:
        return Cell(DASH, "num muted", "no compiled baseline measured this case")
    variant, info = entry
    autotune = info.get("autotune_s")
    parts = [f"{variant}, {info.get('mode', '?')}"]
    parts += [f"autotuning {autotune:.1f} s of it"] if isinstance(autotune, (int, float)) else []
    parts += ["a recompile (a new shape or dtype)"] if info.get("recompile") else []
    if info.get("recompiles_after"):
        parts.append(f"{info['recompiles_after']} more compiles while checked or timed")
    return Cell(f"{info['compile_s']:.1f} s", "num", "; ".join(parts))


def _speedup_cell(ratio: float | None, baseline: str) -> Cell:
    if ratio is None:
        return Cell(DASH, "num muted", f"{baseline} did not measure this case")
    return Cell(f"{ratio:.2f}×", "num good" if ratio >= 1 else "num", f"{baseline} median / this median")


def _roof_cell(placed: PlacedRun, rec: Record) -> Cell:
    p = placed.of(rec)
    side = None if p is None else (p.measured or p.datasheet)
    if side is None or side.fraction_of_bound is None:
        return Cell(DASH, "num muted")
    roof = f"{side.peak_key} {fmt_sig(side.peak_tflops)} TFLOP/s" if side.bound == "compute" else (
        f"{fmt_sig(side.bandwidth_gbs)} GB/s")  # fmt: skip
    return Cell(fmt_pct(side.fraction_of_bound), "num", f"{side.bound}-bound, {side.ceilings} roof: {roof}")


def _table(workload: str, recs: list[Record], ratios, placed: PlacedRun, anchor_prefix: str) -> Table:
    bases = list(dict.fromkeys(b for rec in recs for b in ratios[rec.key]))
    with_error = any(_sqnr(r) is not None for r in recs)
    compiles = compile_times(placed.run.records)
    with_compile = any(_case(r) in compiles for r in recs)
    columns = [
        Column("variant"), Column("shape"), Column("dtype"), Column("mode"),
        Column("median", num=True), Column("TFLOP/s", num=True), Column("GB/s", num=True),
        Column("% of roof", "the bound's", num=True, title="roofline lower-bound time / measured time"),
        *[Column(f"vs {b}", "speed-up", num=True) for b in bases],
    ] + ([Column("error", "SQNR dB", num=True, title="vs float64 of the unquantised inputs")]
         if with_error else []) + ([Column("compile", "baseline's", num=True,
                                           title="the compiled baseline's compile and autotune time, "
                                           "measured once, outside its samples")]
                                   if with_compile else [])  # fmt: skip
    rows = []
    for rec in recs:
        r = ratios[rec.key]
        cells = [
            Cell(rec.variant, "variant"), Cell(fmt_shape(rec.shape)), Cell(rec.dtype), Cell(rec.mode),
            Cell(fmt_time(rec.median), "num"), Cell(fmt_sig(rec.achieved_tflops), "num"),
            Cell(fmt_sig(rec.achieved_gbs), "num"), _roof_cell(placed, rec),
            *[_speedup_cell(r.get(b), b) for b in bases],
        ]  # fmt: skip
        if with_error:
            sqnr = _sqnr(rec)
            cells.append(Cell(f"{sqnr:.1f}" if sqnr is not None else DASH, "num"))
        if with_compile:
            cells.append(_compile_cell(compiles.get(_case(rec))))
        rows.append(Row(cells, key=rec.label))
    note = "speed-up = the baseline's median / the variant's, same shape, dtype and mode; green: at least 1×"
    title = f"{workload} against {', '.join(bases)}"
    return Table(title, slug(f"{anchor_prefix}-vs-{workload}"), columns, rows, note, "baselines")


def baseline_tables(placed: PlacedRun, anchor_prefix: str = "") -> list[Table]:
    records = placed.run.records
    ratios = speedups(records)
    by_workload: dict[str, list[Record]] = defaultdict(list)
    for rec in records:
        if rec.key in ratios:
            by_workload[rec.workload].append(rec)
    return [_table(w, recs, ratios, placed, anchor_prefix) for w, recs in by_workload.items()]
