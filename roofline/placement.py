"""A record's place on the roofline: the one function every tool uses (tables, plots, HTML, gate,
compare), computed when a file is read, so every tool shows the same answer.

Pure: no torch, no GPU, no `bench`. For each ok record and each set of ceilings (the GPU's datasheet,
and the ceilings measured on it when known) a `Placement` says:
    time_s             predicted time (roofline.roof.predict, launch overhead included where measured)
    bound              "memory" or "compute": the ceiling that limits this (flops, bytes) pair
    intensity          FLOP per DRAM byte
    attainable_tflops  the roofline's height at that intensity
    lower_bound_s      max(flops / compute peak, bytes / bandwidth): no run can be faster
    fraction_of_bound  lower_bound_s / measured median (1.0 = on the roof)
    predicted_over_measured
    violations         roofline.roof.check_ceiling on the measured median: a result above a ceiling
                       means its FLOP or byte accounting is wrong (shown as the flag "above_ceiling")
    l2_resident        warm mode with a working set that fits in L2: DRAM is then not the limit, so the
                       memory check uses the L2 ceiling where one was measured and is skipped otherwise
    time_s, limit, terms
                       the multi-term model's estimate (roofline.perfmodel): each term's time (DRAM,
                       L2, tensor, SIMT, waves, latency, launch), the largest of them, and its name
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from gpubench.results import MeasuredCeilings, Record, RecordKey, Run
from gpubench.roofline.perfmodel import Estimate, Machine, estimate
from gpubench.roofline.roof import Ceilings, check_ceiling, predict
from gpubench.roofline.specs import GPUSpec, resolve_spec

__all__ = [
    "ABOVE_CEILING",
    "TOLERANCE",
    "Placement",
    "PlacedRun",
    "RecordPlacement",
    "RunCeilings",
    "memory_levels",
    "model_estimate",
    "place",
    "place_run",
    "run_ceilings",
]

ABOVE_CEILING = "above_ceiling"
# Relative headroom before a result counts as above a ceiling: timing noise, clocks a little above the
# base the peak assumes. 10x-inflated accounting is far outside it.
TOLERANCE = 0.05
SIDES = ("measured", "datasheet")  # the order in which a record's bound is taken


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


@dataclass(frozen=True)
class Placement:
    ceilings: str  # "datasheet" or "measured"
    time_s: float | None
    bound: str
    intensity: float | None
    attainable_tflops: float | None
    lower_bound_s: float | None
    fraction_of_bound: float | None
    predicted_over_measured: float | None
    violations: tuple[str, ...]
    l2_resident: bool
    peak_key: str
    peak_tflops: float | None
    bandwidth_gbs: float | None
    launch_overhead_s: float | None
    note: str | None
    limit: str | None = None
    terms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "violations": list(self.violations)}


@dataclass(frozen=True)
class RecordPlacement:
    datasheet: Placement | None
    measured: Placement | None

    def side(self, name: str) -> Placement | None:
        return self.measured if name == "measured" else self.datasheet

    @property
    def bound(self) -> tuple[str | None, str | None]:
        """("compute" | "memory" | None, "roofline.measured" | "roofline.datasheet" | None): measured
        ceilings first, the datasheet where none were measured."""
        for name in SIDES:
            p = self.side(name)
            if p is not None and p.bound in ("compute", "memory"):
                return p.bound, f"roofline.{name}"
        return None, None

    @property
    def limit(self) -> tuple[str | None, Placement | None]:
        """(limiting term, the placement it comes from): measured ceilings first, the datasheet's else."""
        for name in SIDES:
            p = self.side(name)
            if p is not None and p.limit:
                return p.limit, p
        return None, None

    @property
    def above_ceiling(self) -> bool:
        return any(p is not None and p.violations for p in (self.datasheet, self.measured))

    def violations(self) -> list[str]:
        out = []
        for name in ("datasheet", "measured"):
            p = self.side(name)
            out += [f"{name}: {v}" for v in (p.violations if p is not None else ())]
        return out

    def to_json(self) -> dict[str, Any]:
        return {name: (p.to_json() if (p := self.side(name)) else None) for name in ("datasheet", "measured")}


@dataclass(frozen=True)
class RunCeilings:
    """The ceilings a run's records are placed under, with what they are and where they came from."""

    datasheet: Ceilings | None
    measured: Ceilings | None
    spec: GPUSpec | None
    l2_bytes: int | None
    measured_origin: str
    notes: tuple[str, ...] = ()
    sm_count: int | None = None
    dram_latency_s: float | None = None  # measured (ceilings file); datasheets give none
    copy_gbs: float | None = None  # the measured copy bandwidth (a streaming pattern), where measured

    def machine(self, side: str) -> Machine | None:
        c = self.measured if side == "measured" else self.datasheet
        if c is None:
            return None
        latency = self.dram_latency_s if side == "measured" else None
        return Machine(c, self.sm_count, self.l2_bytes, latency, self.spec)


def run_ceilings(
    run: Run, measured: MeasuredCeilings | None = None, origin: str | None = None
) -> RunCeilings:
    """Datasheet ceilings from the run's device (the spec database entry its name matches, else one
    derived from its properties, noted); measured ceilings from `measured`, else those embedded in the run."""
    notes: list[str] = []
    spec = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            spec = resolve_spec(run.device.to_json())
        except (KeyError, ValueError, TypeError, LookupError) as exc:
            notes.append(f"no datasheet roofline for {run.gpu!r}: {exc}")
    notes += sorted({str(w.message) for w in caught})
    datasheet = Ceilings.from_spec(spec) if spec is not None and spec.mem_bandwidth_gbs else None
    if measured is None and run.ceilings is not None:
        measured = run.ceilings.ceilings
        origin = origin or "measured ceilings embedded in the results file; " + run.ceilings.provenance(
            run.device.uuid
        )
    measured_c = Ceilings.from_measured(measured) if measured is not None else None
    if measured_c is None:
        origin = "none measured for this GPU (run `gpubench micro` on it)"
    latency_ns = measured.latency_ns.get("dram") if measured is not None else None
    sm_count = run.device.sm_count or (spec.sm_count if spec is not None else None)
    l2_bytes = run.device.l2_bytes or (spec.l2_bytes if spec is not None else None)
    return RunCeilings(
        datasheet, measured_c, spec, l2_bytes, origin or "measured", tuple(notes), sm_count,
        latency_ns * 1e-9 if latency_ns else None, measured.copy_gbs if measured is not None else None,
    )  # fmt: skip


def model_estimate(rec: Record, machine: Machine) -> Estimate:
    """The multi-term estimate of a record's counts on a machine (roofline.perfmodel)."""
    return estimate(
        int(rec.flops), int(rec.bytes), rec.math_dtype, rec.mode, rec.uses_tensor_cores, rec.shape, machine
    )


def _place_on(rec: Record, machine: Machine, median: float) -> Placement:
    ceilings = machine.ceilings
    flops, nbytes = int(rec.flops), int(rec.bytes)
    tc = rec.uses_tensor_cores
    p = predict(flops, nbytes, rec.math_dtype, ceilings, uses_tensor_cores=tc, gpu=machine.spec)
    est = model_estimate(rec, machine)
    violations = check_ceiling(
        median, flops, nbytes, ceilings, TOLERANCE, dtype=rec.math_dtype, uses_tensor_cores=tc,
        memory_level="l2" if est.l2_resident else "dram",  # no L2 roof measured: the bandwidth is not checked
    )  # fmt: skip
    lower, time_s = _finite(p.lower_bound_s), _finite(est.time_s)
    return Placement(
        ceilings=p.ceilings_label,
        time_s=time_s,
        bound=p.bound,
        intensity=_finite(p.intensity),
        attainable_tflops=_finite(p.attainable_tflops),
        lower_bound_s=lower,
        fraction_of_bound=lower / median if lower is not None else None,
        predicted_over_measured=time_s / median if time_s is not None else None,
        violations=tuple(violations),
        l2_resident=est.l2_resident,
        peak_key=p.peak_key,
        peak_tflops=_finite(p.peak_tflops),
        bandwidth_gbs=_finite(p.bandwidth_gbs),
        launch_overhead_s=_finite(p.launch_overhead_s),
        note=p.note,
        limit=est.limit,
        terms=dict(est.terms),
    )


def place(rec: Record, ceilings: RunCeilings) -> RecordPlacement | None:
    """The record on both rooflines; None for a record that is not ok or has no FLOP/byte counts."""
    median = rec.median
    if not rec.ok or not median or rec.flops is None or not rec.bytes:
        return None
    on = lambda side: _place_on(rec, m, median) if (m := ceilings.machine(side)) else None  # noqa: E731
    return RecordPlacement(datasheet=on("datasheet"), measured=on("measured"))


@dataclass
class PlacedRun:
    """A run with every record placed: `placements[key]` is None where a record cannot be placed."""

    run: Run
    ceilings: RunCeilings
    placements: dict[RecordKey, RecordPlacement | None] = field(default_factory=dict)

    def of(self, rec: Record) -> RecordPlacement | None:
        return self.placements.get(rec.key)

    def flags(self, rec: Record) -> list[str]:
        """The record's flags as shown: as measured, plus "above_ceiling" where its placement says so."""
        p = self.of(rec)
        return list(rec.flags) + ([ABOVE_CEILING] if p is not None and p.above_ceiling else [])

    def violations(self) -> list[str]:
        """Every ceiling violation, one line each: "<record>: <datasheet|measured>: <what>"."""
        placed = [(rec, self.of(rec)) for rec in self.run.records]
        return [f"{rec.label}: {v}" for rec, p in placed if p is not None for v in p.violations()]


def place_run(run: Run, measured: MeasuredCeilings | None = None, origin: str | None = None) -> PlacedRun:
    ceilings = run_ceilings(run, measured, origin)
    return PlacedRun(run, ceilings, {rec.key: place(rec, ceilings) for rec in run.records})


_LEVEL_NAMES = {"l2": "L2", "smem": "shared"}


def memory_levels(ceilings: Ceilings) -> list[tuple[str, float]]:
    """[(level name, GB/s)] of the cache ceilings known beyond DRAM ("L2", "shared"), slowest first."""
    levels = [
        (_LEVEL_NAMES.get(level, level), float(gbs))
        for level, gbs in ceilings.cache_gbs.items()
        if isinstance(gbs, (int, float)) and math.isfinite(gbs) and gbs > 0
    ]
    return sorted(levels, key=lambda lv: lv[1])
