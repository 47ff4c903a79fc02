"""A stand-in for the GPU machine's python in the CPU rehearsal of the GPU packs (tests/test_packs.py): the
pack runner starts every step with it exactly as it starts the real interpreter on the GPU.

Every command's arguments go through the real parser, so a wrong option, path or name fails here as it
would on the GPU: `gpubench` subcommands and the gate's calibration through their own parsers, pytest's
options through pytest (with --collect-only on no test: nothing runs, the junit report is written) and
its test files by their paths. What needs a GPU, or time, is stood in for: `gpubench run`, `micro`
and `ncu` write a committed H100 file of their kind where their output goes (real data, not measured by
this run; a run's file holds the committed records of the items it was given); `device`, `layer`,
`profile-module`, `train-step`, `comm` and the calibration a note. `gpubench gate` runs for real.

    python tests/support/fake_pack_python.py -m MODULE ARGS...
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REF = REPO / "reports" / "reference" / "NVIDIA-H100-80GB-HBM3"
NCU_CSV = REPO / "tests" / "data" / "ncu" / "raw-page-2025.csv"
STOOD_IN = ("device", "run", "micro", "ncu", "layer", "profile-module", "train-step", "comm")
NOTE = '{"stand_in": "written by a CPU rehearsal: nothing was measured"}\n'


def real(argv: list[str]) -> None:
    os.execv(sys.executable, [sys.executable, *argv])


def committed_records(items_file: str, out: str) -> None:
    import dataclasses
    import json

    from gpubench import results
    from gpubench.bench.fleet.split import item_key
    from gpubench.bench.run.plan import PlanItem

    keys = {item_key(PlanItem.from_json(i)) for i in json.loads(Path(items_file).read_text())}
    run = results.read(REF / "results-quick.json")
    results.write(dataclasses.replace(run, records=[r for r in run.records if r.key in keys]), out)


def stand_in(command: str, args) -> None:
    if command == "device":
        print(NOTE, end="")
    elif command == "run":
        committed_records(args.items, args.out)
    elif command == "micro":
        shutil.copyfile(REF / "ceilings.json", args.out)
    elif command == "ncu":
        out = Path(args.out)
        shutil.copyfile(args.results, out)
        shutil.copyfile(NCU_CSV, out.with_name(f"{out.stem}-ncu-all.csv"))
    elif command in ("layer", "train-step", "comm"):
        Path(args.out).write_text(NOTE)
    elif command == "profile-module":
        Path(args.csv).write_text("operator,stand_in\n")
        Path(args.plot).write_bytes(b"")


def pytest(args: list[str]) -> int:
    """The test files must exist; the options go to pytest, collecting nothing (exit 5: no test)."""
    files = args[: next((i for i, a in enumerate(args) if a.startswith("-")), len(args))]
    missing = [f for f in files if not (REPO / f).is_file()]
    if missing or not files:
        print(f"no such test file: {missing}" if missing else "no test file given", file=sys.stderr)
        return 4
    cmd = [sys.executable, "-m", "pytest", __file__, *args[len(files) :], "--collect-only"]
    code = subprocess.run(cmd, cwd=REPO).returncode
    return 0 if code == 5 else code


def calibration(args: list[str]) -> None:
    from gpubench.reports.gate_calibration import parser

    got = parser().parse_args(args)
    for path in (got.json, got.markdown):
        if path:
            Path(path).write_text(NOTE)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(REPO))
    if argv[:2] == ["-m", "pytest"]:
        return pytest(argv[2:])
    if argv[:2] == ["-m", "gpubench.reports.gate_calibration"]:
        return calibration(argv[2:]) or 0
    if argv[:2] != ["-m", "gpubench.cli"] or len(argv) < 3 or argv[2] not in STOOD_IN:
        real(argv)
    import argparse
    import importlib

    from gpubench.cli import SUBCOMMANDS

    p = argparse.ArgumentParser(prog="gpubench")  # the subcommand's own parser, as gpubench builds it
    importlib.import_module(SUBCOMMANDS[argv[2]]).add_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv[2:])  # exits 2 on a bad argument, as the real command would
    stand_in(argv[2], args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
