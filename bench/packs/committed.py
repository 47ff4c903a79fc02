"""What is committed under reports/ for a GPU model: the record keys of its results files, and the tests
of whether the packs that measure its ceilings, A/A runs and single files are still owed."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

from gpubench.bench.fleet.split import item_key
from gpubench.bench.packs.steps import Where
from gpubench.bench.run.plan import PROFILES, PlanItem, build_plan


def committed_keys(at: Where, leave_out: str | None = None) -> set:
    """The record keys of every results file committed for this GPU model (but those whose name starts
    with `leave_out`)."""
    keys = set()
    for path in sorted(at.ref.glob("results*.json")):
        if leave_out is None or not path.name.startswith(leave_out):
            keys |= _keys(path, path.stat().st_mtime_ns)
    return keys


@functools.lru_cache(maxsize=32)
def _keys(path: Path, mtime_ns: int) -> frozenset:
    """One results file's record keys (read once per version of the file: a pack asks several times)."""
    from gpubench import results

    try:
        return frozenset(r.key for r in results.read(path).records)
    except results.ResultsError:
        return frozenset()


def missing(items: list[PlanItem], at: Where) -> str | None:
    have = committed_keys(at)
    lacking = [i for i in items if item_key(i) not in have]
    return f"{len(lacking)} of {len(items)} items never measured on it" if lacking else None


def quick_items(at: Where) -> list[PlanItem]:
    return list(build_plan(PROFILES["quick"], registry=at.registry))


def count(at: Where, pattern: str) -> int:
    return len(list(at.calib.glob(pattern)))


def micro_owed(at: Where) -> str | None:
    path = at.ref / "ceilings.json"
    if not path.is_file():
        return "no ceilings measured on it"
    summary = json.loads(path.read_text()).get("ceilings", {})
    return None if summary.get("peaks_burst") else "its ceilings predate the burst and sustained rates"


def truth_owed(at: Where, series: int) -> str | None:
    runs = count(at, "aa-*.json")
    if runs < series:
        return f"{runs} of the {series} A/A runs committed"
    return None if count(at, "ncu-*.json") else "no record profiled under Nsight Compute"


def file_owed(name: str) -> Callable[[Where], str | None]:
    return lambda at: None if (at.ref / name).is_file() else f"no {name} committed"
