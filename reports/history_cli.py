"""`gpubench history add|show`: the results history per GPU model (one SQLite file).

`add RESULTS...` stores complete runs (each record whole, samples included); adding a run that is
already there changes nothing. `show --workload W` prints its records over time per GPU model and,
with --plot DIR, writes one trend plot per GPU model. `gpubench gate --baseline-history N` gates a
candidate against the last N runs of its GPU model; `gpubench report --history DB` adds a history
section to the report.

Exit codes: 0 done; 2 a usage or file error: a missing or malformed results file, a run that is not
complete (without --allow-partial) or synthetic, a history file that is missing (for show) or not a
history, a workload, variant or GPU model the history does not hold (the known ones are named).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gpubench import results
from gpubench.cliargs import standalone
from gpubench.exits import usage_error
from gpubench.reports.history import DEFAULT_DB, History, HistoryError

PROG = "gpubench history"


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="add results files to the history", description="Add complete runs.")
    add.add_argument("results", nargs="+", metavar="RESULTS", help="results files")
    add.add_argument("--db", default=DEFAULT_DB, help=f"the history file (default {DEFAULT_DB})")
    add.add_argument("--allow-partial", action="store_true", help="add runs that are partial or interrupted")
    show = sub.add_parser(
        "show",
        help="a workload's records over time, per GPU model",
        description="A workload's records over time, per GPU model.",
    )
    show.add_argument("--db", default=DEFAULT_DB, help=f"the history file (default {DEFAULT_DB})")
    show.add_argument("--workload", required=True, metavar="W")
    show.add_argument("--variant", nargs="+", metavar="V", help="only these variants")
    show.add_argument("--gpu", metavar="MODEL", help="only this GPU model (as results name it)")
    show.add_argument("--plot", metavar="DIR", help="write a trend plot per GPU model into DIR")
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "history", help="the results history per GPU model (add, show)", description=__doc__.split("\n\n")[0]
    )
    configure(p)
    p.set_defaults(func=run)
    return p


def _readable(paths: list[str], allow_partial: bool) -> list[results.Run]:
    runs = []
    for path in paths:
        run = results.read(path)
        # a run of nothing would count as one of the last N runs that gate --baseline-history reads
        if problem := results.no_records(run, "add to the history"):
            raise HistoryError(problem)
        if run.synthetic:
            raise HistoryError(f"{path}: synthetic (generated samples): a history holds measurements only")
        if run.status != "complete" and not allow_partial:
            raise HistoryError(
                f"{path}: the run is {run.status!r}, not complete (use --allow-partial to add it)"
            )
        runs.append(run)
    return runs


def _add(args) -> int:
    runs = _readable(args.results, args.allow_partial)  # every file checked before the history changes
    with History(args.db) as history:
        for run in runs:
            added, what = history.add(run)
            print(f"{'added' if added else 'unchanged'}: {run.path} ({run.gpu}, {run.created}): {what}")
    return 0


def _show(args) -> int:
    with History(args.db, create=False) as history:
        if args.workload not in (known := history.workloads()):
            raise HistoryError(
                f"no workload {args.workload!r} in {args.db}; it holds: {', '.join(known) or 'none'}"
            )
        variants = history.variants(args.workload)
        if unknown := [v for v in args.variant or () if v not in variants]:
            raise HistoryError(
                f"{args.workload} has no variant {', '.join(unknown)} in {args.db}; it has: "
                f"{', '.join(variants)}"
            )
        if args.gpu and args.gpu not in (models := history.models()):
            raise HistoryError(f"no GPU model {args.gpu!r} in {args.db}; it holds: {', '.join(models)}")
        frame = history.records(args.workload, args.variant or (), args.gpu)
    _print_and_plot(frame, args)
    return 0


def _print_and_plot(frame, args) -> None:
    from gpubench.reports.history_view import plot_name, table, trend_plot

    for model, part in frame.groupby("gpu_model", sort=True):
        runs = part["run_id"].nunique()
        print(f"== {model}: {args.workload}, {len(part)} records in {runs} run(s)")
        print(table(part))
        if args.plot:
            path = trend_plot(part, model, args.workload, Path(args.plot) / plot_name(args.workload, model))
            print(f"trend plot: {path}" if path else "no ok records to plot")
        print()


def run(args) -> int:
    try:
        return _add(args) if args.action == "add" else _show(args)
    except (results.ResultsError, HistoryError) as exc:
        return usage_error(PROG, str(exc))
    except OSError as exc:
        return usage_error(PROG, f"{exc.filename or ''}: {exc.strerror or exc}")


def main(argv=None) -> int:
    return standalone(configure, run, PROG, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
