"""The roofs a ceilings file yields, each with the code that measured it: one row per roof key, its
sustained rate (the roof), the figure it came from, the SM clock that figure held, and the burst rate of
the same figure beside it. Files written before roofs named their source show no table."""

from __future__ import annotations

from gpubench.fmt import DASH, fmt_sig, slug
from gpubench.reports.table_model import Cell, Column, Row, Table
from gpubench.results import CeilingsFile

__all__ = ["ROOF_COLUMNS", "roofs_table"]

ROOF_COLUMNS = [
    Column("roof"),
    Column("sustained", "the ceiling", num=True, title="best sustained rate of this hardware rate"),
    Column("measured by", title="the micro-benchmark figure the roof comes from"),
    Column("SM clock", "sustained, MHz", num=True),
    Column("burst", "same figure", num=True, title="the same figure from an idle GPU, a short window"),
    Column("SM clock", "burst, MHz", num=True),
]


def roofs_table(cf: CeilingsFile, anchor_prefix: str = "") -> Table | None:
    c = cf.ceilings
    if not c.peak_sources:
        return None
    by_name = {m.name: m for m in cf.micro}
    rows = []
    for key, source in c.peak_sources.items():
        entry = by_name.get(source)
        burst = (entry.params.get("burst") or {}) if entry is not None else {}
        unit = entry.unit if entry is not None else ""
        cells = [
            Cell(key, "variant"),
            Cell(f"{fmt_sig(c.peaks.get(key), 4)} {unit}".strip(), "num"),
            Cell(source, "", (entry.method or "") if entry is not None else ""),
            Cell(fmt_sig(c.roof_clock_mhz.get(key), 4) if key in c.roof_clock_mhz else DASH, "num"),
            Cell(fmt_sig(burst.get("rate"), 4) if burst.get("rate") else DASH, "num"),
            Cell(fmt_sig(burst.get("sm_clock_mhz"), 4) if burst.get("sm_clock_mhz") else DASH, "num"),
        ]
        rows.append(Row(cells, key=key))
    note = "a roof is the best sustained rate of the micro-benchmarks of its hardware rate (fp16 = bf16)"
    return Table(f"roofs of {cf.gpu}", slug(f"{anchor_prefix}-roofs"), list(ROOF_COLUMNS), rows, note, "roof")
