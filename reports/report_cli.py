"""`gpubench report [RESULTS...] --out DIR`: render results files into a static HTML page and summary.md.

With no RESULTS, every *.json under reports/reference/ (the results measured on real GPUs and committed)
is used. Arguments may be results files ("gpubench.results"), ceilings files ("gpubench.ceilings", written
by the micro-benchmarks; matched to results by GPU model) or directories holding them. A malformed record
is named and left out; the rest of its file is reported.

Exit codes: 0 written; 1 nothing to report (the default folder holds no results files); 2 a file named on
the command line is missing, truncated, foreign, or of another schema version, or nothing usable was
named (the message says which and why). Also runnable as `python -m gpubench.reports.report_cli`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gpubench.cliargs import standalone
from gpubench.reports.load import InputError, gather

REFERENCE_DIR = Path(__file__).parent / "reference"
PROG = "gpubench report"
NO_REFERENCE = (
    "no results files found under reports/reference; run `nox -s bench` on a GPU and commit its results "
    "file there, or name results files: gpubench report RESULTS.json --out DIR"
)


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument(
        "results",
        nargs="*",
        metavar="RESULTS",
        help="results files, ceilings files or directories of them "
        "(default: every *.json under reports/reference/)",
    )
    p.add_argument("--out", default="report", metavar="DIR", help="output directory (default: report/)")
    p.add_argument(
        "--ceilings",
        nargs="+",
        default=[],
        metavar="PATH",
        help="measured ceilings files; they override the ceilings embedded in results of the same GPU model",
    )
    p.add_argument("--embed-images", action="store_true", help="embed the plots in index.html as base64 PNG")
    p.add_argument("--history", metavar="DB", help="add a section with the trends of this results history")
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "report",
        help="render results files into a static HTML report with rooflines (no GPU needed)",
        description=__doc__.split("\n\n")[0],
    )
    configure(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from gpubench.reports.html import render

    try:
        inputs = gather(args.results, args.ceilings, REFERENCE_DIR)
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if not inputs.placed:
        for n in inputs.notes:
            print(f"{PROG}: note: {n}", file=sys.stderr)
        if args.results:
            print(f"{PROG}: error: no results files among {', '.join(args.results)}", file=sys.stderr)
            return 2
        print(f"{PROG}: {NO_REFERENCE}", file=sys.stderr)
        return 1
    from gpubench.reports.history import History, HistoryError

    try:
        history = History(args.history, create=False) if args.history else None
    except HistoryError as exc:
        print(f"{PROG}: error: --history: {exc}", file=sys.stderr)
        return 2
    try:
        index = render(inputs, Path(args.out), embed_images=args.embed_images, history=history)
    except OSError as exc:
        print(f"{PROG}: error: cannot write the report into {args.out}: {exc}", file=sys.stderr)
        return 2
    except HistoryError as exc:  # a history whose tables are damaged past what opening it reads
        print(f"{PROG}: error: --history: {exc}", file=sys.stderr)
        return 2
    finally:
        if history is not None:
            history.close()
    n_records = sum(len(p.run.records) for p in inputs.placed)
    for n in inputs.notes:
        print(f"note: {n}")
    print(
        f"{PROG}: wrote {index} ({len(inputs.placed)} results file(s), {n_records} records); "
        f"markdown summary: {index.parent / 'summary.md'}"
    )
    return 0


def main(argv=None) -> int:
    return standalone(configure, run, PROG, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
