#!/usr/bin/env python3
"""Convert results files to the current schema version, in place, losslessly.

    python scripts/convert_results.py RESULTS.json... [--ceilings-from CEILINGS.json] [--check]

Each file is read (older versions are upgraded by gpubench.results.migrate), its roofline placement is
stored afresh for outside readers, and it is written back atomically. Before writing, the script checks
that every record's timing (samples and the figures derived from them), telemetry, correctness, counts
and workload extras are the same as in the input, and refuses to write a file where anything differs.

--ceilings-from names the ceilings file the results' embedded measured ceilings were taken from: when the
embedded values equal that file's, its provenance (which card measured them, when) is recorded; when
they differ, nothing is attached and the script says so. --check converts in memory and writes nothing.
Exit 0 when every file converted (or would), 2 when one could not be.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gpubench import results
from gpubench.bench.run.runner import store_placement
from gpubench.results import EmbeddedCeilings

# The parts of a record that were measured: they must come through the conversion unchanged.
MEASURED = ("timing", "telemetry", "correctness", "flops", "bytes", "extra", "status", "reason", "shape")


def _same(old: dict, new: dict, where: str) -> list[str]:
    """Where `new` differs from `old` in what was measured (keys `old` lacks may be added as null)."""
    problems = []
    for key in MEASURED:
        a, b = old.get(key), new.get(key)
        if key == "extra" and not a and not b:
            continue  # no workload extras, written as {} or left out
        if isinstance(a, dict) and isinstance(b, dict):
            diff = [k for k in a if a[k] != b.get(k)]
            added = [k for k in b if k not in a and b[k] not in (None, [], {})]
            if key == "correctness" and old.get("status") == "ok":
                added = [k for k in added if k != "passed"]  # made explicit: an ok record passed
            if diff or added:
                problems.append(f"{where}: {key} differs in {diff + added}")
        elif a != b:
            problems.append(f"{where}: {key} differs ({a!r} -> {b!r})")
    return problems


def _provenance(run, source: Path | None) -> str:
    if source is None or run.ceilings is None:
        return "no measured ceilings provenance given" if run.ceilings else "no embedded measured ceilings"
    cf = results.read_ceilings(source)
    if cf.ceilings != run.ceilings.ceilings:
        return f"embedded ceilings differ from {source}: provenance left unknown"
    run.ceilings = EmbeddedCeilings(cf.ceilings, cf.device.name, cf.device.uuid, cf.created, str(source))
    return "provenance from " + str(source) + ": " + run.ceilings.provenance(run.device.uuid)


def convert(path: Path, ceilings_from: Path | None, check: bool) -> list[str]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    run = results.read(path)
    note = _provenance(run, ceilings_from)
    store_placement(run)
    new = json.loads(results.dumps(run))
    problems = []
    if len(raw["records"]) != len(new["records"]):
        problems.append(f"{path}: {len(raw['records'])} records in, {len(new['records'])} out")
    for i, (a, b) in enumerate(zip(raw["records"], new["records"])):
        problems += _same(a, b, f"{path}: record {i}")
    if problems:
        return problems
    if not check:
        results.write(run, path)
    verb = "would convert" if check else "converted"
    print(f"{verb} {path}: schema {raw.get('schema_version')} -> {new['schema_version']}, "
          f"{len(new['records'])} records unchanged; {note}")  # fmt: skip
    return []


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--ceilings-from", type=Path, help="the ceilings file the embedded ceilings came from")
    p.add_argument("--check", action="store_true", help="convert in memory only; write nothing")
    args = p.parse_args(argv)
    failed = 0
    for path in args.files:
        try:
            problems = convert(path, args.ceilings_from, args.check)
        except (results.ResultsError, OSError, json.JSONDecodeError) as exc:
            problems = [str(exc)]
        for line in problems[:10]:
            print(f"NOT converted: {line}", file=sys.stderr)
        if len(problems) > 10:
            print(f"  ... and {len(problems) - 10} more", file=sys.stderr)
        failed += bool(problems)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
