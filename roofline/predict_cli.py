"""`gpubench predict RESULTS --gpu NAME [--ceilings FILE] [--json]`: what every record of a run would take
on another GPU of the spec database, and what would limit it there.

Two predictions per record: from first principles (the multi-term model on the target's figures,
roofline.perfmodel) and carried over from this run's measurement (roofline.crossgen: the target's
estimate plus what the measurement took beyond this GPU's estimate). The target's figures are its
datasheet, or the ceilings measured on it when --ceilings names a `gpubench micro` file of that GPU.
Exit 0, or 2 on a usage or file error (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys

from gpubench import results
from gpubench.exits import usage_error
from gpubench.fmt import fmt_ratio, fmt_time
from gpubench.results import ResultsError, finite_or_none
from gpubench.roofline.crossgen import carried_time, ceilings_of_spec
from gpubench.roofline.placement import model_estimate, run_ceilings
from gpubench.roofline.specs import get_spec

PROG = "gpubench predict"


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("results", metavar="RESULTS", help="a results file")
    p.add_argument(
        "--gpu", required=True, metavar="NAME", help="the target: a key or name of `gpubench specs`"
    )
    p.add_argument("--ceilings", metavar="FILE", help="ceilings measured on the target GPU (gpubench micro)")
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
        carried = carried_time(rec, here, rec, target)
        rows.append({
            "record": rec.label, "key": rec.key.to_json(), "measured_s": rec.median,
            "predicted_s": est.time_s, "carried_s": carried, "limit": est.limit, "terms": est.terms,
            "speedup": rec.median / carried if carried else None, "ceilings": side, "gpu": target_name,
        })  # fmt: skip
    return rows


def _table(rows: list[dict], run, target_name: str) -> str:
    lines = [f"{run.gpu} -> {target_name} ({rows[0]['ceilings'] if rows else 'datasheet'} figures)", ""]
    head = ("record", "measured", "predicted", "carried", "speed-up", "limit there")
    times = lambda r: [fmt_time(r[k], 4) for k in ("measured_s", "predicted_s", "carried_s")]  # noqa: E731
    body = [(r["record"], *times(r), fmt_ratio(r["speedup"]), r["limit"] or "-") for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines += ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip() for row in (head, *body)]
    lines += [
        "",
        "predicted: first principles on the target; carried: this run's measurement carried over by its "
        "limiting term; speed-up = measured here / carried there",
    ]
    return "\n".join(lines) + "\n"


def run(args) -> int:
    try:
        spec = get_spec(args.gpu)
    except KeyError as exc:
        return usage_error(PROG, str(exc.args[0]))
    try:
        source = results.read(args.results, strict=False)
        measured = results.read_ceilings(args.ceilings) if args.ceilings else None
    except ResultsError as exc:
        return usage_error(PROG, str(exc))
    target = ceilings_of_spec(spec, measured.ceilings if measured else None)
    for problem in source.problems:
        print(f"{PROG}: note: {problem}", file=sys.stderr)
    rows = predictions(source, target, spec.name)
    if not rows:
        return usage_error(PROG, f"{args.results} has no ok record with FLOP and byte counts to predict")
    sys.stdout.write(
        json.dumps(finite_or_none(rows), indent=1) + "\n" if args.json else _table(rows, source, spec.name)
    )
    return 0


def main(argv=None) -> int:
    return run(configure(argparse.ArgumentParser(prog=PROG)).parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
