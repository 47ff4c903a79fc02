"""What the regression gate found: one verdict per record, and the report's text, markdown and JSON.

The method is reports.gate's; this module holds the results and how they are shown.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from gpubench.exits import EXIT_FOUND as EXIT_REGRESSION
from gpubench.exits import EXIT_OK
from gpubench.exits import EXIT_USAGE as EXIT_ERROR
from gpubench.fmt import fmt_ratio, fmt_time, md_cell, oneline
from gpubench.results import RecordKey, Run, finite_or_none

SAME = "SAME"
FASTER = "FASTER"
SLOWER = "SLOWER"
UNCERTAIN = "UNCERTAIN"
THROTTLED_EXCLUDED = "THROTTLED-EXCLUDED"
EXCLUDED = "EXCLUDED"
VERDICTS = (SLOWER, UNCERTAIN, FASTER, SAME, THROTTLED_EXCLUDED, EXCLUDED)


__all__ = [
    "EXCLUDED",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_REGRESSION",
    "FASTER",
    "SAME",
    "SLOWER",
    "THROTTLED_EXCLUDED",
    "UNCERTAIN",
    "VERDICTS",
    "ClockNormalisation",
    "GateReport",
    "RecordVerdict",
    "GateRun",
]


@dataclass
class GateRun:
    """What identifies one run in a gate report (gpubench.results.RunInfo is what a file says of its run)."""

    gpu: str
    commit: str
    created: str
    status: str
    synthetic: bool
    uuid: str | None = None
    path: str | None = None

    @classmethod
    def of(cls, run: Run) -> GateRun:
        return cls(
            gpu=run.gpu,
            commit=run.software.suite_commit or "unknown",
            created=run.created or "unknown",
            status=run.status,
            synthetic=run.synthetic,
            uuid=run.device.uuid,
            path=run.path,
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
    key: RecordKey
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
        return {**asdict(self), "key": self.key.to_json()}


@dataclass
class GateReport:
    baseline: GateRun
    candidate: GateRun
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
    def broken(self) -> list[dict[str, Any]]:
        """Records ok in the baseline that FAILED in the candidate: a kernel that broke is a regression."""
        return [n for n in self.not_compared if n["baseline"] == "ok" and n["candidate"] == "failed"]

    @property
    def exit_code(self) -> int:
        return EXIT_REGRESSION if self.by_verdict(SLOWER) or self.broken else EXIT_OK

    @property
    def headline(self) -> str:
        c = self.counts
        if c[SLOWER] or self.broken:
            parts = [f"{c[SLOWER]} of {self.compared} records SLOWER"] if c[SLOWER] else []
            parts += [f"{len(self.broken)} record(s) ok in the baseline FAILED"] if self.broken else []
            text = (
                f"REGRESSION: {'; '.join(parts)} "
                f"(threshold {self.threshold_pct:g} %, noise floor {self.noise_floor_pct:g} %)"
            )
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
        return json.dumps(finite_or_none(self.to_dict()), indent=indent)

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
            lines += [f"> **Warning:** {oneline(w)}", ">"]
        if lines[-1] == ">":
            lines[-1] = ""
        lines += [
            "| | baseline | candidate |",
            "|---|---|---|",
            f"| GPU | {md_cell(self.baseline.gpu)} | {md_cell(self.candidate.gpu)} |",
            f"| commit | `{md_cell(self.baseline.commit)}` | `{md_cell(self.candidate.commit)}` |",
            f"| created | {md_cell(self.baseline.created)} | {md_cell(self.candidate.created)} |",
            "",
        ]
        lines += self._markdown_flagged()
        same = self.counts[SAME]
        lines.append(f"{same} record{'s' if same != 1 else ''} SAME (within ±{self.threshold_pct:g} %).")
        normalised = [r for r in self.records if r.clock and r.clock.applied]
        if normalised:
            lines.append(
                f"Clock normalisation applied to {len(normalised)} record(s): candidate time rescaled "
                "to the baseline's clock."
            )
        lines.append("")
        lines += self._markdown_lists()
        lines += [f"<sub>{self._settings_line()}</sub>", ""]
        return "\n".join(lines)

    def _markdown_flagged(self) -> list[str]:
        """The table of the records that are not SAME (what a reviewer must look at), blank line after."""
        flagged = self._flagged()
        if not flagged:
            return []
        lines = [
            "| verdict | record | baseline median | candidate median | ratio | "
            f"{_pct(self.confidence)} interval | n (base/cand) | notes |",
            "|---|---|---:|---:|---:|---|---:|---|",
        ]
        for r in flagged:
            lines.append(
                f"| **{r.verdict}** | `{md_cell(r.label)}` | {fmt_time(r.baseline_median, 4)} | "
                f"{fmt_time(r.candidate_median, 4)} | {fmt_ratio(r.ratio)} | "
                f"[{fmt_ratio(r.ci_low)}, {fmt_ratio(r.ci_high)}] | {r.n_baseline}/{r.n_candidate} | "
                f"{md_cell(_row_note(r))} |"
            )
        return lines + [""]

    def _markdown_lists(self) -> list[str]:
        """Folded lists: records excluded from the verdict, added, removed, and not ok in one run."""
        lines = []
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
                + (f" ({oneline(n['reason'])})" if n.get("reason") else "")
                for n in self.not_compared
            ]
            lines += ["", "</details>", ""]
        return lines

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
                fmt_time(r.baseline_median, 4),
                fmt_time(r.candidate_median, 4),
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


def _pct(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def _row_note(r: RecordVerdict) -> str:
    parts = []
    if r.clock is not None and (r.clock.applied or r.clock.note):
        parts.append(r.clock.note)
    if r.note:
        parts.append(r.note)
    return "; ".join(parts)
