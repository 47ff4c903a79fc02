"""`gpubench compare RUN [RUN...]`: runs from different GPUs side by side, measured speed ratios next to
the roofline's predicted ratios (also `python -m gpubench.reports.compare_cli RUN RUN...`).

Prints a table (or JSON with --json, markdown with --markdown); with --out DIR also writes compare.json,
compare.md and the measured-vs-predicted scatter plots there. A malformed record in a file is named and
left out. Exit 0, or 2 on a usage or file error (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gpubench import results
from gpubench.cliargs import standalone
from gpubench.exits import usage_error
from gpubench.reports.compare import CompareError, compare
from gpubench.reports.compare_render import render_plots
from gpubench.roofline.placement import place_run

PROG = "gpubench compare"
DESCRIPTION = (
    "Compare runs from different GPUs: for every record present in two or more runs, the measured speed "
    "ratio (time on the first run's GPU / time on each other) next to the ratio predicted from each "
    "GPU's datasheet (and measured) ceilings."
)


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("runs", nargs="+", metavar="RUN", help="results files; the first is the reference")
    p.add_argument("--out", metavar="DIR", help="write compare.json, compare.md and the plots into DIR")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the comparison as JSON")
    fmt.add_argument("--markdown", action="store_true", help="print the comparison as markdown")
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "compare",
        help="hardware generations side by side: measured vs predicted ratios",
        description=DESCRIPTION,
    )
    configure(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        return usage_error(PROG, f"a comparison needs at least two results files, got {len(args.runs)}")
    try:
        runs = [results.read(path, strict=False) for path in args.runs]
        report = compare([place_run(r) for r in runs])
    except (results.ResultsError, CompareError) as exc:
        return usage_error(PROG, str(exc))
    for run_ in runs:
        for problem in run_.problems:
            print(f"{PROG}: note: {problem}", file=sys.stderr)
    if args.out:
        out = Path(args.out)
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / "compare.json").write_text(report.to_json() + "\n", encoding="utf-8")
            (out / "compare.md").write_text(report.to_markdown(), encoding="utf-8")
            plots = render_plots(report, out)
        except OSError as exc:
            return usage_error(PROG, f"cannot write into {out}: {exc}")
        for path in [out / "compare.json", out / "compare.md", *plots]:
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        sys.stdout.write(report.to_json() + "\n")
    elif args.markdown:
        sys.stdout.write(report.to_markdown())
    else:
        sys.stdout.write(report.to_text())
    return 0


def main(argv=None) -> int:
    return standalone(configure, run, PROG, DESCRIPTION, argv)


if __name__ == "__main__":
    sys.exit(main())
