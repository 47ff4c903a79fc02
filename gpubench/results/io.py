"""Reading, validating and writing results and ceilings files.

Every error names the file and, for a record, its index and what identifies it. Reading is strict by
default (the gate refuses a file with one bad record); `strict=False` drops a malformed record or a
duplicate, saying so in `Run.problems` (the report and the comparison show what they can).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from gpubench.fmt import shape_label
from gpubench.results.ceilings import CEILINGS_SCHEMA, CEILINGS_SCHEMA_VERSION, CeilingsFile
from gpubench.results.codec import FieldError
from gpubench.results.machine import Device
from gpubench.results.migrate import READABLE_VERSIONS, upgrade, with_role
from gpubench.results.records import Record
from gpubench.results.run import SCHEMA, SCHEMA_VERSION, EmbeddedCeilings, Run

__all__ = [
    "CeilingsError",
    "ResultsError",
    "dumps",
    "load_json",
    "no_records",
    "parse_ceilings",
    "parse_run",
    "read",
    "read_any",
    "read_ceilings",
    "write",
]


class ResultsError(ValueError):
    """A file that cannot be used: missing, truncated, foreign, of another version, or malformed."""


class CeilingsError(ResultsError):
    """A ceilings file that cannot be used."""


def load_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if path.is_dir():
        raise ResultsError(f"{path}: is a directory, not a results file")
    if not path.is_file():
        raise ResultsError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ResultsError(f"{path}: not a text file") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON (truncated or corrupt?): {exc}") from None


def _schema_of(doc: Any) -> Any:
    return doc.get("schema") if isinstance(doc, dict) else type(doc).__name__


def _label_guess(raw: Any) -> str:
    """What identifies a record that may be malformed, for an error message."""
    if not isinstance(raw, dict):
        return f"not an object but {type(raw).__name__}"
    shape = raw.get("shape")
    dims = shape_label(sorted(shape.items())) if isinstance(shape, dict) else "?"
    return f"{raw.get('workload')}/{raw.get('variant')}[{dims}|{raw.get('dtype')}|{raw.get('mode')}]"


def _records(raws: list[Any], where: str, strict: bool, problems: list[str]) -> list[Record]:
    out: list[Record] = []
    seen: dict[Any, int] = {}
    for i, raw in enumerate(raws):
        try:
            rec = Record.from_json(with_role(raw))
        except FieldError as exc:
            msg = f"{where}: record {i} ({_label_guess(raw)}): {exc}"
            if strict:
                raise ResultsError(msg) from None
            problems.append(f"{msg}; left out")
            continue
        if rec.key in seen:
            msg = f"{where}: record {i} ({rec.label}) duplicates record {seen[rec.key]}"
            if strict:
                raise ResultsError(msg)
            problems.append(f"{msg}; the first is kept")
            continue
        seen[rec.key] = i
        out.append(rec)
    return out


def _unnamed_gpu(*devices: Device) -> str | None:
    """A run's device section without the GPU's name: runs are grouped, gated and matched to ceilings by
    it, so a file that does not say is refused rather than read as GPU "unknown"."""
    for i, d in enumerate(devices):
        if not (isinstance(d.name, str) and d.name.strip()):
            where = "device" if i == 0 else f"gpus[{i - 1}]"
            return f"{where}.name: missing or empty: the file does not say which GPU measured it"
    return None


def parse_run(doc: Any, where: str = "results", strict: bool = True) -> Run:
    """A Run from a decoded results document (any readable version); ResultsError says what is wrong."""
    if _schema_of(doc) != SCHEMA:
        raise ResultsError(
            f"{where}: not a gpubench results file (schema {_schema_of(doc)!r}, expected {SCHEMA!r})"
        )
    version = doc.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise ResultsError(
            f"{where}: schema version {version!r}, but this gpubench reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}; re-run the benchmark or use a matching gpubench"
        )
    doc = upgrade(doc) if version != SCHEMA_VERSION else doc
    raws = doc.get("records")
    if not isinstance(raws, list):
        raise ResultsError(f"{where}: 'records' must be a list, got {type(raws).__name__}")
    try:
        run = Run.from_json({**doc, "records": []})
    except FieldError as exc:
        raise ResultsError(f"{where}: {exc}") from None
    if problem := _unnamed_gpu(run.device, *run.gpus):
        raise ResultsError(f"{where}: {problem}")
    run.path = where
    run.records = _records(raws, where, strict, run.problems)
    return run


def parse_ceilings(doc: Any, where: str = "ceilings") -> CeilingsFile:
    if _schema_of(doc) != CEILINGS_SCHEMA:
        raise CeilingsError(
            f"{where}: not a gpubench ceilings file "
            f"(schema {_schema_of(doc)!r}, expected {CEILINGS_SCHEMA!r})"
        )
    if doc.get("schema_version") != CEILINGS_SCHEMA_VERSION:
        raise CeilingsError(
            f"{where}: ceilings schema version {doc.get('schema_version')!r}, this gpubench reads "
            f"{CEILINGS_SCHEMA_VERSION}"
        )
    try:
        out = CeilingsFile.from_json(doc)
    except FieldError as exc:
        raise CeilingsError(f"{where}: {exc}") from None
    out.path = where
    return out


def read(path: str | os.PathLike, strict: bool = True) -> Run:
    """Load and validate a results file."""
    return parse_run(load_json(path), str(path), strict)


def no_records(run: Run, what: str) -> str | None:
    """Why `run` gives a command nothing to `what` (it holds no records: none measured, or every one
    malformed and left out), named by its path; None when it holds some. The one wording of every reader:
    a file named on the command line is refused with it (exit 2), one found in a folder is left out with
    it as a note (docs/cli.md)."""
    if run.records:
        return None
    left_out = f" ({len(run.problems)} malformed, left out)" if run.problems else ""
    return f"{run.where}: holds no records{left_out}: nothing to {what}"


def read_ceilings(path: str | os.PathLike) -> CeilingsFile:
    return parse_ceilings(load_json(path), str(path))


def read_embedded_ceilings(path: str | os.PathLike) -> EmbeddedCeilings:
    """A ceilings file (`gpubench micro`) as a run embeds it: the ceilings, the card they came from, when,
    and the path."""
    cf = read_ceilings(path)
    return EmbeddedCeilings(cf.ceilings, cf.device.name, cf.device.uuid, cf.created, str(path))


def read_any(path: str | os.PathLike, strict: bool = True) -> Run | CeilingsFile:
    """A results or a ceilings file, whichever `path` holds; ResultsError for anything else."""
    doc = load_json(path)
    if _schema_of(doc) == CEILINGS_SCHEMA:
        return parse_ceilings(doc, str(path))
    if _schema_of(doc) == SCHEMA:
        return parse_run(doc, str(path), strict)
    raise ResultsError(
        f"{path}: not a gpubench results or ceilings file (schema {_schema_of(doc)!r}, expected "
        f"{SCHEMA!r} or {CEILINGS_SCHEMA!r})"
    )


def dumps(obj: Run | CeilingsFile) -> str:
    return json.dumps(obj.to_json(), indent=1) + "\n"


def write(obj: Run | CeilingsFile, path: str | os.PathLike) -> Path:
    """Write atomically: a reader never sees a half-written file, a crash leaves the old one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(obj)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); a results file is as readable as any other output
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
