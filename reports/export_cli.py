"""`gpubench export RESULTS... --csv|--parquet [--out FILE] [--samples]`: results files as one long-format
table, for pandas, spreadsheets and notebooks.

One row per record (its shape axes as columns, the summary statistics, telemetry, and its place on the
datasheet and measured rooflines), or with --samples one row per raw sample. Several files are stacked;
the `gpu`, `commit` and `created` columns tell them apart. CSV goes to stdout unless --out names a file;
Parquet needs --out (and pyarrow). Exit 0, or 2 on a usage or file error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gpubench import results
from gpubench.cliargs import standalone
from gpubench.exits import usage_error

PROG = "gpubench export"


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("results", nargs="+", metavar="RESULTS", help="results files")
    fmt = p.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", action="store_true", help="comma-separated values")
    fmt.add_argument("--parquet", action="store_true", help="Apache Parquet (needs pyarrow)")
    p.add_argument("--out", metavar="FILE", help="write here (CSV default: stdout)")
    p.add_argument("--samples", action="store_true", help="one row per raw sample instead of per record")
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export", help="results files as a CSV or Parquet table", description=__doc__.split("\n\n")[0]
    )
    configure(p)
    p.set_defaults(func=run)
    return p


def frame(paths: list[str], samples: bool):
    """The stacked frame of the files; ResultsError for a file that cannot be used."""
    import pandas as pd

    from gpubench.reports.frames import placed_frame
    from gpubench.roofline.placement import place_run

    frames = []
    for path in paths:
        run = results.read(path, strict=False)
        if problem := results.no_records(run, "export"):  # a header alone would read as an export
            raise results.ResultsError(problem)
        for problem in run.problems:
            print(f"{PROG}: note: {problem}", file=sys.stderr)
        if samples:
            frames.append(run.to_frame(samples=True))
        else:
            frames.append(placed_frame(place_run(run)).drop(columns=["pos", "label"]))
    return pd.concat(frames, ignore_index=True)


def run(args) -> int:
    if args.parquet and not args.out:
        return usage_error(PROG, "--parquet writes a binary file: name it with --out FILE")
    if args.parquet:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return usage_error(PROG, "--parquet needs pyarrow, which is not installed: pip install pyarrow")
    try:
        df = frame(args.results, args.samples)
    except results.ResultsError as exc:
        return usage_error(PROG, str(exc))
    if not args.out:  # a closed or full stdout is gpubench.cliargs.run_command's to report
        df.to_csv(sys.stdout, index=False)
        return 0
    try:
        if args.parquet:
            df.to_parquet(args.out, index=False)
        else:
            df.to_csv(args.out, index=False)
    except OSError as exc:
        return usage_error(PROG, f"cannot write {args.out}: {exc.strerror or exc}")
    print(f"{PROG}: wrote {Path(args.out)} ({len(df)} rows, {len(df.columns)} columns)", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    return standalone(configure, run, PROG, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
