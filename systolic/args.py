"""The array options that `gpubench systolic` and `gpubench dse` share, and the config they build."""

from __future__ import annotations

import argparse

from gpubench.cliargs import number
from gpubench.exits import usage_error

from .config import ArrayConfig, check_dataflow, read_config
from .errors import SystolicInputError


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
        type=number("words/cycle", 0, low_open=True),
        metavar="WORDS",
        help="DRAM words/cycle for each SRAM's port (overrides the config; stalls when short)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


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
        changes["bandwidth"] = (args.bandwidth,) * 3
    return config.replace(**changes) if changes else config


def input_errors(impl, args, prog: str) -> int:
    """A command's body with bad input (SystolicInputError, found while reading its files) as one line
    and exit 2."""
    try:
        return impl(args)
    except SystolicInputError as exc:
        return usage_error(prog, str(exc))
