"""`gpubench predict RESULTS --gpu NAME [--spec-file FILE] [--what-if K=V] [--ceilings FILE] [--json]`: what
every record of a run would take on another GPU (of the spec database, or your own from a spec file, or
either with hardware what-ifs), and what would limit it there.

Two predictions per record: from first principles (the multi-term model on the target's figures,
roofline.perfmodel) and carried over from this run's measurement (roofline.crossgen). The target's figures
are its datasheet, or the ceilings measured on it when --ceilings names a `gpubench micro` file of that GPU
model (another model's are refused). Where the target lacks a record's unit (bf16 tensor cores on a V100)
the record is predicted on a stated fallback or refused with the reason (roofline.rates), never on memory
alone. Exit 0; 1 when any record is refused (every one is listed, with why); 2 on a usage or file error
(one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys

from gpubench import results
from gpubench.cliargs import standalone
from gpubench.exits import usage_error
from gpubench.fmt import fmt_ratio, fmt_time
from gpubench.results import ResultsError, finite_or_none
from gpubench.roofline.crossgen import carried_time
from gpubench.roofline.placement import model_estimate, run_ceilings
from gpubench.roofline.target import TargetError, add_target_arguments, target_from_args

PROG = "gpubench predict"


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("results", metavar="RESULTS", help="a results file")
    add_target_arguments(p, "the target")
    p.add_argument("--json", action="store_true", help="print the predictions as JSON")
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("predict", help="what a run's records would take on another GPU",
                              description=__doc__.split("\n\n")[0])  # fmt: skip
    configure(p)
    p.set_defaults(func=run)
    return p


def predictions(run, target, target_name: str) -> list[dict]:
    here = run_ceilings(run)
    side = "measured" if here.measured and target.measured else "datasheet"
    rows = []
    for rec in run.ok_records():
        if rec.flops is None or not rec.bytes:
            continue
        est = model_estimate(rec, target.machine(side))
        carried = carried_time(rec, here, rec, target, run)
        rows.append({
            "record": rec.label, "key": rec.key.to_json(), "measured_s": rec.median,
            "predicted_s": est.time_s, "carried_s": carried, "limit": est.limit, "terms": est.terms,
            "speedup": rec.median / carried if carried else None, "ceilings": side, "gpu": target_name,
            "note": est.note, "refused": est.refused,
        })  # fmt: skip
    return rows


def _notes(rows: list[dict]) -> list[str]:
    counts: dict[str, int] = {}
    for r in rows:
        if r["note"]:
            counts[r["note"]] = counts.get(r["note"], 0) + 1
    return [f"{'refused' if n.endswith('no prediction') else 'fallback'} ({k} records): {n}"
            for n, k in counts.items()]  # fmt: skip


def _table(rows: list[dict], run, target_name: str) -> str:
    lines = [f"{run.gpu} -> {target_name} ({rows[0]['ceilings'] if rows else 'datasheet'} figures)", ""]
    head = ("record", "measured", "predicted", "carried", "speed-up", "limit there")
    times = lambda r: [fmt_time(r[k], 4) for k in ("measured_s", "predicted_s", "carried_s")]  # noqa: E731
    limit = lambda r: "REFUSED" if r["refused"] else (r["limit"] or "-") + ("*" if r["note"] else "")  # noqa: E731
    body = [(r["record"], *times(r), fmt_ratio(r["speedup"]), limit(r)) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines += ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip() for row in (head, *body)]
    lines += [
        "",
        "predicted: first principles on the target; carried: this run's measurement carried over by its "
        "limiting term; speed-up = measured here / carried there",
        *(f"* {n}" for n in _notes(rows)),
    ]
    return "\n".join(lines) + "\n"


def run(args) -> int:
    try:
        target = target_from_args(args)
        source = results.read(args.results, strict=False)
    except TargetError as exc:
        return usage_error(PROG, str(exc))
    except ResultsError as exc:
        return usage_error(PROG, str(exc))
    for problem in source.problems:
        print(f"{PROG}: note: {problem}", file=sys.stderr)
    rows = predictions(source, target.ceilings(), target.name)
    if not rows:
        return usage_error(PROG, f"{args.results} has no ok record with FLOP and byte counts to predict")
    sys.stdout.write(
        json.dumps(finite_or_none(rows), indent=1) + "\n" if args.json else _table(rows, source, target.name)
    )
    refused = sum(r["refused"] for r in rows)
    if refused:
        print(f"{PROG}: {refused} of {len(rows)} records refused on {target.name} (listed, with why)",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def main(argv=None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    return standalone(configure, run, PROG, __doc__, argv, formatter_class=raw)


if __name__ == "__main__":
    sys.exit(main())
