"""Regression gate: a candidate run against a baseline run on the same GPU model, one verdict per record.

Pure (numpy and the standard library; no torch, no `kernels`): it reads results files only.

Method, per record key present and ok in both runs (see docs/gating.md for the reasoning):

1. Clock normalisation. When both records carry NVML telemetry and the relevant clock's mean differs by
   more than `CLOCK_TOLERANCE` (1 %), the candidate's samples are rescaled to the baseline's clock:
   by cand_sm/base_sm for compute-bound records, by cand_mem/base_mem for memory-bound ones. The bound
   comes from the record's roofline annotation (measured ceilings first, then datasheet), else from the
   datasheet prediction when `roofline` is importable; with the bound unknown nothing is rescaled and
   the record says so.
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
   The bootstrap interval only knows the noise within one run; two runs of identical code also differ
   by a between-run drift (clocks, placement, temperature: ~0.5-2 % on a GPU). The floor is that
   allowance: a ratio within 1 +- f is never SLOWER or FASTER, however tight its interval. The floor sits
   below the threshold so that a true slowdown of the threshold's size (observed as t +- jitter) is still
   caught; `noise_floor_pct = threshold_pct` gives the strict rule (whole interval beyond the threshold).
4. Records flagged "throttled" or "clock_sagged" in either run are THROTTLED-EXCLUDED, "launch_gaps"
   EXCLUDED: listed, kept out of the verdict.

Exit codes (`GateReport.exit_code`, and `reports.gate_cli`): 0 no confirmed regression, 1 at least one
SLOWER record, 2 a usage or file error.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gpubench.bench import results

SAME = "SAME"
FASTER = "FASTER"
SLOWER = "SLOWER"
UNCERTAIN = "UNCERTAIN"
THROTTLED_EXCLUDED = "THROTTLED-EXCLUDED"
EXCLUDED = "EXCLUDED"
VERDICTS = (SLOWER, UNCERTAIN, FASTER, SAME, THROTTLED_EXCLUDED, EXCLUDED)

# Flags that take a record out of the verdict: the GPU slowed itself down, or host time leaked in.
THROTTLE_FLAGS = ("throttled", "clock_sagged")
UNRELIABLE_FLAGS = ("launch_gaps",)
# Clocks that differ by less than this (relative) are taken as equal.
CLOCK_TOLERANCE = 0.01
DEFAULT_THRESHOLD_PCT = 5.0
DEFAULT_CONFIDENCE = 0.99
DEFAULT_RESAMPLES = 2000
# Fewer samples than this on either side: UNCERTAIN, no verdict (the bootstrap of a median of a handful of
# values is too coarse). 10 is the smallest count the stopping rule of any profile ends with.
MIN_SAMPLES = 10
# Bootstrap work is chunked to keep index arrays at most this many elements.
_CHUNK_ELEMENTS = 4_000_000

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_ERROR = 2

__all__ = [
    "EXCLUDED",
    "FASTER",
    "SAME",
    "SLOWER",
    "THROTTLED_EXCLUDED",
    "UNCERTAIN",
    "VERDICTS",
    "ClockNormalisation",
    "GateError",
    "GateReport",
    "RecordVerdict",
    "RunInfo",
    "classify",
    "gate",
    "ratio_interval",
]


class GateError(ValueError):
    """The gate cannot compare these runs (different GPU models, invalid settings)."""


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
    """(ratio, lo, hi): median(candidate) / median(baseline) and its percentile-bootstrap interval.

    The two samples are resampled independently (they are independent runs), `resamples` times each.
    """
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


# ----------------------------------------------------------------------------------------- data model


@dataclass
class RunInfo:
    """What identifies one run in a report."""

    gpu: str
    commit: str
    created: str
    status: str
    synthetic: bool
    uuid: str | None = None
    path: str | None = None

    @classmethod
    def from_doc(cls, doc: dict, path: str | None = None) -> RunInfo:
        software = doc.get("software") or {}
        return cls(
            gpu=results.device_model(doc),
            commit=str(software.get("suite_commit") or "unknown"),
            created=str(doc.get("created") or "unknown"),
            status=str(doc.get("status") or "unknown"),
            synthetic=bool(doc.get("synthetic")),
            uuid=(doc.get("device") or {}).get("uuid"),
            path=path,
        )


@dataclass
class ClockNormalisation:
    """How (and whether) the candidate's samples were rescaled to the baseline's clock."""

    applied: bool
    clock: str | None  # "sm" or "mem": the clock the record's bound follows
    bound: str | None  # "compute", "memory" or None (unknown)
    bound_source: str | None  # "roofline.measured", "roofline.datasheet", "prediction"
    baseline_mhz: float | None
    candidate_mhz: float | None
    factor: float  # candidate samples were multiplied by this (1.0 when not applied)
    note: str


@dataclass
class RecordVerdict:
    key: tuple
    label: str
    verdict: str
    baseline_median: float | None = None
    candidate_median: float | None = None  # as measured, before any clock normalisation
    ratio: float | None = None  # candidate / baseline, after clock normalisation
    ci_low: float | None = None
    ci_high: float | None = None
    n_baseline: int = 0
    n_candidate: int = 0
    clock: ClockNormalisation | None = None
    flags: list[str] = field(default_factory=list)  # exclusion flags, "baseline:throttled", ...
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key": key_dict(self.key)}


@dataclass
class GateReport:
    baseline: RunInfo
    candidate: RunInfo
    threshold_pct: float
    noise_floor_pct: float
    confidence: float
    resamples: int
    seed: int
    cross_hardware: bool  # True when the GPU models differ and the comparison was allowed anyway
    records: list[RecordVerdict]
    added: list[str]  # labels of ok records only in the candidate
    removed: list[str]  # labels of ok records only in the baseline
    not_compared: list[dict[str, Any]]  # in both, but not ok in at least one: {label, baseline, candidate}
    notes: list[str] = field(default_factory=list)

    # --- summaries
    def by_verdict(self, verdict: str) -> list[RecordVerdict]:
        return [r for r in self.records if r.verdict == verdict]

    @property
    def counts(self) -> dict[str, int]:
        return {v: len(self.by_verdict(v)) for v in VERDICTS}

    @property
    def compared(self) -> int:
        return sum(1 for r in self.records if r.verdict in (SLOWER, FASTER, SAME, UNCERTAIN))

    @property
    def exit_code(self) -> int:
        return EXIT_REGRESSION if self.by_verdict(SLOWER) else EXIT_OK

    @property
    def headline(self) -> str:
        c = self.counts
        if c[SLOWER]:
            text = (
                f"REGRESSION: {c[SLOWER]} of {self.compared} records SLOWER "
                f"(threshold {self.threshold_pct:g} %, noise floor {self.noise_floor_pct:g} %)"
            )
        elif self.compared == 0:
            text = "NOTHING COMPARED: the two runs have no ok records in common"
        elif c[UNCERTAIN]:
            text = (
                f"NO CONFIRMED REGRESSION: {self.compared} records compared, {c[UNCERTAIN]} UNCERTAIN "
                f"(more samples needed), {c[FASTER]} FASTER"
            )
        else:
            text = f"PASS: no regression in {self.compared} records ({c[SAME]} SAME, {c[FASTER]} FASTER)"
        if self.cross_hardware:
            text += f" [CROSS-HARDWARE: {self.baseline.gpu} vs {self.candidate.gpu}]"
        return text

    # --- renderings
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "gpubench.gate",
            "schema_version": 1,
            "headline": self.headline,
            "exit_code": self.exit_code,
            "counts": self.counts,
            "compared": self.compared,
            "settings": {
                "threshold_pct": self.threshold_pct,
                "noise_floor_pct": self.noise_floor_pct,
                "confidence": self.confidence,
                "resamples": self.resamples,
                "seed": self.seed,
                "method": "percentile bootstrap of the ratio of medians (candidate / baseline)",
            },
            "cross_hardware": self.cross_hardware,
            "synthetic": self.baseline.synthetic or self.candidate.synthetic,
            "baseline": asdict(self.baseline),
            "candidate": asdict(self.candidate),
            "records": [r.to_dict() for r in self.records],
            "added": list(self.added),
            "removed": list(self.removed),
            "not_compared": list(self.not_compared),
            "notes": list(self.notes),
        }

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(_finite_or_none(self.to_dict()), indent=indent)

    def _warnings(self) -> list[str]:
        out = []
        if self.cross_hardware:
            out.append(
                f"CROSS-HARDWARE COMPARISON: baseline ran on {self.baseline.gpu}, candidate on "
                f"{self.candidate.gpu}. The ratios mix the hardware change with any code change; "
                "this is not a regression gate."
            )
        synthetic = [
            s for s, i in (("baseline", self.baseline), ("candidate", self.candidate)) if i.synthetic
        ]
        if synthetic:
            which = "Both runs are" if len(synthetic) == 2 else f"The {synthetic[0]} is"
            out.append(f"{which} SYNTHETIC data (generated samples, not a measurement).")
        for side, info in (("baseline", self.baseline), ("candidate", self.candidate)):
            if info.status != "complete":
                out.append(f"The {side} run is {info.status!r}, not complete: some records may be missing.")
        return out + list(self.notes)

    def _settings_line(self) -> str:
        return (
            f"Ratio = candidate median / baseline median; {_pct(self.confidence)} percentile-bootstrap "
            f"interval ({self.resamples} resamples, seed {self.seed}). SLOWER: the whole interval above "
            f"1 + {self.noise_floor_pct:g} % (noise floor); SAME: the interval within "
            f"±{self.threshold_pct:g} % (threshold); UNCERTAIN: neither."
        )

    def _flagged(self) -> list[RecordVerdict]:
        order = {SLOWER: 0, UNCERTAIN: 1, FASTER: 2}
        rows = [r for r in self.records if r.verdict in order]
        # Worst first: SLOWER by decreasing ratio, then UNCERTAIN, then FASTER by increasing ratio.
        return sorted(
            rows,
            key=lambda r: (order[r.verdict], (r.ratio or 1.0) * (1 if r.verdict == FASTER else -1), r.label),
        )

    def to_markdown(self) -> str:
        mark = {EXIT_REGRESSION: "FAIL", EXIT_OK: "PASS"}[self.exit_code]
        lines = [f"## gpubench gate: {mark}", "", f"**{self.headline}**", ""]
        for w in self._warnings():
            lines += [f"> **Warning:** {_oneline(w)}", ">"]
        if lines[-1] == ">":
            lines[-1] = ""
        lines += [
            "| | baseline | candidate |",
            "|---|---|---|",
            f"| GPU | {_md(self.baseline.gpu)} | {_md(self.candidate.gpu)} |",
            f"| commit | `{_md(self.baseline.commit)}` | `{_md(self.candidate.commit)}` |",
            f"| created | {_md(self.baseline.created)} | {_md(self.candidate.created)} |",
            "",
        ]
        flagged = self._flagged()
        if flagged:
            lines += [
                "| verdict | record | baseline median | candidate median | ratio | "
                f"{_pct(self.confidence)} interval | n (base/cand) | notes |",
                "|---|---|---:|---:|---:|---|---:|---|",
            ]
            for r in flagged:
                lines.append(
                    f"| **{r.verdict}** | `{_md(r.label)}` | {fmt_time(r.baseline_median)} | "
                    f"{fmt_time(r.candidate_median)} | {fmt_ratio(r.ratio)} | "
                    f"[{fmt_ratio(r.ci_low)}, {fmt_ratio(r.ci_high)}] | {r.n_baseline}/{r.n_candidate} | "
                    f"{_md(_row_note(r))} |"
                )
            lines.append("")
        same = self.counts[SAME]
        lines.append(f"{same} record{'s' if same != 1 else ''} SAME (within ±{self.threshold_pct:g} %).")
        normalised = [r for r in self.records if r.clock and r.clock.applied]
        if normalised:
            lines.append(
                f"Clock normalisation applied to {len(normalised)} record(s): candidate time rescaled "
                "to the baseline's clock."
            )
        lines.append("")
        excluded = [r for r in self.records if r.verdict in (THROTTLED_EXCLUDED, EXCLUDED)]
        if excluded:
            lines += [f"<details><summary>{len(excluded)} record(s) excluded from the verdict</summary>", ""]
            lines += [f"- `{r.label}`: {r.verdict} ({', '.join(r.flags)})" for r in excluded]
            lines += ["", "</details>", ""]
        for title, items in (
            ("only in the candidate (added)", self.added),
            ("only in the baseline (removed)", self.removed),
        ):
            if items:
                lines += [f"<details><summary>{len(items)} record(s) {title}</summary>", ""]
                lines += [f"- `{label}`" for label in items]
                lines += ["", "</details>", ""]
        if self.not_compared:
            lines += [f"<details><summary>{len(self.not_compared)} record(s) not ok in one run</summary>", ""]
            lines += [
                f"- `{n['label']}`: baseline {n['baseline']}, candidate {n['candidate']}"
                + (f" ({_oneline(n['reason'])})" if n.get("reason") else "")
                for n in self.not_compared
            ]
            lines += ["", "</details>", ""]
        lines += [f"<sub>{self._settings_line()}</sub>", ""]
        return "\n".join(lines)

    def to_text(self) -> str:
        lines = [self.headline, ""]
        lines += [f"WARNING: {w}" for w in self._warnings()]
        lines += [
            f"baseline : {self.baseline.gpu}  commit {self.baseline.commit}  {self.baseline.created}",
            f"candidate: {self.candidate.gpu}  commit {self.candidate.commit}  {self.candidate.created}",
            "",
        ]
        header = ("verdict", "record", "baseline", "candidate", "ratio", "interval", "n", "notes")
        order = {v: i for i, v in enumerate(VERDICTS)}
        rows = [
            (
                r.verdict,
                r.label,
                fmt_time(r.baseline_median),
                fmt_time(r.candidate_median),
                fmt_ratio(r.ratio),
                f"[{fmt_ratio(r.ci_low)}, {fmt_ratio(r.ci_high)}]" if r.ci_low is not None else "",
                f"{r.n_baseline}/{r.n_candidate}",
                _row_note(r),
            )
            for r in sorted(self.records, key=lambda r: (order[r.verdict], r.label))
        ]
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
        for row in (header, *rows):
            lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
        for title, items in (
            ("added (candidate only)", self.added),
            ("removed (baseline only)", self.removed),
        ):
            if items:
                lines += ["", f"{title}: {len(items)}"] + [f"  {label}" for label in items]
        if self.not_compared:
            lines += ["", f"not ok in one run: {len(self.not_compared)}"]
            lines += [
                f"  {n['label']}: baseline {n['baseline']}, candidate {n['candidate']}"
                for n in self.not_compared
            ]
        lines += ["", self._settings_line()]
        return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------- formatting


def fmt_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.4g} {unit}"
    return f"{seconds / 1e-9:.4g} ns"


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.3f}"


def key_dict(key: tuple) -> dict[str, Any]:
    """A record key (bench.results.record_key) as JSON: named fields, the shape as a mapping."""
    workload, variant, shape, dtype, mode = key
    return {"workload": workload, "variant": variant, "shape": dict(shape), "dtype": dtype, "mode": mode}


def _pct(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def _oneline(text: str) -> str:
    return " ".join(str(text).split())


def _md(text: str) -> str:
    """Text for a markdown table cell (pipes escaped; GitHub honours the escape inside code spans too)."""
    return _oneline(text).replace("|", "\\|")


def _row_note(r: RecordVerdict) -> str:
    parts = []
    if r.clock is not None and (r.clock.applied or r.clock.note):
        parts.append(r.clock.note)
    if r.note:
        parts.append(r.note)
    return "; ".join(parts)


def _finite_or_none(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


# ----------------------------------------------------------------------------------------- records


def _samples(rec: dict) -> np.ndarray:
    """The record's finite, positive samples (JSON stores non-finite values as null)."""
    raw = (rec.get("timing") or {}).get("samples") or []
    xs = [float(x) for x in raw if isinstance(x, (int, float)) and math.isfinite(x) and x > 0]
    return np.asarray(xs, dtype=float)


def _clock_mean(rec: dict, which: str) -> float | None:
    tel = rec.get("telemetry") or {}
    if not tel.get("available"):
        return None
    value = (tel.get(which) or {}).get("mean")
    if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def _predicted_bound(rec: dict, doc: dict) -> str | None:
    """The datasheet roofline's bound for a record, when roofline.specs/model are importable."""
    if rec.get("flops") is None or not rec.get("bytes"):
        return None
    try:
        from gpubench.reports.compare import datasheet_ceilings, predict_time
    except ImportError:
        return None
    ceilings, _ = datasheet_ceilings(doc)
    if ceilings is None:
        return None
    pred = predict_time(rec, ceilings)
    return pred[1] if pred else None


def record_bound(rec: dict, doc: dict) -> tuple[str | None, str | None]:
    """("compute" | "memory" | None, where that came from) for a record."""
    roof = rec.get("roofline") or {}
    for side in ("measured", "datasheet"):
        bound = (roof.get(side) or {}).get("bound")
        if bound in ("compute", "memory"):
            return bound, f"roofline.{side}"
    bound = _predicted_bound(rec, doc)
    if bound in ("compute", "memory"):
        return bound, "prediction"
    return None, None


def _clock_normalisation(base: dict, cand: dict, base_doc: dict, cand_doc: dict) -> ClockNormalisation | None:
    """None when the clocks are unknown or equal within CLOCK_TOLERANCE; else what was (not) done."""
    clocks = {
        "sm": (_clock_mean(base, "sm_clock_mhz"), _clock_mean(cand, "sm_clock_mhz")),
        "mem": (_clock_mean(base, "mem_clock_mhz"), _clock_mean(cand, "mem_clock_mhz")),
    }
    differs = {
        k: b is not None and c is not None and abs(c / b - 1.0) > CLOCK_TOLERANCE
        for k, (b, c) in clocks.items()
    }
    if not any(differs.values()):
        return None
    bound, source = record_bound(base, base_doc)
    if bound is None:
        bound, source = record_bound(cand, cand_doc)
    if bound is None:
        which = "sm" if differs["sm"] else "mem"
        b, c = clocks[which]
        return ClockNormalisation(
            False,
            None,
            None,
            None,
            b,
            c,
            1.0,
            f"{which.upper()} clock {b:.0f} -> {c:.0f} MHz but the bound is unknown: not normalised",
        )
    which = "sm" if bound == "compute" else "mem"
    b, c = clocks[which]
    if not differs[which]:
        other = "sm" if which == "mem" else "mem"
        ob, oc = clocks[other]
        return ClockNormalisation(
            False,
            which,
            bound,
            source,
            b,
            c,
            1.0,
            f"{other.upper()} clock {ob:.0f} -> {oc:.0f} MHz ignored: {bound}-bound follows the "
            f"{which.upper()} clock",
        )
    factor = c / b
    return ClockNormalisation(
        True,
        which,
        bound,
        source,
        b,
        c,
        factor,
        f"clock-normalised: {bound}-bound, {which.upper()} clock {b:.0f} -> {c:.0f} MHz, "
        f"candidate time x{factor:.3f}",
    )


def _exclusion(base: dict, cand: dict) -> tuple[str | None, list[str]]:
    flags = []
    for side, rec in (("baseline", base), ("candidate", cand)):
        for f in rec.get("flags") or []:
            if f in THROTTLE_FLAGS or f in UNRELIABLE_FLAGS:
                flags.append(f"{side}:{f}")
    if any(f.split(":", 1)[1] in THROTTLE_FLAGS for f in flags):
        return THROTTLED_EXCLUDED, flags
    if flags:
        return EXCLUDED, flags
    return None, []


def _index(doc: dict) -> dict[tuple, dict]:
    """record_key -> record (a later duplicate replaces an earlier one, as a re-run would)."""
    return {results.record_key(rec): rec for rec in doc["records"]}


def _rng_for(seed: int, label: str) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(label.encode())])


def _compare_record(
    key: tuple,
    base: dict,
    cand: dict,
    base_doc: dict,
    cand_doc: dict,
    *,
    threshold: float,
    floor: float,
    confidence: float,
    resamples: int,
    seed: int,
    normalize_clocks: bool,
) -> RecordVerdict:
    label = results.key_label(key)
    xb, xc = _samples(base), _samples(cand)
    out = RecordVerdict(
        key=key,
        label=label,
        verdict=UNCERTAIN,
        baseline_median=float(np.median(xb)) if xb.size else None,
        candidate_median=float(np.median(xc)) if xc.size else None,
        n_baseline=int(xb.size),
        n_candidate=int(xc.size),
    )
    excluded, flags = _exclusion(base, cand)
    if excluded:
        out.verdict, out.flags = excluded, flags
        if out.baseline_median and out.candidate_median:
            out.ratio = out.candidate_median / out.baseline_median
        return out
    if normalize_clocks:
        out.clock = _clock_normalisation(base, cand, base_doc, cand_doc)
        if out.clock is not None and out.clock.applied:
            xc = xc * out.clock.factor
    if xb.size < MIN_SAMPLES or xc.size < MIN_SAMPLES:
        out.note = f"too few samples for a verdict (need {MIN_SAMPLES} on each side)"
        if xb.size and xc.size:
            out.ratio = float(np.median(xc) / np.median(xb))
        return out
    out.ratio, out.ci_low, out.ci_high = ratio_interval(xb, xc, confidence, resamples, _rng_for(seed, label))
    out.verdict = classify(out.ci_low, out.ci_high, threshold, floor)
    return out


# ----------------------------------------------------------------------------------------- the gate


def gate(
    baseline_doc: dict,
    candidate_doc: dict,
    threshold_pct: float = DEFAULT_THRESHOLD_PCT,
    cross_hardware: bool = False,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    *,
    noise_floor_pct: float | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    normalize_clocks: bool = True,
    baseline_path: str | None = None,
    candidate_path: str | None = None,
) -> GateReport:
    """Compare `candidate_doc` against `baseline_doc` (results documents, as `bench.results.read` returns).

    Raises `bench.results.ResultsError` for a document that is not a valid results file and `GateError`
    for invalid settings or, unless `cross_hardware`, different GPU models.
    """
    results.validate(baseline_doc, baseline_path or "baseline")
    results.validate(candidate_doc, candidate_path or "candidate")
    if not (0 < threshold_pct < 100):
        raise GateError(f"threshold must be a percentage in (0, 100), got {threshold_pct!r}")
    floor_pct = threshold_pct / 2 if noise_floor_pct is None else noise_floor_pct
    if not (0 <= floor_pct <= threshold_pct):
        raise GateError(f"noise floor must be in [0, threshold={threshold_pct:g}] %, got {floor_pct!r}")
    if not (0.5 <= confidence < 1):
        raise GateError(f"confidence must be in [0.5, 1), got {confidence!r}")
    if resamples < 100:
        raise GateError(f"resamples must be at least 100, got {resamples!r}")

    base_info = RunInfo.from_doc(baseline_doc, baseline_path)
    cand_info = RunInfo.from_doc(candidate_doc, candidate_path)
    differ = base_info.gpu != cand_info.gpu
    if differ and not cross_hardware:
        raise GateError(
            f"GPU models differ: baseline {base_info.gpu!r}, candidate {cand_info.gpu!r}; a regression "
            "gate compares runs on the same GPU model (use --cross-hardware to compare anyway, or "
            "`gpubench compare` for hardware generations)"
        )

    base_idx, cand_idx = _index(baseline_doc), _index(candidate_doc)
    verdicts, not_compared = [], []
    for key in sorted(base_idx.keys() & cand_idx.keys(), key=results.key_label):
        b, c = base_idx[key], cand_idx[key]
        if b["status"] != "ok" or c["status"] != "ok":
            not_compared.append(
                {
                    "label": results.key_label(key),
                    "baseline": b["status"],
                    "candidate": c["status"],
                    "reason": c.get("reason") if c["status"] != "ok" else b.get("reason"),
                }
            )
            continue
        verdicts.append(
            _compare_record(
                key,
                b,
                c,
                baseline_doc,
                candidate_doc,
                threshold=threshold_pct / 100,
                floor=floor_pct / 100,
                confidence=confidence,
                resamples=resamples,
                seed=seed,
                normalize_clocks=normalize_clocks,
            )
        )

    def ok_only(a: dict, b: dict) -> list[str]:
        keys = [k for k in a.keys() - b.keys() if a[k]["status"] == "ok"]
        return sorted(results.key_label(k) for k in keys)

    notes = []
    if any(n["baseline"] == "ok" and n["candidate"] == "failed" for n in not_compared):
        notes.append("Some records that were ok in the baseline FAILED in the candidate (see the list).")
    return GateReport(
        baseline=base_info,
        candidate=cand_info,
        threshold_pct=float(threshold_pct),
        noise_floor_pct=float(floor_pct),
        confidence=float(confidence),
        resamples=int(resamples),
        seed=int(seed),
        cross_hardware=bool(differ and cross_hardware),
        records=verdicts,
        added=ok_only(cand_idx, base_idx),
        removed=ok_only(base_idx, cand_idx),
        not_compared=not_compared,
        notes=notes,
    )
