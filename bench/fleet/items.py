"""Plan item files: the JSON list of plan items that one cluster job runs (`gpubench run --items FILE`),
in the format a worker's plan file has (bench.run.plan.PlanItem.to_json), checked against the registry."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from gpubench.bench.run.plan import Plan, PlanError, PlanItem
from gpubench.results import MODES

__all__ = ["read_items", "write_items"]


def write_items(path: str | Path, items: Sequence[PlanItem]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([i.to_json() for i in items], indent=1) + "\n", encoding="utf-8")
    return path


def _check(item: PlanItem, registry) -> str | None:
    w = registry.get(item.workload)
    if w is None:
        return f"unknown workload {item.workload!r}"
    v = w.variants.get(item.variant)
    if v is None:
        return f"{item.workload} has no variant {item.variant!r}"
    if v.backend != item.backend:
        return f"{item.workload}/{item.variant} is a {v.backend} variant, not {item.backend}"
    if item.dtype not in w.dtypes:
        return f"{item.workload} has no dtype {item.dtype!r}"
    if item.mode not in MODES:
        return f"unknown mode {item.mode!r}"
    if missing := set(w.axes) - set(item.shape):
        return f"shape {item.shape} lacks {', '.join(sorted(missing))}"
    return None


def read_items(path: str | Path, registry=None) -> Plan:
    """The plan in an item file; PlanError names the file and the first item that cannot run."""
    if registry is None:
        from gpubench import kernels

        registry = kernels.REGISTRY
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"--items {path}: cannot be read as JSON: {exc}") from None
    if not isinstance(raw, list) or not raw:
        raise PlanError(f"--items {path}: expected a non-empty JSON list of plan items")
    items = []
    for n, entry in enumerate(raw):
        try:
            item = PlanItem.from_json(entry)
        except (KeyError, TypeError) as exc:
            raise PlanError(f"--items {path}: item {n} is not a plan item ({exc})") from None
        if problem := _check(item, registry):
            raise PlanError(f"--items {path}: item {n} ({item.id}): {problem}")
        items.append(item)
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise PlanError(f"--items {path}: an item appears twice")
    return Plan(items)
