"""`gpubench merge RUN... --out FILE`: one results file from several: the per-GPU or per-job files of
one measurement, or a `gpubench submit` folder.

Each RUN is a results file, a folder of results files, or a submission folder (the one holding
manifest.json): its jobs' results are merged and every item no job delivered is listed with its job and
how that job ended (`gpubench submit --resume` runs them). Every record keeps its GPU, telemetry and
samples; each source's commit and software are kept in the merged run (docs/cluster.md).

Exit codes: 0 merged; 1 a submission's items are missing (the merged file, marked partial, holds the
rest); 2 a usage or file error: a file that is not a readable results file, GPU models or commits that
differ without --allow-mixed-gpus / --allow-mixed-commits, a record in two files without --duplicates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gpubench import results
from gpubench.cliargs import standalone
from gpubench.exits import usage_error
from gpubench.reports.merge import DUPLICATE_RULES, MergeError, merge, merge_submission
from gpubench.results.submission import is_submission

PROG = "gpubench merge"


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument(
        "runs", nargs="+", metavar="RUN", help="results files, folders of them, or a submit folder"
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="the merged results file (default for a submit folder: DIR/merged.json; required otherwise)",
    )
    p.add_argument("--allow-mixed-gpus", action="store_true", help="merge runs of different GPU models")
    p.add_argument("--allow-mixed-commits", action="store_true", help="merge runs of different commits")
    p.add_argument(
        "--duplicates",
        choices=DUPLICATE_RULES,
        default="refuse",
        help="a record in two runs: refuse (default), keep the first, or keep the last",
    )
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "merge",
        help="one results file from several (per GPU, per job, a submit folder)",
        description=__doc__.split("\n\n")[0],
    )
    configure(p)
    p.set_defaults(func=run)
    return p


def _out_problem(out: Path) -> str | None:
    if out.is_dir():
        return f"--out {out}: is a directory"
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        return f"--out {out}: {parent} is not a folder"
    return None


def _inputs(args) -> tuple[list[tuple[Path, bool]], Path | None]:
    """((results file, named on the command line)..., the submission folder if one was named); ValueError
    for an unusable name."""
    files: list[tuple[Path, bool]] = []
    folders = [Path(r) for r in args.runs if Path(r).is_dir() and is_submission(r)]
    if folders and len(args.runs) > 1:
        raise ValueError("a submit folder is merged on its own (name only it)")
    for name in args.runs:
        path = Path(name)
        if path.is_dir() and not folders:
            found = sorted(path.glob("*.json"))
            if not found:
                raise ValueError(f"{path}: a folder with no results files (*.json)")
            files += [(f, False) for f in found]
        elif not path.is_dir():
            files.append((path, True))
    return files, folders[0] if folders else None


def _submission(folder: Path, out: Path, args) -> int:
    got = merge_submission(folder, args.allow_mixed_gpus, args.duplicates, args.allow_mixed_commits)
    for shard, labels in got.missing.items():
        print(f"missing: {len(labels)} item(s) of {shard}")
        for label in labels:
            print(f"  {label}")
    if got.run is None:
        print(
            f"{PROG}: no job of {folder} wrote a results file; nothing merged ({got.expected} items missing)"
        )
        return 1
    results.write(got.run, out)
    print(f"{PROG}: {len(got.run.records)} of {got.expected} items -> {out} (status {got.run.status})")
    if got.missing:
        print(f"{got.missing_count} item(s) missing: `gpubench submit --resume --folder {folder}` runs them")
    return 1 if got.missing else 0


def _runs(files: list[tuple[Path, bool]]) -> list[results.Run]:
    """The runs to merge; a file without records is refused when named, left out with a note when found
    in a folder (results.no_records)."""
    runs = []
    for path, named in files:
        got = results.read(path)
        if (problem := results.no_records(got, "merge")) is None:
            runs.append(got)
        elif named:
            raise results.ResultsError(problem)
        else:
            print(f"{PROG}: note: skipped {problem}", file=sys.stderr)
    if not runs:
        raise results.ResultsError("no results file holds records: nothing to merge")
    return runs


def run(args) -> int:
    try:
        files, folder = _inputs(args)
    except ValueError as exc:
        return usage_error(PROG, str(exc))
    if args.out is None and folder is None:
        return usage_error(PROG, "--out FILE is required (except for a submit folder: DIR/merged.json)")
    out = Path(args.out) if args.out else folder / "merged.json"
    if problem := _out_problem(out):
        return usage_error(PROG, problem)
    try:
        if folder is not None:
            return _submission(folder, out, args)
        runs = _runs(files)
        merged = merge(runs, args.allow_mixed_gpus, args.duplicates, args.allow_mixed_commits)
        results.write(merged, out)
    except (results.ResultsError, MergeError) as exc:
        return usage_error(PROG, str(exc))
    except OSError as exc:
        return usage_error(PROG, f"cannot write {out}: {exc.strerror or exc}")
    gpus = ", ".join(sorted({d.model for d in (merged.gpus or [merged.device])}))
    print(f"{PROG}: {len(merged.records)} records from {len(runs)} file(s) ({gpus}) -> {out}")
    return 0


def main(argv=None) -> int:
    return standalone(configure, run, PROG, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
