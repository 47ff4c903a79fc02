"""Regression gate: a candidate run against a baseline run on the same GPU model, one verdict per record.

Pure (numpy and the standard library; no torch, no `kernels`): it reads results files only.

Method, per record key present and ok in both runs (see docs/gating.md for the reasoning):

1. Clock normalisation. When both records carry NVML telemetry and the relevant clock's mean differs by
   more than `CLOCK_TOLERANCE` (1 %), the candidate's samples are rescaled to the baseline's clock:
   by cand_sm/base_sm for compute-bound records, by cand_mem/base_mem for memory-bound ones. The bound
   is the record's roofline placement (gpubench.roofline.placement: measured ceilings first, the
   datasheet's where none were measured); with the bound unknown nothing is rescaled and the record says so.
2. A percentile-bootstrap interval (`confidence`, default 99 %) for the ratio of medians candidate /
   baseline: each run's samples are resampled independently (`resamples`, default 2000; seeded from
   `seed` and the record's label, so a verdict never depends on which other records are present).
3. The verdict from the interval [lo, hi], the practical threshold t (`threshold_pct`) and the
   between-run noise floor f (`noise_floor_pct`, default t / 2):
       SLOWER     lo > 1 + f          confidently slower by more than run-to-run drift explains
       FASTER     hi < 1 - f          the same, the other way
       SAME       1 - t <= lo and hi <= 1 + t     no change as large as the threshold is plausible
       UNCERTAIN  anything else       the interval reaches past the threshold but not clear of the
                                       floor: more samples are needed to tell
   The floor is the allowance for between-run drift (clocks, placement, temperature: ~0.5-2 % on a GPU)
   that the bootstrap of one run cannot see; `noise_floor_pct = threshold_pct` gives the strict rule.
4. Records flagged "throttled" or "clock_sagged" in either run are THROTTLED-EXCLUDED, "launch_gaps"
   EXCLUDED: listed, kept out of the verdict.

The gate refuses (GateError, exit 2) what it cannot judge: different GPU models (unless
`cross_hardware`), a run that is not complete (unless `allow_partial`), and runs with no ok record in
common. Samples that are not positive finite times never get this far: reading the file refuses them.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from gpubench.reports.gate_report import (
    EXCLUDED,
    FASTER,
    SAME,
    SLOWER,
    THROTTLED_EXCLUDED,
    UNCERTAIN,
    ClockNormalisation,
    GateReport,
    GateRun,
    RecordVerdict,
)
from gpubench.results import Record, RecordKey, Run
from gpubench.results.provenance import KNOBS, TEST_ONLY_KNOBS
from gpubench.roofline.placement import PlacedRun

# Flags that take a record out of the verdict: the GPU slowed itself down, or host time leaked in.
THROTTLE_FLAGS = ("throttled", "clock_sagged")
UNRELIABLE_FLAGS = ("launch_gaps",)
# Clocks that differ by less than this (relative) are taken as equal.
CLOCK_TOLERANCE = 0.01
DEFAULT_THRESHOLD_PCT = 5.0
DEFAULT_CONFIDENCE = 0.99
DEFAULT_RESAMPLES = 2000
RESAMPLES_RANGE = (100, 100_000)
# Fewer samples than this on either side: UNCERTAIN, no verdict (the bootstrap of a median of a handful of
# values is too coarse). 10 is the smallest count the stopping rule of any profile ends with.
MIN_SAMPLES = 10
# Bootstrap work is chunked to keep index arrays at most this many elements.
_CHUNK_ELEMENTS = 4_000_000

__all__ = ["GateError", "classify", "gate", "ratio_interval"]


class GateError(ValueError):
    """The gate cannot judge these runs (see the module docstring); the message says why."""


# ----------------------------------------------------------------------------------------- statistics


def _bootstrap_medians(x: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    n = x.size
    out = np.empty(resamples)
    chunk = max(1, min(resamples, _CHUNK_ELEMENTS // n))
    for start in range(0, resamples, chunk):
        m = min(chunk, resamples - start)
        idx = rng.integers(0, n, size=(m, n))
        out[start : start + m] = np.median(x[idx], axis=1)
    return out


def ratio_interval(
    baseline: Sequence[float],
    candidate: Sequence[float],
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    rng: np.random.Generator | None = None,
) -> tuple[float, float, float]:
    """(ratio, lo, hi): median(candidate) / median(baseline) and its percentile-bootstrap interval."""
    b = np.asarray(baseline, dtype=float)
    c = np.asarray(candidate, dtype=float)
    if b.size == 0 or c.size == 0:
        raise ValueError("ratio_interval needs samples on both sides")
    rng = rng if rng is not None else np.random.default_rng(0)
    ratios = _bootstrap_medians(c, rng, resamples) / _bootstrap_medians(b, rng, resamples)
    alpha = 1.0 - confidence
    lo, hi = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    return float(np.median(c) / np.median(b)), float(lo), float(hi)


def classify(lo: float, hi: float, threshold: float, noise_floor: float) -> str:
    """The verdict for a ratio interval [lo, hi]; threshold and noise_floor are fractions (0.05 = 5 %)."""
    if lo > 1.0 + noise_floor:
        return SLOWER
    if hi < 1.0 - noise_floor:
        return FASTER
    if lo >= 1.0 - threshold and hi <= 1.0 + threshold:
        return SAME
    return UNCERTAIN


# ----------------------------------------------------------------------------------------- records


def _clock_mean(rec: Record, which: str) -> float | None:
    tel = rec.telemetry
    if tel is None or not tel.available:
        return None
    spread = tel.sm_clock_mhz if which == "sm" else tel.mem_clock_mhz
    return spread.mean if spread is not None and spread.mean > 0 else None


def record_bound(placed: PlacedRun, rec: Record) -> tuple[str | None, str | None]:
    """("compute" | "memory" | None, where that came from) for a record."""
    p = placed.of(rec)
    return p.bound if p is not None else (None, None)


def _clock_normalisation(
    base: Record, cand: Record, baseline: PlacedRun, candidate: PlacedRun
) -> ClockNormalisation | None:
    """None when the clocks are unknown or equal within CLOCK_TOLERANCE; else what was (not) done."""
    clocks = {k: (_clock_mean(base, k), _clock_mean(cand, k)) for k in ("sm", "mem")}
    differs = {
        k: b is not None and c is not None and abs(c / b - 1.0) > CLOCK_TOLERANCE
        for k, (b, c) in clocks.items()
    }
    if not any(differs.values()):
        return None
    bound, source = record_bound(baseline, base)
    if bound is None:
        bound, source = record_bound(candidate, cand)
    if bound is None:
        which = "sm" if differs["sm"] else "mem"
        b, c = clocks[which]
        note = f"{which.upper()} clock {b:.0f} -> {c:.0f} MHz but the bound is unknown: not normalised"
        return ClockNormalisation(False, None, None, None, b, c, 1.0, note)
    which = "sm" if bound == "compute" else "mem"
    b, c = clocks[which]
    if not differs[which]:
        other = "mem" if which == "sm" else "sm"
        ob, oc = clocks[other]
        note = (
            f"{other.upper()} clock {ob:.0f} -> {oc:.0f} MHz ignored: {bound}-bound follows the "
            f"{which.upper()} clock"
        )
        return ClockNormalisation(False, which, bound, source, b, c, 1.0, note)
    factor = c / b
    note = (
        f"clock-normalised: {bound}-bound, {which.upper()} clock {b:.0f} -> {c:.0f} MHz, "
        f"candidate time x{factor:.3f}"
    )
    return ClockNormalisation(True, which, bound, source, b, c, factor, note)


def _exclusion(base: Record, cand: Record) -> tuple[str | None, list[str]]:
    flags = [
        f"{side}:{f}"
        for side, rec in (("baseline", base), ("candidate", cand))
        for f in rec.flags
        if f in THROTTLE_FLAGS or f in UNRELIABLE_FLAGS
    ]
    if any(f.split(":", 1)[1] in THROTTLE_FLAGS for f in flags):
        return THROTTLED_EXCLUDED, flags
    return (EXCLUDED, flags) if flags else (None, [])


def _rng_for(seed: int, label: str) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(label.encode())])


def _compare_record(
    key: RecordKey, baseline: PlacedRun, candidate: PlacedRun, settings: dict, normalize_clocks: bool
) -> RecordVerdict:
    base, cand = baseline.run.index()[key], candidate.run.index()[key]
    xb, xc = np.asarray(base.timing.samples), np.asarray(cand.timing.samples)
    out = RecordVerdict(
        key=key,
        label=key.label,
        verdict=UNCERTAIN,
        baseline_median=base.median,
        candidate_median=cand.median,
        n_baseline=int(xb.size),
        n_candidate=int(xc.size),
    )
    excluded, flags = _exclusion(base, cand)
    if excluded:
        out.verdict, out.flags, out.ratio = excluded, flags, cand.median / base.median
        return out
    if normalize_clocks:
        out.clock = _clock_normalisation(base, cand, baseline, candidate)
        if out.clock is not None and out.clock.applied:
            xc = xc * out.clock.factor
    if xb.size < MIN_SAMPLES or xc.size < MIN_SAMPLES:
        out.note = f"too few samples for a verdict (need {MIN_SAMPLES} on each side)"
        out.ratio = float(np.median(xc) / np.median(xb))
        return out
    rng = _rng_for(settings["seed"], key.label)
    interval = ratio_interval(xb, xc, settings["confidence"], settings["resamples"], rng)
    out.ratio, out.ci_low, out.ci_high = interval
    out.verdict = classify(out.ci_low, out.ci_high, settings["threshold"], settings["floor"])
    return out


# ----------------------------------------------------------------------------------------- the gate


def provenance_notes(baseline: Run, candidate: Run) -> list[str]:
    """What the runs' provenance says against this comparison: a test-only knob or a dirty tree on
    either side, and environment knobs that differ between them (files without provenance: nothing)."""
    out = []
    for side, run in (("baseline", baseline), ("candidate", candidate)):
        prov = run.provenance
        if prov is None:
            continue
        set_knobs = [k for k in TEST_ONLY_KNOBS if k in prov.env]
        out += [f"The {side}: {k}={prov.env[k]} was set ({KNOBS[k]})." for k in set_knobs]
        if prov.dirty:
            out.append(f"The {side} ran from a tree with uncommitted changes.")
    if baseline.provenance is not None and candidate.provenance is not None:
        a, b = baseline.provenance.env, candidate.provenance.env
        differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in TEST_ONLY_KNOBS)
        if differ:
            changes = "; ".join(f"{k} {a.get(k, 'unset')} -> {b.get(k, 'unset')}" for k in differ)
            out.append(f"Environment knobs differ: {changes}")
    return out



def _check_settings(threshold_pct: float, floor_pct: float, confidence: float, resamples: int) -> None:
    if not (0 < threshold_pct < 100):
        raise GateError(f"threshold must be a percentage in (0, 100), got {threshold_pct!r}")
    if not (0 <= floor_pct <= threshold_pct):
        raise GateError(f"noise floor must be in [0, threshold={threshold_pct:g}] %, got {floor_pct!r}")
    if not (0.5 <= confidence < 1):
        raise GateError(f"confidence must be in [0.5, 1), got {confidence!r}")
    lo, hi = RESAMPLES_RANGE
    if not (lo <= resamples <= hi):
        raise GateError(f"resamples must be between {lo} and {hi}, got {resamples!r}")


def _check_runs(baseline: PlacedRun, candidate: PlacedRun, cross_hardware: bool, allow_partial: bool) -> None:
    b, c = baseline.run, candidate.run
    if b.gpu != c.gpu and not cross_hardware:
        raise GateError(
            f"GPU models differ: baseline {b.gpu!r}, candidate {c.gpu!r}; a regression gate compares runs on "
            "the same GPU model (use --cross-hardware to compare anyway, or `gpubench compare` for hardware "
            "generations)"
        )
    for side, run in (("baseline", b), ("candidate", c)):
        if run.status != "complete" and not allow_partial:
            raise GateError(
                f"the {side} run {run.where} is {run.status!r}, not complete: records may be missing "
                "(use --allow-partial to gate what it holds)"
            )
    if not c.ok_records():
        raise GateError(f"the candidate {c.where} has no ok record: nothing to gate")
    if not {r.key for r in b.ok_records()} & {r.key for r in c.ok_records()}:
        raise GateError(
            f"the candidate {c.where} and the baseline {b.where} have no ok record in common: nothing to "
            "compare (different workloads, shapes, dtypes or modes?)"
        )


def gate(
    baseline: PlacedRun,
    candidate: PlacedRun,
    threshold_pct: float = DEFAULT_THRESHOLD_PCT,
    cross_hardware: bool = False,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    *,
    noise_floor_pct: float | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    normalize_clocks: bool = True,
    allow_partial: bool = False,
) -> GateReport:
    """Compare a candidate run against a baseline run (both placed on their rooflines)."""
    floor_pct = threshold_pct / 2 if noise_floor_pct is None else noise_floor_pct
    _check_settings(threshold_pct, floor_pct, confidence, resamples)
    _check_runs(baseline, candidate, cross_hardware, allow_partial)
    settings = {
        "threshold": threshold_pct / 100, "floor": floor_pct / 100, "confidence": confidence,
        "resamples": resamples, "seed": seed,
    }  # fmt: skip
    base_idx, cand_idx = baseline.run.index(), candidate.run.index()
    verdicts, not_compared = [], []
    for key in sorted(base_idx.keys() & cand_idx.keys(), key=lambda k: k.label):
        b, c = base_idx[key], cand_idx[key]
        if not (b.ok and c.ok):
            reason = c.reason if not c.ok else b.reason
            entry = {"label": key.label, "baseline": b.status, "candidate": c.status, "reason": reason}
            not_compared.append(entry)
            continue
        verdicts.append(_compare_record(key, baseline, candidate, settings, normalize_clocks))

    def ok_only(a: dict, b: dict) -> list[str]:
        return sorted(k.label for k in a.keys() - b.keys() if a[k].ok)

    return GateReport(
        notes=provenance_notes(baseline.run, candidate.run),
        baseline=GateRun.of(baseline.run),
        candidate=GateRun.of(candidate.run),
        threshold_pct=float(threshold_pct),
        noise_floor_pct=float(floor_pct),
        confidence=float(confidence),
        resamples=int(resamples),
        seed=int(seed),
        cross_hardware=baseline.run.gpu != candidate.run.gpu,
        records=verdicts,
        added=ok_only(cand_idx, base_idx),
        removed=ok_only(base_idx, cand_idx),
        not_compared=not_compared,
    )
