"""The roofs a training step is timed against, and where each figure came from.

A step keeps the tensor cores busy for seconds, so its roofs are the sustained ones: the rates measured on
the GPU after a load (the ceilings file's `peaks_sustained`, bench.micro.rates), never the burst a short
benchmark sees. fp16 and bf16 run at one tensor-core rate, so both take the better of their two sustained
figures (bench.micro.ceilings builds its roofs by the same rule). A file from before bench.micro.rates
measured each figure once and calls that figure sustained; its entry's own telemetry says whether the GPU
was under load: a figure measured in no longer than a burst window (BURST_WINDOW_S) is a burst, and is
left out of the 16-bit roof while a figure measured under load remains. The DRAM roof and the launch
overhead are the file's own.

Three sides, in the order they are chosen:
    measured   ceilings measured on that GPU: a file given, or the ones committed with the suite
               (reports/reference/<GPU>/ceilings.json, found beside the package, installed or checked out)
    carried    a GPU with none: its datasheet scaled key by key (each peak, the DRAM bandwidth) by the
               measured / datasheet ratio of the reference GPU (REFERENCE_GPU, whose committed ceilings are
               the suite's own); the launch overhead is the reference GPU's measured one
    datasheet  the spec database's peaks and bandwidth: an upper bound, nothing measured
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gpubench import results
from gpubench.results import CeilingsFile, MeasuredCeilings, ResultsError
from gpubench.roofline.crossgen import ceilings_of_spec
from gpubench.roofline.perfmodel import Machine
from gpubench.roofline.roof import Ceilings
from gpubench.roofline.specs import GPUSpec, get_spec, match_gpu

__all__ = ["BURST_WINDOW_S", "REFERENCE_DIR", "REFERENCE_GPU", "SIDES", "Roofs", "loaded",
           "reference_ceilings", "roofs_for"]  # fmt: skip

# The committed measurements: transformer/training/ -> the repository (or, installed, gpubench/) root.
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "reports" / "reference"
REFERENCE_GPU = "h100_sxm5"
SIDES = ("measured", "carried", "datasheet")
_SHARED_RATE = ("fp16", "bf16")  # one tensor-core rate (bench.micro.ceilings.RATE_GROUPS)
# bench.micro.rates' burst window (its burst_rule stops at 0.25 s): a measurement no longer than this saw
# the GPU at its idle clock, not settled under its power cap
BURST_WINDOW_S = 0.25


@dataclass(frozen=True)
class Roofs:
    """The machine a step is timed on: which side, and where its figures came from."""

    machine: Machine
    side: str
    origin: str

    def peak_tflops(self, key: str) -> float | None:
        return self.machine.ceilings.peaks.get(key)

    @property
    def dram_gbs(self) -> float | None:
        return self.machine.ceilings.mem_bandwidth_gbs


def sustained(measured: MeasuredCeilings) -> MeasuredCeilings:
    """The ceilings with each peak replaced by its sustained rate (where one was measured); the 16-bit rate
    the better of its sustained figures (of its peaks where none is)."""
    peaks = {**measured.peaks, **measured.peaks_sustained}
    held = measured.peaks_sustained if any(k in measured.peaks_sustained for k in _SHARED_RATE) else peaks
    shared = [held[k] for k in _SHARED_RATE if k in held]
    if shared:
        peaks.update({k: max(shared) for k in _SHARED_RATE})
    return dataclasses.replace(measured, peaks=peaks)


def _window_s(f: CeilingsFile, key: str) -> float | None:
    """How long the measurement of the sustained figure `key` of `f` ran (its entry's telemetry window)."""
    value = f.ceilings.peaks_sustained.get(key)
    entry = next((e for e in f.micro if e.value == value and e.unit == "TFLOP/s"), None)
    return ((entry.telemetry or {}).get("window_s") if entry is not None else None) or None


def loaded(f: CeilingsFile) -> tuple[MeasuredCeilings, str]:
    """The ceilings of `f` without the 16-bit figures measured only in a burst window (a file from before
    bench.micro.rates, which measured each figure once), while one measured under load is left; and a note
    naming what was left out ("" when nothing was)."""
    c = f.ceilings
    if c.peaks_burst or c.peak_clocks_mhz:  # measured burst and sustained apart: its sustained ones hold
        return c, ""
    windows = {k: _window_s(f, k) for k in _SHARED_RATE if k in c.peaks_sustained}
    short = {k for k, w in windows.items() if w is not None and w <= BURST_WINDOW_S}
    if not short or short == set(windows):
        return c, ""
    kept = {k: v for k, v in c.peaks_sustained.items() if k not in short}
    note = ", ".join(f"{k}'s {c.peaks_sustained[k]:.1f} TFLOP/s, measured in {windows[k]:.2f} s"
                     for k in sorted(short))  # fmt: skip
    return dataclasses.replace(c, peaks_sustained=kept), f"a burst left out: {note}"


@cache
def reference_ceilings() -> dict[str, tuple[MeasuredCeilings, str]]:
    """Spec key -> (measured ceilings, file) for every ceilings file committed with the suite."""
    out = {}
    for path in sorted(REFERENCE_DIR.glob("*/ceilings.json")):
        try:
            f = results.read_ceilings(path)
        except ResultsError:
            continue
        spec = match_gpu(f.device.name)
        if spec is not None:
            ceilings, note = loaded(f)
            where = f"{f.device.name}, {path.parent.name}/{path.name}"
            out[spec.key] = (ceilings, f"{where}; {note}" if note else where)
    return out


def _measured(spec: GPUSpec, measured: MeasuredCeilings, origin: str) -> Roofs:
    on = ceilings_of_spec(spec, sustained(measured), origin)
    return Roofs(on.machine("measured"), "measured", f"sustained roofs measured on {origin}")


def _carried(spec: GPUSpec) -> Roofs | None:
    ref = reference_ceilings().get(REFERENCE_GPU)
    if ref is None:
        return None
    ref_spec = get_spec(REFERENCE_GPU)
    mine, theirs = Ceilings.from_spec(spec), Ceilings.from_spec(ref_spec)
    got = Ceilings.from_measured(sustained(ref[0]))
    peaks = {k: v * got.peaks[k] / theirs.peaks[k] for k, v in mine.peaks.items()
             if got.peaks.get(k) and theirs.peaks.get(k)}  # fmt: skip
    bw = None
    if mine.mem_bandwidth_gbs and got.mem_bandwidth_gbs and theirs.mem_bandwidth_gbs:
        bw = mine.mem_bandwidth_gbs * got.mem_bandwidth_gbs / theirs.mem_bandwidth_gbs
    ceilings = Ceilings("carried", bw, peaks, got.launch_overhead_s)
    origin = (
        f"{spec.name} datasheet x the measured/datasheet ratio of {ref_spec.name} ({ref[1]}), "
        f"sustained: bf16 {got.peaks.get('bf16', 0) / theirs.peaks.get('bf16', 1):.3f}, "
        f"DRAM {(got.mem_bandwidth_gbs or 0) / (theirs.mem_bandwidth_gbs or 1):.3f}"
    )
    return Roofs(Machine(ceilings, spec.sm_count, spec.l2_bytes), "carried", origin)


def roofs_for(
    spec: GPUSpec, measured: MeasuredCeilings | None = None, origin: str = "", side: str | None = None
) -> Roofs:
    """The roofs of `spec` on `side` (None: the first available of SIDES). ValueError when `side` cannot
    be had (measured with no file and none committed)."""
    if side is not None and side not in SIDES:
        raise ValueError(f"side must be one of {', '.join(SIDES)}, got {side!r}")
    if measured is None and side in (None, "measured") and spec.key in reference_ceilings():
        measured, origin = reference_ceilings()[spec.key]
    if side in (None, "measured") and measured is not None:
        return _measured(spec, measured, origin or "the ceilings given")
    if side == "measured":
        raise ValueError(f"no measured ceilings for {spec.name}: give a ceilings file or choose another side")
    if side in (None, "carried") and (carried := _carried(spec)) is not None:
        return carried
    if side == "carried":
        raise ValueError(f"no reference ceilings to carry ({REFERENCE_GPU}'s are not committed here)")
    on = ceilings_of_spec(spec)
    return Roofs(on.machine("datasheet"), "datasheet", f"{spec.name} datasheet (nothing measured)")
