"""`gpubench report [RESULTS...] --out DIR`: render results files into a static HTML page and summary.md.

With no RESULTS, every *.json under reports/reference/ (the results measured on real GPUs and committed)
is used. Arguments may be results files ("gpubench.results"), ceilings files ("gpubench.ceilings", written
by the micro-benchmarks; matched to results by GPU name) or directories holding them.

Exit codes: 0 written; 1 nothing to report (no results files found); 2 a file named on the command line
is missing, truncated, foreign, or of another schema version (the message says which and why).
Also runnable as `python -m reports.report_cli`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gpubench import reports
from gpubench.bench import results
from gpubench.reports.html import CeilingsFile, Source, render

CEILINGS_SCHEMA = "gpubench.ceilings"
REFERENCE_DIR = Path(reports.__file__).parent / "reference"
NO_REFERENCE = (
    "no results files found under reports/reference; run `nox -s bench` on a GPU and commit its results "
    "file there, or name results files: gpubench report RESULTS.json --out DIR ({where})"
)


class InputError(Exception):
    """A file named on the command line that cannot be used (exit code 2)."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "report",
        help="render results files into a static HTML report with rooflines (no GPU needed)",
        description=__doc__.split("\n\n")[0],
    )
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
        help="measured ceilings files; they override the ceilings embedded in results of the same GPU",
    )
    p.add_argument("--embed-images", action="store_true", help="embed the plots in index.html as base64 PNG")
    p.set_defaults(func=run)
    return p


def _load(path: Path) -> tuple[str, dict]:
    """("results" | "ceilings" | "other:<schema>", document); InputError when the file is unreadable."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (truncated or corrupt?): {exc}") from None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if schema == results.SCHEMA:
        try:
            results.validate(doc, str(path))
        except results.ResultsError as exc:
            raise InputError(str(exc)) from None
        return "results", doc
    if schema == CEILINGS_SCHEMA:
        if not isinstance(doc.get("ceilings"), dict):
            raise InputError(f"{path}: ceilings file without a 'ceilings' object")
        return "ceilings", doc
    return f"other:{schema!r}", doc


def _same_gpu(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    if a.strip().lower() == b.strip().lower():
        return True
    try:
        from gpubench.roofline.specs import match_gpu

        sa, sb = match_gpu(a), match_gpu(b)
    except Exception:  # a spec table that cannot match is no reason to fail the report
        return False
    return sa is not None and sb is not None and getattr(sa, "name", sa) == getattr(sb, "name", sb)


def _gather(args) -> tuple[list[tuple[Path, dict]], list[tuple[Path, dict, bool]], list[str]]:
    """(results, ceilings (path, doc, explicit), notes). Raises InputError for bad explicit files."""
    notes: list[str] = []
    found_results: list[tuple[Path, dict]] = []
    found_ceilings: list[tuple[Path, dict, bool]] = []

    def take(path: Path, strict: bool, explicit_ceilings: bool = False) -> None:
        try:
            kind, doc = _load(path)
        except InputError as exc:
            if strict:
                raise
            notes.append(f"skipped {exc}")
            return
        if kind == "results":
            found_results.append((path, doc))
        elif kind == "ceilings":
            found_ceilings.append((path, doc, explicit_ceilings))
        elif strict:
            raise InputError(
                f"{path}: not a gpubench results or ceilings file (schema {kind[6:]}, expected "
                f"{results.SCHEMA!r} or {CEILINGS_SCHEMA!r})"
            )
        elif kind != "other:None":  # schema-less JSON beside the results (device.json) is not news
            notes.append(f"skipped {path}: schema {kind[6:]} is neither results nor ceilings")

    paths = [Path(p) for p in args.results]
    if not paths:
        if not REFERENCE_DIR.is_dir():
            return [], [], [NO_REFERENCE.format(where=f"{REFERENCE_DIR} does not exist")]
        paths = [REFERENCE_DIR]
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.json") if p.is_file())
            for f in files:
                take(f, strict=False)
        else:
            take(path, strict=True)
    for c in args.ceilings:
        path = Path(c)
        kind, doc = _load(path)
        if kind != "ceilings":
            raise InputError(
                f"{path}: --ceilings expects a {CEILINGS_SCHEMA!r} file, got {kind.split(':', 1)[-1]}"
            )
        found_ceilings.append((path, doc, True))
    if not found_results:
        where = ", ".join(str(p) for p in paths)
        if not args.results:
            notes.append(NO_REFERENCE.format(where=f"nothing usable in {where}"))
        else:
            notes.append(f"no results files among the arguments ({where})")
    return found_results, found_ceilings, notes


def run(args) -> int:
    try:
        found_results, found_ceilings, notes = _gather(args)
    except InputError as exc:
        print(f"gpubench report: {exc}", file=sys.stderr)
        return 2
    if not found_results:
        for n in notes:
            print(f"gpubench report: {n}", file=sys.stderr)
        return 1 if not args.results else 2
    ceilings = [CeilingsFile(p, d) for p, d, _ in found_ceilings]
    explicit = {id(d) for _, d, e in found_ceilings if e}
    sources = []
    for path, doc in found_results:
        gpu = (doc.get("device") or {}).get("name")
        match = None
        for cf in ceilings:  # explicit ceilings first, then the newest-named file
            if _same_gpu(gpu, (cf.doc.get("device") or {}).get("name")):
                if match is None or (id(cf.doc) in explicit and id(match.doc) not in explicit):
                    match = cf
        if match is not None:
            match.used_by.append(path.name)
        sources.append(
            Source(
                path,
                doc,
                match.doc if match else None,
                match.path if match else None,
                prefer_file=bool(match and id(match.doc) in explicit),
            )
        )
    for cf in ceilings:
        if not cf.used_by and id(cf.doc) in explicit:
            notes.append(
                f"{cf.path}: its GPU ({(cf.doc.get('device') or {}).get('name')}) matches no results file"
            )
    index = render(
        sources, Path(args.out), ceilings_files=ceilings, notes=notes, embed_images=args.embed_images
    )
    n_records = sum(len(d["records"]) for _, d in found_results)
    for n in notes:
        print(f"note: {n}")
    print(
        f"gpubench report: wrote {index} ({len(found_results)} results file(s), {n_records} records); "
        f"markdown summary: {index.parent / 'summary.md'}"
    )
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gpubench")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["report", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
