"""For a record above a roofline ceiling, which is suspect: its FLOP or byte accounting, or the ceiling.

A record above the datasheet's roof beats the hardware: its accounting is wrong (or the datasheet is).
A record above only the measured roof shows the hardware can do more than the micro-benchmark measured:
the ceiling is suspect, and the reason is named where the files say it: the record ran at a higher SM
clock than the ceiling's sustained measurement (a burst against a sustained roof), the ceilings come
from another physical GPU, or the L2 ceiling had no plateau.
"""

from __future__ import annotations

from gpubench.fmt import fmt_sig
from gpubench.results import Record
from gpubench.roofline.placement import PlacedRun, RecordPlacement

__all__ = ["suspect", "suspects"]

_CLOCK_MARGIN = 1.01  # clocks within 1 % are the same


def _clock_reasons(rec: Record, p: RecordPlacement, placed: PlacedRun) -> list[str]:
    run, reasons = placed.run, []
    embedded = run.ceilings.ceilings if run.ceilings is not None else None
    side = p.measured
    tel = rec.telemetry
    rec_mhz = tel.sm_clock_mhz.mean if tel is not None and tel.available and tel.sm_clock_mhz else None
    roof = embedded.roof_clock_mhz.get(side.peak_key) if embedded is not None else None
    if rec_mhz and roof and rec_mhz > _CLOCK_MARGIN * roof:
        reasons.append(f"the record ran at {fmt_sig(rec_mhz, 4)} MHz, the ceiling's sustained measurement at "
                       f"{fmt_sig(roof, 4)} MHz: a burst against a sustained roof")  # fmt: skip
    if run.ceilings is not None and run.ceilings.device_uuid and run.device.uuid:
        if run.ceilings.device_uuid != (rec.gpu_uuid or run.device.uuid):
            reasons.append("the ceilings were measured on another physical GPU")
    l2 = embedded.cache_plateaus.get("l2", {}) if embedded is not None else {}
    if side.l2_resident and l2.get("flat") is False:
        reasons.append("the L2 ceiling comes from a sweep with no plateau")
    return reasons


def suspect(rec: Record, placed: PlacedRun) -> str | None:
    """Which is suspect for a record above a ceiling (None when it is under every ceiling)."""
    p = placed.of(rec)
    if p is None or not p.above_ceiling:
        return None
    if p.datasheet is not None and p.datasheet.violations:
        return "suspect the accounting: the record is above the datasheet's roof too, which no kernel beats"
    reasons = _clock_reasons(rec, p, placed)
    why = "; ".join(reasons) if reasons else "the micro-benchmarks did not reach what this kernel reaches"
    return f"suspect the measured ceiling: within the datasheet's roof ({why})"


def suspects(placed: PlacedRun) -> list[str]:
    """One line per record above a ceiling: its label and which is suspect."""
    return [f"{rec.label}: {s}" for rec in placed.run.records if (s := suspect(rec, placed))]
