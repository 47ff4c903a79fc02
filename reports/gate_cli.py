"""`gpubench gate BASELINE CANDIDATE`: the regression gate on the command line (also
`python -m gpubench.reports.gate_cli BASELINE CANDIDATE`).

Exit codes: 0 no confirmed regression; 1 at least one record SLOWER, or FAILED where the baseline was ok;
2 a usage or file error, reported as one line on stderr: a missing, truncated, foreign or malformed file
(a sample that is not a positive finite time, a duplicate record), different GPU models without
--cross-hardware, a run that is not complete without --allow-partial, nothing in common to compare.
"""

from __future__ import annotations

import argparse
import sys

from gpubench import cliargs, results
from gpubench.exits import usage_error
from gpubench.reports.gate import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_THRESHOLD_PCT,
    RESAMPLES_RANGE,
    GateError,
    gate,
)
from gpubench.roofline.placement import place_run

PROG = "gpubench gate"
DESCRIPTION = (
    "Compare a candidate results file against a baseline from the same GPU model: one verdict per "
    "record (SAME, FASTER, SLOWER, UNCERTAIN; throttled records excluded). Exit 0: no confirmed "
    "regression; 1: at least one record SLOWER (or FAILED where the baseline was ok); 2: usage or file error."
    " With --baseline-history N, give the CANDIDATE alone: it is gated against the last N runs of its GPU "
    "model in the history, each record's verdict by majority (docs/gating.md)."
)


# long function: one add_argument per option, the gate's whole command line in one place
def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument(
        "baseline", metavar="BASELINE",
        help="results file of the baseline run (with --baseline-history: the candidate, given alone)",
    )  # fmt: skip
    p.add_argument("candidate", metavar="CANDIDATE", nargs="?", help="results file of the candidate run")
    p.add_argument(
        "--baseline-history", type=cliargs.count("runs"), metavar="N",
        help="gate the candidate against the last N runs of its GPU model in the history (--history): "
        "each record's verdict is the majority of its verdicts against each run",
    )  # fmt: skip
    p.add_argument("--history", metavar="DB", help="the history file (default results/history.sqlite)")
    p.add_argument(
        "--threshold",
        type=cliargs.number("%"),
        default=DEFAULT_THRESHOLD_PCT,
        metavar="PCT",
        help="the slowdown (in %%) the gate must catch; intervals within ±PCT are SAME (default %(default)s)",
    )
    p.add_argument(
        "--noise-floor",
        type=cliargs.number("%"),
        default=None,
        metavar="PCT",
        help="between-run drift (in %%) never flagged: SLOWER needs the whole interval above 1 + PCT "
        "(default: half the threshold; equal to the threshold for the strict rule)",
    )
    p.add_argument(
        "--confidence",
        type=cliargs.number("fraction"),
        default=DEFAULT_CONFIDENCE,
        metavar="C",
        help="confidence of the bootstrap interval (default %(default)s)",
    )
    p.add_argument(
        "--cross-hardware",
        action="store_true",
        help="allow runs from different GPU models (the report says so loudly; not a regression gate)",
    )
    p.add_argument(
        "--seed",
        type=cliargs.number("seed", whole=True),
        default=0,
        help="bootstrap seed (default %(default)s)",
    )
    p.add_argument(
        "--resamples",
        type=cliargs.count("resamples", *RESAMPLES_RANGE),
        default=DEFAULT_RESAMPLES,
        help=f"bootstrap resamples, {RESAMPLES_RANGE[0]} to {RESAMPLES_RANGE[1]} (default %(default)s)",
    )
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="gate a run that was interrupted or is partial (by default only complete runs are gated)",
    )
    p.add_argument(
        "--no-clock-normalisation",
        dest="normalize_clocks",
        action="store_false",
        help="compare raw times even when the runs' clocks differ",
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the report as JSON")
    fmt.add_argument("--markdown", action="store_true", help="print markdown fit for a CI comment")
    p.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "gate", help="regression gate: candidate vs baseline results on the same GPU", description=DESCRIPTION
    )
    configure(p)
    p.set_defaults(func=run)
    return p


def _history_problem(args: argparse.Namespace) -> str | None:
    if args.baseline_history is None:
        if args.candidate is None:
            return "give BASELINE and CANDIDATE (or --baseline-history N with the CANDIDATE alone)"
        return "--history only applies with --baseline-history N" if args.history else None
    if args.candidate is not None:
        return "with --baseline-history the baselines come from the history: give the CANDIDATE alone"
    if args.cross_hardware:
        return "--cross-hardware does not apply to --baseline-history (a history is per GPU model)"
    return None


def _gate_history(args: argparse.Namespace, settings: dict):
    from gpubench.reports.gate_history import gate_history
    from gpubench.reports.history import DEFAULT_DB, History

    candidate = place_run(results.read(args.baseline))
    with History(args.history or DEFAULT_DB, create=False) as history:
        return gate_history(history, candidate, args.baseline_history, **settings)


def run(args: argparse.Namespace) -> int:
    from gpubench.reports.history import HistoryError

    if problem := _history_problem(args):
        return usage_error(PROG, problem)
    settings = dict(
        threshold_pct=args.threshold, confidence=args.confidence, seed=args.seed,
        noise_floor_pct=args.noise_floor, resamples=args.resamples, normalize_clocks=args.normalize_clocks,
        allow_partial=args.allow_partial,
    )  # fmt: skip
    try:
        if args.baseline_history is not None:
            report = _gate_history(args, settings)
        else:
            baseline = place_run(results.read(args.baseline))
            candidate = place_run(results.read(args.candidate))
            report = gate(baseline, candidate, cross_hardware=args.cross_hardware, **settings)
    except (results.ResultsError, GateError, HistoryError) as exc:
        return usage_error(PROG, str(exc))

    if args.json:
        text = report.to_json() + "\n"
    elif args.markdown:
        text = report.to_markdown()
    else:
        text = report.to_text()
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            return usage_error(PROG, f"cannot write {args.output}: {exc}")
        print(report.headline)
    else:
        sys.stdout.write(text)
        if args.json or args.markdown:
            print(report.headline, file=sys.stderr)
    return report.exit_code


def main(argv: list[str] | None = None) -> int:
    return cliargs.standalone(configure, run, PROG, DESCRIPTION, argv)


if __name__ == "__main__":
    sys.exit(main())
