"""One run from several (`gpubench merge`): the per-GPU or per-job files of one measurement.

Lossless: every record is kept as read (samples, telemetry, flags) and names the GPU that measured it
(Record.gpu_uuid, filled from its file's device where the record did not say); every GPU is listed in
Run.gpus. Each source file is described in `run.extra["merged_from"]` (RunInfo.extra): its path,
creation time, status, commit, software versions, GPUs and the labels of its records, so a record's
commit and software can always be traced. Refused (MergeError): GPU models that differ (unless
`allow_mixed_gpus`), sources at different commits (unless `allow_mixed_commits`; the merged run's
commit is then unknown and `merged_from` says which record came from which), and a record key in two
sources, unless `duplicates` is "first" or "last" (the dropped records are named in the notes).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

from gpubench.results import Device, Record, RecordKey, Run, RunInfo

__all__ = ["DUPLICATE_RULES", "MergeError", "merge", "split_by_gpu"]

DUPLICATE_RULES = ("refuse", "first", "last")


class MergeError(ValueError):
    """Runs that cannot be merged as asked; the message names the files and the record."""


def _devices(run: Run) -> list[Device]:
    return list(run.gpus) or [run.device]


def _ident(d: Device) -> str:
    return d.uuid or f"name:{d.model}"


def _source(run: Run) -> list[dict[str, Any]]:
    """What the merged run keeps of one source (a merged source contributes its own sources)."""
    if inner := run.run.extra.get("merged_from"):
        return copy.deepcopy(inner)
    return [
        {
            "path": run.path,
            "created": run.created,
            "status": run.status,
            "commit": run.software.suite_commit,
            "software": run.software.to_json(),
            "profile": run.run.profile,
            "argv": list(run.run.argv),
            "started": run.run.started,
            "finished": run.run.finished,
            "gpus": [d.uuid for d in _devices(run)],
            "records": [r.label for r in run.records],
        }
    ]


def _check_models(runs: Sequence[Run], allow_mixed: bool) -> None:
    models: dict[str, str] = {}
    for run in runs:
        for rec in run.records:
            models.setdefault(run.device_of(rec).model, run.where)
        models.setdefault(run.gpu, run.where)
    if len(models) > 1 and not allow_mixed:
        named = ", ".join(f"{m} ({w})" for m, w in models.items())
        raise MergeError(
            f"the runs are from different GPU models: {named}; use --allow-mixed-gpus to merge anyway"
        )


def _commits(runs: Sequence[Run], allow_mixed: bool) -> set[str | None]:
    commits = {r.software.suite_commit for r in runs}
    if len(commits) > 1 and not allow_mixed:
        named = ", ".join(f"{r.software.suite_commit or 'unknown'} ({r.where})" for r in runs)
        raise MergeError(
            f"the runs were measured at different commits: {named}; one run is one commit "
            "(use --allow-mixed-commits to merge anyway)"
        )
    return commits


def _records(runs: Sequence[Run], duplicates: str) -> tuple[list[Record], list[str]]:
    if duplicates not in DUPLICATE_RULES:
        raise MergeError(f"duplicates must be one of {', '.join(DUPLICATE_RULES)}, got {duplicates!r}")
    kept: dict[RecordKey, tuple[Record, str]] = {}
    notes = []
    for run in runs:
        for rec in run.records:
            rec = copy.deepcopy(rec)
            if rec.gpu_uuid is None:
                rec.gpu_uuid = run.device_of(rec).uuid
            if rec.key in kept:
                first = kept[rec.key][1]
                if duplicates == "refuse":
                    raise MergeError(
                        f"{rec.label} is in both {first} and {run.where}; choose with --duplicates first|last"
                    )
                if duplicates == "first":
                    notes.append(f"merge: {rec.label} of {run.where} dropped (duplicate of {first})")
                    continue
                notes.append(f"merge: {rec.label} of {first} replaced by {run.where}'s (duplicates last)")
                del kept[rec.key]  # re-inserted below, at its new place
            kept[rec.key] = (rec, run.where)
    return [r for r, _ in kept.values()], notes


def _unique_devices(runs: Sequence[Run], records: list[Record]) -> list[Device]:
    seen: dict[str, Device] = {}
    for run in runs:
        for d in _devices(run):
            seen.setdefault(_ident(d), d)
    used = {r.gpu_uuid for r in records}
    return [d for d in seen.values() if d.uuid is None or d.uuid in used or not records]


def _info(runs: Sequence[Run], notes: list[str]) -> RunInfo:
    infos = [r.run for r in runs]
    same = lambda attr: len({repr(getattr(i, attr)) for i in infos}) == 1  # noqa: E731
    for attr in ("profile", "rule"):
        if not same(attr):
            notes.append(f"merge: the sources differ in {attr}; the merged run records none")
    started = [i.started for i in infos if i.started]
    finished = [i.finished for i in infos if i.finished]
    return RunInfo(
        profile=infos[0].profile if same("profile") else None,
        modes=sorted({m for i in infos for m in i.modes}),
        workloads=sorted({w for i in infos for w in i.workloads}),
        items=sum(i.items or 0 for i in infos) or None,
        started=min(started) if started else None,
        finished=max(finished) if finished else None,
        rule=infos[0].rule if same("rule") else None,
        notes=list(dict.fromkeys(n for i in infos for n in i.notes)) + notes,
    )


def merge(
    runs: Sequence[Run],
    allow_mixed_gpus: bool = False,
    duplicates: str = "refuse",
    allow_mixed_commits: bool = False,
) -> Run:
    """One run holding every record of `runs` (see the module docstring for what is refused)."""
    if not runs:
        raise MergeError("nothing to merge")
    _check_models(runs, allow_mixed_gpus)
    commits = _commits(runs, allow_mixed_commits)
    records, notes = _records(runs, duplicates)
    devices = _unique_devices(runs, records)
    software = runs[0].software
    if len(commits) > 1:
        software = dataclasses.replace(software, suite_commit=None)
        notes.append("merge: the sources are at several commits; merged_from says which record is whose")
    ceilings = [r.ceilings for r in runs if r.ceilings is not None]
    if any(c.to_json() != ceilings[0].to_json() for c in ceilings):
        notes.append(f"merge: the sources embed different measured ceilings; {runs[0].where}'s are kept")
    info = _info(runs, notes)
    info.extra["merged_from"] = [s for r in runs for s in _source(r)]
    return Run(
        device=devices[0] if devices else runs[0].device,
        software=software,
        run=info,
        records=records,
        created=min(r.created for r in runs),
        synthetic=any(r.synthetic for r in runs),
        status="complete" if all(r.status == "complete" for r in runs) else "partial",
        ceilings=ceilings[0] if ceilings else None,
        gpus=devices if len(devices) > 1 else [],
    )


def split_by_gpu(run: Run) -> list[Run]:
    """One run per GPU of `run` (its records, that GPU as the device): what `merge` puts back together."""
    out = []
    for d in _devices(run):
        part = copy.deepcopy(run)
        part.device, part.gpus = d, []
        part.records = [copy.deepcopy(r) for r in run.records if run.device_of(r) == d]
        part.run.items = len(part.records)
        out.append(part)
    return out


@dataclasses.dataclass
class SubmissionMerge:
    """A submission folder's results as one run, and what no results file holds, by the job that had it."""

    run: Run | None  # None when no job wrote a results file
    missing: dict[str, list[str]]  # shard description -> labels of its items without a record
    expected: int

    @property
    def missing_count(self) -> int:
        return sum(len(v) for v in self.missing.values())


def merge_submission(
    folder, allow_mixed_gpus: bool = False, duplicates: str = "refuse", allow_mixed_commits: bool = False
) -> SubmissionMerge:
    """The results of a `gpubench submit` folder merged (ResultsError for a bad file, MergeError as merge)."""
    from gpubench import results
    from gpubench.results.submission import read_submission, result_files

    sub = read_submission(folder)
    runs = [results.read(p) for p in result_files(folder)]
    run = merge(runs, allow_mixed_gpus, duplicates, allow_mixed_commits) if runs else None
    expected = sub.expected()
    present = {r.key for r in run.records} if run else set()
    missing: dict[str, list[str]] = {}
    for key, shard in expected.items():
        if key not in present:
            missing.setdefault(shard.describe(), []).append(key.label)
    if run is not None:
        run.run.items = len(expected)
        if missing:
            run.status = "partial"
            run.run.notes.append(f"merge: {sum(map(len, missing.values()))} of {len(expected)} items missing")
    return SubmissionMerge(run, missing, len(expected))
