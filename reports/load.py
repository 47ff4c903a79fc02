"""What a report is made from: results files and ceilings files, named or found in folders, each results
file placed on its rooflines under the measured ceilings of its GPU model.

A file named on the command line that cannot be used (or that holds no records) is an error; a file found
in a folder that cannot be used is skipped with a note, as is a malformed record inside a usable file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gpubench import results
from gpubench.results import CeilingsFile, ResultsError, Run
from gpubench.roofline.placement import PlacedRun, place_run
from gpubench.roofline.specs import match_gpu

__all__ = ["Inputs", "InputError", "gather", "same_gpu_model"]


class InputError(Exception):
    """A file named on the command line that cannot be used (exit code 2)."""


@dataclass
class CeilingsInput:
    file: CeilingsFile
    explicit: bool  # named with --ceilings: overrides the ceilings embedded in results of its GPU
    used_by: list[str] = field(default_factory=list)  # results placed under these ceilings
    matched: list[str] = field(default_factory=list)  # results of its GPU model that embed their own

    def use(self) -> str:
        """How the report used this file, for its caption."""
        if self.used_by:
            return f"used for {', '.join(self.used_by)}"
        if self.matched:
            return f"same GPU model as {', '.join(self.matched)}, which embed their own measured ceilings"
        return "matched to no results file given"


@dataclass
class Inputs:
    placed: list[PlacedRun]
    ceilings: list[CeilingsInput]
    notes: list[str]


def same_gpu_model(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    if a.strip().lower() == b.strip().lower():
        return True
    sa, sb = match_gpu(a), match_gpu(b)
    return sa is not None and sb is not None and sa.name == sb.name


def _take(path: Path, strict_file: bool, notes: list[str], runs: list[Run], ceilings: list[CeilingsInput]):
    try:
        obj = results.read_any(path, strict=False)
    except ResultsError as exc:
        if strict_file:
            raise InputError(str(exc)) from None
        if "schema None" not in str(exc):  # schema-less JSON beside the results (device.json) is not news
            notes.append(f"skipped {exc}")
        return
    if isinstance(obj, Run) and (message := results.no_records(obj, "report")):  # nothing to place or plot
        if strict_file:
            raise InputError(message)
        notes.append(f"skipped {message}")
    elif isinstance(obj, Run):
        runs.append(obj)
        notes.extend(obj.problems)
    else:
        ceilings.append(CeilingsInput(obj, explicit=False))


def _match(run: Run, ceilings: list[CeilingsInput]) -> CeilingsInput | None:
    """The ceilings file for a run's GPU model: one named with --ceilings first, else the last found."""
    match = None
    for c in ceilings:
        if same_gpu_model(run.gpu, c.file.gpu) and (match is None or c.explicit or not match.explicit):
            match = c
    return match


def _place(run: Run, c: CeilingsInput | None) -> PlacedRun:
    if c is not None and not c.explicit and run.ceilings is not None:
        c.matched.append(Path(run.path or "").name)
    elif c is not None:
        c.used_by.append(Path(run.path or "").name)
        f = c.file
        origin = f"ceilings file {f.path} (measured on {f.gpu}, {f.device.uuid or 'card not recorded'})"
        if f.device.uuid and run.device.uuid and f.device.uuid != run.device.uuid:
            origin += f"; ANOTHER card than the results' ({run.device.uuid})"
        return place_run(run, f.ceilings, origin)
    return place_run(run)


def gather(paths: list[str], ceilings_paths: list[str], default_dir: Path) -> Inputs:
    """Read what a report is asked to show; InputError for a named file that cannot be used."""
    notes: list[str] = []
    runs: list[Run] = []
    ceilings: list[CeilingsInput] = []
    roots = [Path(p) for p in paths] or ([default_dir] if default_dir.is_dir() else [])
    for root in roots:
        if root.is_dir():
            for f in sorted(p for p in root.rglob("*.json") if p.is_file()):
                _take(f, False, notes, runs, ceilings)
        else:
            _take(root, True, notes, runs, ceilings)
    for p in ceilings_paths:
        try:
            ceilings.append(CeilingsInput(results.read_ceilings(p), explicit=True))
        except ResultsError as exc:
            raise InputError(f"--ceilings: {exc}") from None
    placed = [_place(run, _match(run, ceilings)) for run in runs]
    for c in ceilings:
        if c.explicit and not c.used_by:
            notes.append(f"{c.file.path}: its GPU ({c.file.gpu}) matches no results file")
    return Inputs(placed, ceilings, notes)
