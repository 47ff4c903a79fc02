"""Running ncu over chosen records (bench.ncu.records says how; this module starts the processes): one ncu
process for all records, told apart by their NVTX ranges, or one per record where ncu did not rename
the kernels. Every outcome is a record's NcuProfile: measured, or unavailable with the reason (counters
not readable, the variant skipped or failed in the profiled process, no kernel profiled)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gpubench.bench.ncu import records as ncu
from gpubench.bench.ncu.csvfile import NcuCsvError, errors, parse
from gpubench.bench.run.plan import PlanItem
from gpubench.results import NcuProfile, Record, utc_now

__all__ = ["ncu_version", "profile_records", "supported_metrics"]

TARGET = "gpubench.bench.ncu.target"


def _output(cmd: list[str], timeout_s: float) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"==ERROR== {type(exc).__name__}: {exc}"
    return p.stdout + p.stderr


def ncu_version(ncu_path: str) -> str | None:
    m = re.search(r"Version\s+([\w.]+)", _output([ncu_path, "--version"], 60))
    return m.group(1) if m else None


def supported_metrics(ncu_path: str, wanted: Sequence[str]) -> list[str]:
    """The metrics of `wanted` whose base name `ncu --query-metrics` lists for this GPU."""
    text = _output([ncu_path, "--query-metrics"], 120)
    return [m for m in wanted if re.search(rf"^\s*{re.escape(m.split('.')[0])}\b", text, re.M)]


def _item(rec: Record) -> dict:
    return PlanItem(rec.workload, rec.variant, rec.backend, dict(rec.shape), rec.dtype, rec.mode).to_json()


def _attempt(ncu_path, metrics, recs, calls, extra, work: Path, tag: str, rename: bool, timeout_s):
    """(rows or None, per-item status, ncu's output, the command) of one ncu process over `recs`."""
    items, status, log = work / f"items-{tag}.json", work / f"status-{tag}.json", work / f"ncu-{tag}.csv"
    items.write_text(json.dumps([_item(r) for r in recs]))
    target = [sys.executable, "-m", TARGET, str(items), str(status), "--calls", str(calls)]
    cmd = ncu.command(ncu_path, metrics, log, target, extra, rename=rename)
    text = _output(cmd, timeout_s) + (log.read_text(errors="replace") if log.is_file() else "")
    try:
        rows = parse(text)
    except NcuCsvError:
        rows = None
    done = json.loads(status.read_text()) if status.is_file() else []
    return rows, {e["index"]: e for e in done}, text, cmd


def _failed(text: str, entry: dict | None) -> str:
    if entry is not None and entry["status"] != "ok":
        return f"the profiled process {entry['status']} this record: {entry['reason']}"
    if problem := ncu.counters_problem(text):
        return problem
    found = errors(text)
    return "ncu profiled no kernel of this record" + (f": {'; '.join(found[:3])}" if found else "")


def profile_records(
    recs: list[Record], ncu_path: str, calls: int, extra: Sequence[str], work: Path, timeout_s: float = 600,
    echo: Callable[[str], None] = print,
) -> list[NcuProfile]:  # fmt: skip
    """One NcuProfile per record of `recs`, in order."""
    base = {"ncu_version": ncu_version(ncu_path), "created": utc_now()}
    metrics = [*ncu.CORE_METRICS, *supported_metrics(ncu_path, ncu.TENSOR_METRICS)]
    rows, status, text, cmd = _attempt(ncu_path, metrics, recs, calls, extra, work, "all", True, timeout_s)
    if rows is None:  # no table at all: ncu failed before profiling (options, counters, the target)
        return [
            NcuProfile.unavailable(_failed(text, status.get(i)), command=cmd, **base)
            for i in range(len(recs))
        ]
    grouped = ncu.split_by_range(rows)
    if grouped is not None or len(recs) == 1:
        out = []
        for i in range(len(recs)):
            if grouped is None:  # one record, kernels not renamed: its rows in order
                split, note = ncu.split_in_order(rows or [], calls)
            else:
                split, note = grouped.get(i, {}), None
            ok = split and status.get(i, {}).get("status", "ok") == "ok"
            out.append(ncu.profile_of(split, calls, note, command=cmd, **base) if ok else
                       NcuProfile.unavailable(_failed(text, status.get(i)), command=cmd, **base))  # fmt: skip
        return out
    echo("gpubench ncu: the kernels were not renamed after their NVTX ranges; one ncu process per record")
    out = []
    for i, rec in enumerate(recs):
        echo(f"  profiling {rec.label}")
        out += profile_records_one(rec, ncu_path, metrics, calls, extra, work, f"r{i}", timeout_s, base)
    return out


def profile_records_one(rec, ncu_path, metrics, calls, extra, work, tag, timeout_s, base) -> list[NcuProfile]:
    rows, status, text, cmd = _attempt(ncu_path, metrics, [rec], calls, extra, work, tag, False, timeout_s)
    if not rows or status.get(0, {}).get("status", "ok") != "ok":
        return [NcuProfile.unavailable(_failed(text, status.get(0)), command=cmd, **base)]
    split, note = ncu.split_in_order(rows, calls)
    return [ncu.profile_of(split, calls, note, command=cmd, **base)]
