"""The gate against a history (`gpubench gate --baseline-history N CANDIDATE`): the candidate against
each of the last N runs of its GPU model, one verdict per record by majority, so that one noisy or
unlucky baseline cannot decide.

Each record is gated against each run exactly as `gate BASELINE CANDIDATE` would (reports.gate: clock
normalisation, bootstrap interval, exclusions). Its verdict is SLOWER, FASTER or SAME when more than
half of the runs it was compared with say so, else UNCERTAIN; runs where the record was excluded
(throttled) or absent do not vote. The row shown is the comparison of median ratio among the voters,
with the tally in its notes. A record ok in most of the runs that hold it and FAILED in the candidate
is a break (exit 1), as with one baseline. See docs/gating.md.
"""

from __future__ import annotations

import copy
from collections import Counter

from gpubench.reports.gate import GateError, gate
from gpubench.reports.gate_report import FASTER, SAME, SLOWER, UNCERTAIN, GateReport, GateRun, RecordVerdict
from gpubench.reports.history import History, RunRow, run_id
from gpubench.results import RecordKey
from gpubench.roofline.placement import PlacedRun, place_run

__all__ = ["gate_history"]

VOTING = (SLOWER, FASTER, SAME, UNCERTAIN)


def _model(candidate: PlacedRun) -> str:
    run = candidate.run
    models = sorted({run.device_of(r).model for r in run.records} or {run.gpu})
    if len(models) > 1:
        raise GateError(
            f"the candidate {run.where} holds records of several GPU models ({', '.join(models)}): "
            "a history is per GPU model; gate one model's records at a time"
        )
    return models[0]


def _baselines(history: History, candidate: PlacedRun, model: str, last: int) -> list[RunRow]:
    if last < 1:
        raise GateError(f"--baseline-history needs at least 1 run, got {last}")
    run = candidate.run
    own = (run.created, run.software.suite_commit or "")
    rows = [r for r in history.runs(model) if r.run_id != run_id(run) and (r.created, r.commit) != own]
    if not rows:
        known = ", ".join(history.models()) or "none"
        raise GateError(
            f"the history {history.path} holds no other run of {model} to gate against "
            f"(GPU models in it: {known})"
        )
    return rows[-last:]


def _vote(key: RecordKey, per_run: list[tuple[RunRow, RecordVerdict]]) -> RecordVerdict:
    voters = [(row, v) for row, v in per_run if v.verdict in VOTING]
    if not voters:  # excluded against every run: as against the newest
        return per_run[-1][1]
    tally = Counter(v.verdict for _, v in voters)
    need = len(voters) // 2 + 1
    verdict = next((x for x in (SLOWER, FASTER, SAME) if tally[x] >= need), UNCERTAIN)
    ranked = sorted(voters, key=lambda rv: rv[1].ratio if rv[1].ratio is not None else 1.0)
    row, shown = ranked[(len(ranked) - 1) // 2]
    out = copy.copy(shown)
    out.verdict = verdict
    counts = ", ".join(f"{x} {tally[x]}" for x in VOTING if tally[x])
    skipped = len(per_run) - len(voters)
    tail = f", {skipped} excluded" if skipped else ""
    commit = row.commit[:10] or "unknown"
    note = f"history: {counts} of {len(voters)} runs{tail}; shown: vs {row.created} ({commit})"
    out.note = "; ".join(filter(None, [shown.note, note]))
    return out


def _not_compared(reports: list[tuple[RunRow, GateReport]], voted: set[RecordKey]) -> list[dict]:
    """Per record compared in no run: the baseline status most runs had (ok: a FAILED candidate broke it)."""
    by_label: dict[str, list[dict]] = {}
    for _, rep in reports:
        for entry in rep.not_compared:
            by_label.setdefault(entry["label"], []).append(entry)
    voted_labels = {k.label for k in voted}
    out = []
    for label, entries in sorted(by_label.items()):
        if label in voted_labels:
            continue
        statuses = Counter(e["baseline"] for e in entries)
        base = "ok" if statuses["ok"] * 2 > len(entries) else statuses.most_common(1)[0][0]
        out.append({**entries[-1], "baseline": base})
    return out


def _combine(
    history: History, model: str, reports: list[tuple[RunRow, GateReport]], notes: list[str]
) -> GateReport:
    per_key: dict[RecordKey, list[tuple[RunRow, RecordVerdict]]] = {}
    for row, rep in reports:
        for v in rep.records:
            per_key.setdefault(v.key, []).append((row, v))
    records = [_vote(k, per_key[k]) for k in sorted(per_key, key=lambda k: k.label)]
    rows = [row for row, _ in reports]
    first = reports[0][1]
    commits = ", ".join(dict.fromkeys(r.commit[:10] or "unknown" for r in rows))
    baseline = GateRun(
        gpu=model,
        commit=commits,
        created=f"{rows[0].created} .. {rows[-1].created}",
        status="complete",
        synthetic=False,
        path=f"{history.path} (last {len(rows)} runs)",
    )
    notes = [
        f"baseline: the last {len(rows)} run(s) of {model} in the history {history.path}; each record's "
        "verdict is the majority of its verdicts against each of them"
    ] + notes
    return GateReport(
        baseline=baseline,
        candidate=first.candidate,
        threshold_pct=first.threshold_pct,
        noise_floor_pct=first.noise_floor_pct,
        confidence=first.confidence,
        resamples=first.resamples,
        seed=first.seed,
        cross_hardware=False,
        records=records,
        added=sorted(set.intersection(*(set(rep.added) for _, rep in reports))),
        removed=sorted(set().union(*(set(rep.removed) for _, rep in reports))),
        not_compared=_not_compared(reports, set(per_key)),
        notes=notes,
    )


def gate_history(history: History, candidate: PlacedRun, last: int, **settings) -> GateReport:
    """The candidate against the last `last` runs of its GPU model in `history`; `settings` are
    reports.gate.gate's keyword arguments (threshold_pct, noise_floor_pct, confidence, ...)."""
    model = _model(candidate)
    reports, notes = [], []
    for row in _baselines(history, candidate, model, last):
        try:
            reports.append((row, gate(place_run(history.run(row.run_id, model)), candidate, **settings)))
        except GateError as exc:  # this run cannot be compared: it does not vote
            notes.append(f"not gated against {row.created} ({row.commit[:10] or 'unknown'}): {exc}")
    if not reports:
        raise GateError(f"no run of {model} in the history {history.path} can be compared: {notes[0]}")
    return _combine(history, model, reports, notes)
