"""`gpubench systolic TOPOLOGY [--config CFG] [--json]`: cycles, mapping, utilisation, traffic per layer.

TOPOLOGY is a SCALE-Sim conv or GEMM CSV (a GEMM file is recognised by its `M, N, K` header) or the suite's
TOML/JSON; CFG a SCALE-Sim .cfg or the suite's TOML/JSON (default: data/default.toml, a 32x32 weight-
stationary array with 64 KiB SRAMs). Exit codes: 0 success, 1 --gpu lacks the dtype's unit (no GPU time,
the reason on stderr), 2 bad input (one line on stderr).
Also runs as `python -m gpubench.systolic.cli`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

from gpubench.roofline.target import TargetError, add_target_arguments, target_from_args

from .analysis import evaluate
from .config import ArrayConfig, check_dataflow, read_config
from .errors import SystolicInputError
from .model import check_cycle_model
from .report import topology_report
from .topology import read_topology

PROG = "gpubench systolic"


def _one_line_errors(p: argparse.ArgumentParser, prog: str) -> None:
    """argparse's usage errors as one line on stderr, exit 2, like every other bad input."""

    def error(message: str):
        print(f"{prog}: {message}", file=sys.stderr)
        sys.exit(2)

    p.error = error


def add_array_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="CFG",
        help="SCALE-Sim .cfg or the suite's .toml/.json "
        "(default: a 32x32 ws array, 64 KiB SRAMs, estimated bandwidth)",
    )
    p.add_argument(
        "--cycle-model",
        default="scalesim",
        metavar="MODEL",
        help="scalesim (default: SCALE-Sim 3.0.0's counts) or paper (its paper's closed forms, "
        "which add the output-stationary drain)",
    )
    p.add_argument(
        "--bandwidth",
        type=float,
        metavar="WORDS",
        help="DRAM words/cycle for each SRAM's port (overrides the config; stalls when short)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("topology", metavar="TOPOLOGY", help="SCALE-Sim conv/GEMM CSV or the suite's .toml/.json")
    add_array_arguments(p)
    p.add_argument("--dataflow", metavar="DF", help="os, ws or is (overrides the config)")
    p.add_argument("--array", metavar="RxC", help="array rows x columns, e.g. 128x128 (overrides the config)")
    add_target_arguments(p, "also predict each GEMM on this GPU (e.g. h100_sxm5, l4)")
    p.add_argument(
        "--clock-mhz", type=float, metavar="MHZ", help="the array's clock for --gpu (default: config)"
    )
    p.add_argument(
        "--dtype",
        metavar="DTYPE",
        help="GPU dtype for --gpu (default from the word size: 1 byte int8, 2 bf16, 4 tf32)",
    )


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "systolic",
        help="systolic-array accelerator model: cycles, mapping, traffic and stalls per layer",
        description="Cycles (fill, drain and skew included), folds, mapping efficiency, utilisation, SRAM "
        "and DRAM traffic and bandwidth stalls of each layer of TOPOLOGY on an output-, weight- or "
        "input-stationary systolic array, read in SCALE-Sim's formats or the suite's; optionally the same "
        "GEMMs on a GPU's roofline. Exit codes: 0 ok, 2 bad input.",
    )
    _add_arguments(p)
    _one_line_errors(p, PROG)
    p.set_defaults(func=run)
    return p


def parse_array(text: str) -> tuple[int, int]:
    parts = text.lower().replace("*", "x").split("x")
    try:
        rows, cols = (int(x) for x in parts)
    except ValueError:
        raise SystolicInputError(f"--array: expected ROWSxCOLS such as 32x32, got {text!r}") from None
    if rows <= 0 or cols <= 0:
        raise SystolicInputError(f"--array: rows and columns must be positive, got {text!r}")
    return rows, cols


def build_config(args) -> ArrayConfig:
    """The config file (or the default) with the command line's overrides applied."""
    config = read_config(getattr(args, "config", None))
    changes = {}
    if getattr(args, "dataflow", None):
        changes["dataflow"] = check_dataflow(args.dataflow, "--dataflow")
    if getattr(args, "array", None):
        changes["rows"], changes["cols"] = parse_array(args.array)
    if getattr(args, "bandwidth", None) is not None:
        if not args.bandwidth > 0:
            raise SystolicInputError(f"--bandwidth must be > 0 words/cycle, got {args.bandwidth:g}")
        changes["bandwidth"] = (args.bandwidth,) * 3
    return config.replace(**changes) if changes else config


def _run(args) -> int:
    cycle_model = check_cycle_model(args.cycle_model)
    config = build_config(args)
    topology = read_topology(args.topology)
    result = evaluate(topology, config, cycle_model)
    out = result.to_dict()
    try:
        target = target_from_args(args, required=False)
    except TargetError as exc:
        raise SystolicInputError(str(exc)) from None
    if target is None and args.ceilings:
        raise SystolicInputError("--ceilings needs the GPU they were measured on: --gpu NAME")
    if target is not None:
        from .gpu import compare, comparison_table

        out["gpu"] = compare(result, target, args.clock_mhz, args.dtype)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(topology_report(result))
        if target is not None:
            print("\n" + comparison_table(out["gpu"]))
    if target is not None and out["gpu"]["refused"]:  # no GPU time: say so in the exit status too
        print(f"{PROG}: no GPU prediction: {out['gpu']['note']}", file=sys.stderr)
        return 1
    return 0


def guarded(impl, args, prog: str) -> int:
    """Run a command's body: bad input is one line and exit 2; a closed pipe (| head) ends quietly."""
    try:
        return impl(args)
    except SystolicInputError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`: stop quietly
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def standalone(add_arguments, run_fn, prog: str, doc: str, argv=None) -> int:
    """`python -m` entry point of a command: its own parser, the same one-line errors."""
    p = argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(p)
    _one_line_errors(p, prog)
    try:
        return run_fn(p.parse_args(argv))
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2, already reported)
        return int(exc.code or 0)


def run(args) -> int:
    return guarded(_run, args, PROG)


def main(argv=None) -> int:
    return standalone(_add_arguments, run, PROG, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
