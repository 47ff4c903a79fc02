"""The results history: every run added, in one SQLite file (the standard library's sqlite3), keyed by
GPU model, commit, date and record key, so a regression can be judged against the history of a GPU
model and trends shown per model.

Each record is stored whole (its samples, telemetry, flags) with its run's header, so any run can be
read back as the `Run` it was (`History.run`) and gated on (reports.gate_history). Adding is idempotent:
a run is identified by the hash of its content, and a record by (GPU model, commit, created, record
key, GPU UUID); adding a run already there, even from a rewritten file, changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gpubench import results
from gpubench.results import Run

__all__ = ["DEFAULT_DB", "SCHEMA_VERSION", "History", "HistoryError", "RunRow", "run_id"]

DEFAULT_DB = "results/history.sqlite"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,           -- sha256 of the run's canonical JSON
    created TEXT NOT NULL, suite_commit TEXT NOT NULL, status TEXT NOT NULL,
    source TEXT, added TEXT NOT NULL,
    header TEXT NOT NULL               -- the results file without its records
);
CREATE TABLE IF NOT EXISTS records (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    gpu_model TEXT NOT NULL, gpu_uuid TEXT NOT NULL, suite_commit TEXT NOT NULL, created TEXT NOT NULL,
    workload TEXT NOT NULL, variant TEXT NOT NULL, shape TEXT NOT NULL, dtype TEXT NOT NULL,
    mode TEXT NOT NULL, status TEXT NOT NULL, median_s REAL, n INTEGER NOT NULL,
    record TEXT NOT NULL,              -- the record's JSON, samples included
    PRIMARY KEY (gpu_model, suite_commit, created, workload, variant, shape, dtype, mode, gpu_uuid)
);
CREATE INDEX IF NOT EXISTS records_by_run ON records (run_id);
CREATE INDEX IF NOT EXISTS records_by_workload ON records (gpu_model, workload, variant, dtype, mode);
"""


TABLES = ("meta", "runs", "records")  # a file whose tables include these is a history
_WAY_OUT = "restore it from a backup, or move it aside and `gpubench history add` the results files again"


class HistoryError(ValueError):
    """A history file that cannot be used, or a run it cannot take; the message says which and why."""


def run_id(run: Run) -> str:
    """A run's identity: the hash of its canonical JSON (the same run read from any file has it)."""
    return hashlib.sha256(results.dumps(run).encode()).hexdigest()


def _shape(shape) -> str:
    return json.dumps(dict(sorted(dict(shape).items())), separators=(",", ":"))


@dataclass(frozen=True)
class RunRow:
    run_id: str
    gpu_model: str
    created: str
    commit: str
    status: str
    source: str | None
    records: int


class History:
    """One history file. `History(path, create=False)` only reads: it opens the file read-only and
    refuses a path that holds no history; `create=True` (adding) makes the tables in a new or empty file.
    Either way an SQLite file of another program is refused, never adopted, and every query that meets a
    corrupt file ends in HistoryError naming the file and what to do."""

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        if self.path.is_dir():
            raise HistoryError(f"{self.path}: is a directory, not a history file")
        if not create and not self.path.is_file():
            raise HistoryError(f"{self.path}: no such history (add runs with `gpubench history add`)")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path)
            else:  # a read never writes, not even the tables of an empty file
                self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except (sqlite3.Error, OSError) as exc:
            raise HistoryError(
                f"{self.path}: cannot be opened: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        try:
            self._open(create)
        except HistoryError:
            self.db.close()
            raise

    @contextmanager
    def _guard(self):
        """sqlite3's errors as HistoryError: the file, what SQLite said, and the way out."""
        try:
            yield
        except sqlite3.Error as exc:
            raise HistoryError(
                f"{self.path}: not a gpubench history SQLite can read ({exc}): if it was one, {_WAY_OUT}"
            ) from None

    def _rows(self, query: str, params: Sequence = ()) -> list[tuple]:
        with self._guard():
            return self.db.execute(query, params).fetchall()

    def _open(self, create: bool) -> None:
        tables = {t for (t,) in self._rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables and not create:
            raise HistoryError(f"{self.path}: holds no history (add runs with `gpubench history add`)")
        if tables and not set(TABLES) <= tables:
            raise HistoryError(
                f"{self.path}: an SQLite file of another program (tables {', '.join(sorted(tables))}), not a "
                "gpubench history: name another file"
            )
        if not tables:
            with self._guard(), self.db:
                self.db.executescript(_SCHEMA)
                self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        got = self._rows("SELECT value FROM meta WHERE key = 'schema_version'")
        if not got or got[0][0] != str(SCHEMA_VERSION):
            version = got[0][0] if got else "missing"
            raise HistoryError(
                f"{self.path}: history schema version {version}, this gpubench reads {SCHEMA_VERSION}"
            )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --------------------------------------------------------------------------------------- adding

    def add(self, run: Run) -> tuple[bool, str]:
        """(added, what happened): the run's records, or nothing when it (or each of its records) is
        already here. Commits on success."""
        rid = run_id(run)
        if self._rows("SELECT 1 FROM runs WHERE run_id = ?", (rid,)):
            return False, "already in the history"
        commit = run.software.suite_commit or ""
        header = {k: v for k, v in run.to_json().items() if k != "records"}
        rows = [
            (
                rid,
                run.device_of(r).model,
                r.gpu_uuid or run.device_of(r).uuid or "",
                commit,
                run.created,
                r.workload,
                r.variant,
                _shape(r.shape),
                r.dtype,
                r.mode,
                r.status,
                r.median,
                r.timing.n if r.timing else 0,
                json.dumps(r.to_json()),
            )
            for r in run.records
        ]
        with self._guard(), self.db:
            self.db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rid, run.created, commit, run.status, run.path, results.utc_now(), json.dumps(header)),
            )
            before = self.db.total_changes
            self.db.executemany("INSERT OR IGNORE INTO records VALUES " + f"({', '.join('?' * 14)})", rows)
            added = self.db.total_changes - before
            if rows and added < len(rows):  # the same measurement, added before from another file
                self.db.rollback()
                return False, f"its records are already in the history ({len(rows) - added} of {len(rows)})"
        return True, f"{added} records"

    # --------------------------------------------------------------------------------------- reading

    def models(self) -> list[str]:
        return [m for (m,) in self._rows("SELECT DISTINCT gpu_model FROM records ORDER BY gpu_model")]

    def workloads(self) -> list[str]:
        return [w for (w,) in self._rows("SELECT DISTINCT workload FROM records ORDER BY workload")]

    def variants(self, workload: str) -> list[str]:
        q = "SELECT DISTINCT variant FROM records WHERE workload = ? ORDER BY variant"
        return [v for (v,) in self._rows(q, (workload,))]

    def runs(self, gpu_model: str | None = None, last: int | None = None) -> list[RunRow]:
        """Runs with records of `gpu_model` (every model when None), one row per (run, model), oldest
        first; `last`: only the newest so many."""
        q = (
            "SELECT r.run_id, rec.gpu_model, r.created, r.suite_commit, r.status, r.source, COUNT(*) "
            "FROM runs r JOIN records rec ON rec.run_id = r.run_id "
            + ("WHERE rec.gpu_model = ? " if gpu_model else "")
            + "GROUP BY r.run_id, rec.gpu_model ORDER BY r.created DESC, r.run_id"
        )
        rows = [RunRow(*row) for row in self._rows(q, (gpu_model,) if gpu_model else ())]
        return list(reversed(rows[:last] if last else rows))

    def run(self, rid: str, gpu_model: str | None = None) -> Run:
        """The run as added (only its records of `gpu_model`, on that model's device, when given)."""
        got = self._rows("SELECT header FROM runs WHERE run_id = ?", (rid,))
        if not got:
            raise HistoryError(f"{self.path}: no run {rid}")
        q = "SELECT record FROM records WHERE run_id = ?" + (" AND gpu_model = ?" if gpu_model else "")
        try:
            recs = [json.loads(r) for (r,) in self._rows(q, (rid, gpu_model) if gpu_model else (rid,))]
            header = json.loads(got[0][0])
        except json.JSONDecodeError as exc:
            raise HistoryError(f"{self.path}: run {rid[:12]} is stored damaged ({exc}): {_WAY_OUT}") from None
        run = results.parse_run({**header, "records": recs}, f"{self.path}:{rid[:12]}")
        if gpu_model and run.gpu != gpu_model:
            run.device = next(d for d in run.gpus if d.model == gpu_model)
        return run

    def records(self, workload: str, variants: Sequence[str] = (), gpu_model: str | None = None):
        """One row per stored record of `workload` (pandas DataFrame): gpu_model, created, commit,
        variant, shape (JSON), dtype, mode, status, median_s, n, run_id; oldest first."""
        import pandas as pd

        where, args = ["workload = ?"], [workload]
        if variants:
            where.append(f"variant IN ({', '.join('?' * len(variants))})")
            args += list(variants)
        if gpu_model:
            where.append("gpu_model = ?")
            args.append(gpu_model)
        columns = ("gpu_model", "created", "suite_commit", "variant", "shape", "dtype", "mode", "status",
                   "median_s", "n", "run_id")  # fmt: skip
        q = f"SELECT {', '.join(columns)} FROM records WHERE {' AND '.join(where)} ORDER BY created, variant"
        frame = pd.DataFrame(self._rows(q, args), columns=list(columns))
        return frame.rename(columns={"suite_commit": "commit"})
