"""A cluster submission's manifest (`gpubench submit` writes it, `gpubench merge DIR` reads it): which
plan items each job of a job array runs, its job id and how it ended.

A submission folder holds
    manifest.json        this file
    shards/<name>.json   each job's plan items (`gpubench run --items`)
    results/<name>*.json each job's results file(s): one per node of the job
A shard's name says its round ("r1-003": the first submission's job 3; `--resume` adds round 2, ...):
an item belongs to the latest shard that lists it, and it is missing when no results file holds it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpubench.results.codec import FieldError, Struct
from gpubench.results.io import ResultsError, load_json, write
from gpubench.results.records import RecordKey
from gpubench.results.run import utc_now

__all__ = [
    "MANIFEST",
    "RESULTS_DIR",
    "SHARDS_DIR",
    "SUBMISSION_SCHEMA",
    "Shard",
    "Submission",
    "is_submission",
    "read_submission",
    "result_files",
    "write_submission",
]

SUBMISSION_SCHEMA = "gpubench.submission"
SUBMISSION_SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
SHARDS_DIR = "shards"
RESULTS_DIR = "results"
# A shard's state before the scheduler has the final word on it.
WRITTEN, SUBMITTED, COMPLETED = "written", "submitted", "COMPLETED"


@dataclass
class Shard(Struct):
    """One job of the array: its plan items (bench.run.plan.PlanItem's JSON) and how it went."""

    name: str
    round: int
    items: list[dict[str, Any]]
    job_id: str | None = None
    state: str = WRITTEN  # then SUBMITTED, then the scheduler's word: COMPLETED, FAILED, TIMEOUT, ...
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def keys(self) -> list[RecordKey]:
        return [
            RecordKey.of(i["workload"], i["variant"], i["shape"], i["dtype"], i["mode"]) for i in self.items
        ]

    def describe(self) -> str:
        job = f"job {self.job_id}" if self.job_id else "not submitted"
        return f"{self.name} ({job}, {self.state}{': ' + self.error if self.error else ''})"


@dataclass
class Submission(Struct):
    profile: str
    shards: list[Shard] = field(default_factory=list)
    created: str = field(default_factory=utc_now)
    options: dict[str, Any] = field(default_factory=dict)  # the scheduler options, reused by --resume
    schema: str = SUBMISSION_SCHEMA
    schema_version: int = SUBMISSION_SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    path: str | None = field(default=None, metadata={"transient": True}, compare=False)

    def expected(self) -> dict[RecordKey, Shard]:
        """Every item of the submission -> the latest shard that runs it."""
        out: dict[RecordKey, Shard] = {}
        for shard in sorted(self.shards, key=lambda s: s.round):
            for key in shard.keys():
                out[key] = shard
        return out

    @property
    def rounds(self) -> int:
        return max((s.round for s in self.shards), default=0)


def is_submission(folder: str | os.PathLike) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def result_files(folder: str | os.PathLike) -> list[Path]:
    return sorted((Path(folder) / RESULTS_DIR).glob("*.json"))


def read_submission(folder: str | os.PathLike) -> Submission:
    path = Path(folder) / MANIFEST
    doc = load_json(path)
    if not isinstance(doc, dict) or doc.get("schema") != SUBMISSION_SCHEMA:
        raise ResultsError(f"{path}: not a gpubench submission manifest (schema {SUBMISSION_SCHEMA!r})")
    if doc.get("schema_version") != SUBMISSION_SCHEMA_VERSION:
        raise ResultsError(
            f"{path}: submission schema version {doc.get('schema_version')!r}, this gpubench reads "
            f"{SUBMISSION_SCHEMA_VERSION}"
        )
    try:
        sub = Submission.from_json(doc)
    except FieldError as exc:
        raise ResultsError(f"{path}: {exc}") from None
    sub.path = str(path)
    return sub


def write_submission(sub: Submission, folder: str | os.PathLike) -> Path:
    return write(sub, Path(folder) / MANIFEST)
