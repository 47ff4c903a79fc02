"""Hardware generations side by side: measured speed ratios next to the ratios the rooflines predict.

For each record key (workload, variant, shape, dtype, mode) that is ok in two or more runs, the first run
that has it is the reference, and for every later run that has it:
    measured ratio       reference median / other median   (> 1: the other GPU is faster)
    predicted ratio      predicted time on the reference / predicted time on the other: each record's
                         roofline placement (gpubench.roofline.placement) on its GPU's datasheet ceilings
                         and, where both runs have them, on the ceilings measured on each. Memory-bound
                         records thus follow the bandwidth ratio, compute-bound ones the FLOP-rate ratio.
    carried ratio        reference median / the reference's measurement carried to the other GPU
                         (roofline.crossgen): the default prediction
    prediction error     predicted ratio / measured ratio - 1
Medians are the samples' (gpubench.results), the same the report shows and the gate compares.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gpubench.fmt import fmt_err, fmt_ratio, fmt_time, md_cell
from gpubench.results import RecordKey, finite_or_none
from gpubench.roofline.crossgen import carried_time
from gpubench.roofline.placement import PlacedRun

SIDES = ("datasheet", "measured")

TOLERANCE = 0.10  # the +-band drawn around y = x, and the "within" count of the summary
# The predictions of the other GPU's time, each row carries: first principles on the datasheet figures and
# on the measured ceilings of both GPUs, and the reference's measurement carried over by its limiting term.
PREDICTIONS = ("datasheet", "measured", "carried")
DEFAULT_PREDICTION = "carried"  # the one to read: the measurement carried over (roofline.crossgen)

__all__ = ["TOLERANCE", "CompareError", "CompareReport", "CompareRow", "CompareRun", "compare"]


class CompareError(ValueError):
    """The runs cannot be compared (fewer than two)."""


@dataclass
class CompareRun:
    index: int
    label: str
    gpu: str
    commit: str
    created: str
    synthetic: bool
    path: str | None
    datasheet: bool  # datasheet ceilings were found for this GPU
    measured_ceilings: bool  # the run carries usable measured ceilings


@dataclass
class CompareRow:
    key: RecordKey
    label: str
    workload: str
    variant: str
    reference: int  # run index of the reference (the first run with this record)
    other: int
    reference_median: float
    other_median: float
    measured_ratio: float  # reference median / other median: > 1 means the other GPU is faster
    limit: str | None  # the term that limits the record on the reference GPU (roofline.perfmodel)
    other_limit: str | None  # the same on the other GPU
    predicted_datasheet: float | None = None  # from first principles, datasheet figures of both GPUs
    error_datasheet: float | None = None  # predicted / measured - 1
    predicted_measured: float | None = None  # from first principles, the ceilings measured on both
    error_measured: float | None = None
    predicted_carried: float | None = None  # the reference's measurement carried to the other GPU
    error_carried: float | None = None
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key.to_json()}


@dataclass
class CompareReport:
    runs: list[CompareRun]
    rows: list[CompareRow]
    notes: list[str] = field(default_factory=list)
    tolerance: float = TOLERANCE

    @property
    def synthetic(self) -> bool:
        return any(r.synthetic for r in self.runs)

    def pairs(self) -> list[tuple[int, int]]:
        return sorted({(r.reference, r.other) for r in self.rows})

    def rows_for(self, reference: int, other: int) -> list[CompareRow]:
        return [r for r in self.rows if r.reference == reference and r.other == other]

    def summary(self) -> list[dict[str, Any]]:
        """Per (reference, other) pair: how well each prediction follows the measured ratios."""
        out = []
        for ref, other in self.pairs():
            rows = self.rows_for(ref, other)
            entry: dict[str, Any] = {
                "reference": self.runs[ref].label,
                "other": self.runs[other].label,
                "records": len(rows),
                "median_measured_ratio": float(np.median([r.measured_ratio for r in rows])),
            }
            for side in PREDICTIONS:
                errs = [e for r in rows if (e := getattr(r, f"error_{side}")) is not None]
                entry[side] = {
                    "predicted": len(errs),
                    "within_tolerance": sum(abs(e) <= self.tolerance for e in errs),
                    "median_abs_error": float(np.median(np.abs(errs))) if errs else None,
                    "max_abs_error": float(np.max(np.abs(errs))) if errs else None,
                }
            out.append(entry)
        return out

    def to_dict(self) -> dict[str, Any]:
        return finite_or_none(
            {
                "schema": "gpubench.compare",
                "schema_version": 1,
                "synthetic": self.synthetic,
                "tolerance": self.tolerance,
                "runs": [asdict(r) for r in self.runs],
                "summary": self.summary(),
                "rows": [r.to_dict() for r in self.rows],
                "notes": list(self.notes),
            }
        )

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def _table(self) -> tuple[list[str], list[list[str]]]:
        header = [
            "record",
            "runs",
            "ref median",
            "other median",
            "measured ratio",
            "limit",
            "predicted (datasheet)",
            "error",
            "predicted (measured)",
            "error",
            "predicted (carried)",
            "error",
            "flags",
        ]
        body = []
        for r in self.rows:
            bound = r.limit or "-"
            if r.other_limit and r.other_limit != r.limit:
                bound = f"{bound} -> {r.other_limit}"
            body.append(
                [
                    r.label,
                    f"#{r.reference + 1} -> #{r.other + 1}",
                    fmt_time(r.reference_median, 4),
                    fmt_time(r.other_median, 4),
                    fmt_ratio(r.measured_ratio),
                    bound,
                    fmt_ratio(r.predicted_datasheet),
                    fmt_err(r.error_datasheet),
                    fmt_ratio(r.predicted_measured),
                    fmt_err(r.error_measured),
                    fmt_ratio(r.predicted_carried),
                    fmt_err(r.error_carried),
                    ", ".join(r.flags),
                ]
            )
        return header, body

    def _intro(self) -> list[str]:
        lines = []
        if self.synthetic:
            lines.append("SYNTHETIC data in at least one run: generated samples, not measurements.")
        lines += list(self.notes)
        return lines

    def to_text(self) -> str:
        lines = [
            "Hardware comparison (ratio = reference time / other time; > 1: the other GPU is faster)",
            "",
        ]
        lines += [
            f"run {r.label}: commit {r.commit}  {r.created}" + (f"  ({r.path})" if r.path else "")
            for r in self.runs
        ]
        lines += [f"NOTE: {n}" for n in self._intro()]
        lines.append("")
        header, body = self._table()
        widths = [max(len(x) for x in col) for col in zip(header, *body)]
        for row in (header, *body):
            lines.append("  ".join(x.ljust(w) for x, w in zip(row, widths)).rstrip())
        lines.append("")
        lines += [summary_line(s, self.tolerance) for s in self.summary()]
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        lines = ["## Hardware comparison", ""]
        lines += [f"> **Note:** {n}" for n in self._intro()]
        if self._intro():
            lines.append("")
        lines += ["| run | GPU | commit | created |", "|---|---|---|---|"]
        lines += [
            f"| {r.index + 1} | {md_cell(r.gpu)} | `{md_cell(r.commit)}` | {md_cell(r.created)} |"
            for r in self.runs
        ]
        lines.append("")
        header, body = self._table()
        lines.append("| " + " | ".join(header) + " |")
        lines.append(
            "|"
            + "|".join(["---", "---", "---:", "---:", "---:", "---"] + ["---:"] * 6 + ["---"])
            + "|"
        )
        for row in body:
            row = [f"`{md_cell(row[0])}`", *(md_cell(x) for x in row[1:])]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        lines += [f"- {summary_line(s, self.tolerance)}" for s in self.summary()]
        lines += [
            "",
            "<sub>Measured ratio = reference median / other median (> 1: the other GPU is faster). "
            "Predicted ratio from roofline.roof.predict on each GPU's ceilings; error = predicted / "
            "measured - 1.</sub>",
            "",
        ]
        return "\n".join(lines)


def summary_line(s: dict, tolerance: float) -> str:
    parts = [f"{s['reference']} -> {s['other']}: {s['records']} records, median measured ratio "]
    parts[0] += f"{s['median_measured_ratio']:.3f}"
    for side in PREDICTIONS:
        d = s[side]
        if d["predicted"]:
            label = f"{side} (default)" if side == DEFAULT_PREDICTION else side
            parts.append(
                f"{label} prediction within ±{tolerance:.0%} for {d['within_tolerance']}/{d['predicted']} "
                f"(median |error| {d['median_abs_error']:.1%}, max {d['max_abs_error']:.1%})"
            )
    return "; ".join(parts)


def _run_info(i: int, placed: PlacedRun) -> CompareRun:
    run = placed.run
    return CompareRun(
        index=i,
        label=f"#{i + 1} {run.gpu.removeprefix('NVIDIA ')}",
        gpu=run.gpu,
        commit=run.software.suite_commit or "unknown",
        created=run.created or "unknown",
        synthetic=run.synthetic,
        path=run.path,
        datasheet=placed.ceilings.datasheet is not None,
        measured_ceilings=placed.ceilings.measured is not None,
    )


def _predicted(placed: PlacedRun, rec, side: str) -> float | None:
    p = placed.of(rec)
    s = p.side(side) if p is not None else None
    return s.time_s if s is not None and s.time_s and s.time_s > 0 else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _err(predicted: float | None, measured: float) -> float | None:
    return predicted / measured - 1 if predicted else None


def _limit(placed: PlacedRun, rec) -> str | None:
    p = placed.of(rec)
    return p.limit[0] if p is not None else None


def _row(key: RecordKey, ref: int, other: int, runs: list[PlacedRun]) -> CompareRow:
    rrec, orec = runs[ref].run.index()[key], runs[other].run.index()[key]
    measured = rrec.median / orec.median
    pds, pms = (_ratio(_predicted(runs[ref], rrec, s), _predicted(runs[other], orec, s)) for s in SIDES)
    carried = carried_time(rrec, runs[ref].ceilings, orec, runs[other].ceilings, runs[ref].run)
    pcs = _ratio(rrec.median, carried)
    return CompareRow(
        key=key,
        label=key.label,
        workload=key.workload,
        variant=key.variant,
        reference=ref,
        other=other,
        reference_median=rrec.median,
        other_median=orec.median,
        measured_ratio=measured,
        limit=_limit(runs[ref], rrec),
        other_limit=_limit(runs[other], orec),
        predicted_datasheet=pds,
        error_datasheet=_err(pds, measured),
        predicted_measured=pms,
        error_measured=_err(pms, measured),
        predicted_carried=pcs,
        error_carried=_err(pcs, measured),
        flags=sorted({f for rec in (rrec, orec) for f in rec.flags if f != "synthetic"}),
    )


def compare(runs: list[PlacedRun], tolerance: float = TOLERANCE) -> CompareReport:
    """Compare placed runs from (usually) different GPUs; the first is the reference."""
    if len(runs) < 2:
        raise CompareError(f"a comparison needs at least two runs, got {len(runs)}")
    notes: list[str] = []
    for placed in runs:
        for n in placed.ceilings.notes:
            if n not in notes:
                notes.append(n)
    where: dict[RecordKey, list[int]] = {}
    for i, placed in enumerate(runs):
        for rec in placed.run.ok_records():
            where.setdefault(rec.key, []).append(i)
    rows = [
        _row(key, idx[0], other, runs)
        for key in sorted(where, key=lambda k: k.label)
        if len(idx := where[key]) > 1
        for other in idx[1:]
    ]
    if not rows:
        notes.append("no record is ok in two or more of these runs: nothing to compare")
    return CompareReport([_run_info(i, p) for i, p in enumerate(runs)], rows, notes, tolerance)
