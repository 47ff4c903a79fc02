"""Tables that hold a run's own numbers against another measurement of the same records:

    Nsight Compute   event median / ncu's gpu__time_duration, and accounted bytes / the DRAM bytes ncu
                     measured (`gpubench ncu`), with L2 bytes, SM and tensor throughput and ncu's SM clock
    sustained        the record's burst timing beside the same record after a load (`run --sustained`),
                     with the SM clock and the power of each

A table appears only when some record of the file carries that measurement.
"""

from __future__ import annotations

from gpubench.fmt import DASH, fmt_bytes, fmt_pct, fmt_sig, fmt_time, slug
from gpubench.reports.table_model import Cell, Column, Row, Table
from gpubench.results import Record
from gpubench.roofline.placement import PlacedRun

__all__ = ["NCU_COLUMNS", "SUSTAINED_COLUMNS", "ncu_table", "sustained_table"]

# The project's targets (TARGETS.md): timings within 2 % of ncu for kernels >= 50 us, accounted bytes
# within 5 % of the DRAM bytes for memory-bound kernels in cold mode.
TIME_TOLERANCE, TIME_FROM_S, BYTES_TOLERANCE = 0.02, 50e-6, 0.05

NCU_COLUMNS = [
    Column("record"),
    Column("event median", num=True),
    Column("ncu time", "gpu__time_duration", num=True),
    Column("event / ncu", num=True, title="within 2 % is the target for kernels of 50 us or more"),
    Column("accounted bytes", num=True),
    Column("DRAM bytes", "read + write (ncu)", num=True),
    Column("accounted / DRAM", num=True, title="within 5 % is the target for memory-bound records, cold"),
    Column("L2 bytes", num=True),
    Column("SM", "% of peak", num=True),
    Column("tensor", "% active", num=True),
    Column("SM clock", "MHz (ncu)", num=True),
    Column("kernels", "per call", num=True),
]


def _ratio_cell(ratio: float | None, tolerance: float, applies: bool, title: str) -> Cell:
    if ratio is None:
        return Cell(DASH, "num muted")
    cls = "num" if not applies else "num good" if abs(ratio - 1) <= tolerance else "num bad"
    return Cell(f"{ratio:.3f}", cls, title)


def _ncu_row(rec: Record, bound: str | None) -> Row:
    prof = rec.ncu
    label = Cell(rec.label, "variant")
    if not prof.available:
        return Row(
            [label, Cell(f"not profiled: {prof.reason}", "reason", colspan=len(NCU_COLUMNS) - 1)],
            key=rec.label,
        )
    timed = _ratio_cell(prof.event_over_ncu(rec.median), TIME_TOLERANCE, rec.median >= TIME_FROM_S,
                        "event median / ncu duration")  # fmt: skip
    memory_cold = bound == "memory" and rec.mode == "cold"
    counted = _ratio_cell(prof.accounted_over_dram(rec.bytes), BYTES_TOLERANCE, memory_cold,
                          f"{bound or 'unknown'}-bound, {rec.mode}")  # fmt: skip
    cells = [
        label, Cell(fmt_time(rec.median), "num"), Cell(fmt_time(prof.time_s), "num"), timed,
        Cell(fmt_bytes(rec.bytes), "num"), Cell(fmt_bytes(prof.dram_bytes), "num"), counted,
        Cell(fmt_bytes(prof.l2_bytes), "num"), Cell(fmt_pct((prof.sm_throughput_pct or 0) / 100), "num"),
        Cell(fmt_pct(prof.tensor_pct / 100) if prof.tensor_pct is not None else DASH, "num"),
        Cell(fmt_sig(prof.sm_clock_mhz, 4) if prof.sm_clock_mhz else DASH, "num"),
        Cell(str(prof.kernels_per_call) if prof.kernels_per_call else DASH, "num", ", ".join(prof.kernels)),
    ]  # fmt: skip
    return Row(cells, key=rec.label)


def ncu_table(placed: PlacedRun, anchor_prefix: str = "") -> Table | None:
    recs = [r for r in placed.run.records if r.ncu is not None]
    if not recs:
        return None
    rows = []
    for rec in recs:
        p = placed.of(rec)
        rows.append(_ncu_row(rec, p.bound[0] if p is not None else None))
    version = next((r.ncu.ncu_version for r in recs if r.ncu.ncu_version), None)
    note = (
        f"Nsight Compute {version or '(version not recorded)'}, --clock-control none, the suite's own L2 "
        "flush before every cold call; green: within the target (2 % for >= 50 us; 5 % of DRAM bytes for "
        "memory-bound cold records), red: outside it"
    )
    return Table("Nsight Compute", slug(f"{anchor_prefix}-ncu"), list(NCU_COLUMNS), rows, note, "ncu")


SUSTAINED_COLUMNS = [
    Column("record"),
    Column("burst", "median", num=True),
    Column("sustained", "median", num=True),
    Column("sustained / burst", "time", num=True),
    Column("burst", "TFLOP/s", num=True),
    Column("sustained", "TFLOP/s", num=True),
    Column("SM clock", "burst / sustained, MHz", num=True),
    Column("power", "sustained, W (energy)", num=True),
    Column("load", "s", num=True),
]


def _mhz(tel) -> str:
    sm = tel.sm_clock_mhz if tel is not None and tel.available else None
    return fmt_sig(sm.mean, 4) if sm else DASH


def sustained_table(placed: PlacedRun, anchor_prefix: str = "") -> Table | None:
    recs = [r for r in placed.run.records if r.ok and r.sustained is not None]
    if not recs:
        return None
    rows = []
    for rec in recs:
        sus = rec.sustained
        med = sus.timing.median
        tflops = rec.flops / med / 1e12 if rec.flops else None
        tel = sus.telemetry
        power = tel.power_from_energy_w if tel is not None and tel.available else None
        cells = [
            Cell(rec.label, "variant"), Cell(fmt_time(rec.median), "num"), Cell(fmt_time(med), "num"),
            Cell(f"{med / rec.median:.3f}", "num"), Cell(fmt_sig(rec.achieved_tflops), "num"),
            Cell(fmt_sig(tflops), "num"), Cell(f"{_mhz(rec.telemetry)} / {_mhz(tel)}", "num"),
            Cell(fmt_sig(power) if power else DASH, "num", getattr(tel, "energy_note", None) or ""),
            Cell(fmt_sig(sus.load_s), "num"),
        ]  # fmt: skip
        rows.append(Row(cells, key=rec.label))
    note = "each record measured again after a load (gpubench run --sustained), beside its burst timing"
    anchor = slug(f"{anchor_prefix}-sustained")
    return Table("burst and sustained", anchor, list(SUSTAINED_COLUMNS), rows, note, "sustained")
