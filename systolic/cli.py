"""`gpubench systolic TOPOLOGY [--config CFG] [--json]`: cycles, mapping, utilisation, traffic per layer;
with `--gpu NAME` the same layers on the GPU's roofline, and with `--results FILE` beside its measured conv2d
records.

TOPOLOGY is a SCALE-Sim conv or GEMM CSV (a GEMM file is recognised by its `M, N, K` header) or the suite's
TOML/JSON; CFG a SCALE-Sim .cfg or the suite's TOML/JSON (default: data/default.toml, a 32x32 weight-
stationary array with 64 KiB SRAMs). Exit codes: 0 success, 1 --gpu lacks the dtype's unit (no GPU time,
the reason on stderr), 2 bad input (one line on stderr).
Also runs as `python -m gpubench.systolic.cli`.
"""

from __future__ import annotations

import argparse
import json
import sys

from gpubench.cliargs import needs, number, standalone
from gpubench.roofline.target import TargetError, add_target_arguments, target_from_args

from .analysis import evaluate
from .args import add_array_arguments, build_config, input_errors
from .errors import SystolicInputError
from .model import check_cycle_model
from .report import topology_report
from .topology import read_topology

PROG = "gpubench systolic"


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("topology", metavar="TOPOLOGY", help="SCALE-Sim conv/GEMM CSV or the suite's .toml/.json")
    add_array_arguments(p)
    p.add_argument("--dataflow", metavar="DF", help="os, ws or is (overrides the config)")
    p.add_argument("--array", metavar="RxC", help="array rows x columns, e.g. 128x128 (overrides the config)")
    add_target_arguments(p, "also predict each GEMM on this GPU (e.g. h100_sxm5, l4)")
    p.add_argument(
        "--clock-mhz", type=number("MHz", 0, low_open=True), metavar="MHZ",
        help="the array's clock for --gpu (default: config)",
    )  # fmt: skip
    p.add_argument(
        "--dtype",
        metavar="DTYPE",
        help="GPU dtype for --gpu (default from the word size: 1 byte int8, 2 bf16, 4 tf32)",
    )
    p.add_argument(
        "--results", metavar="FILE",
        help="a results file with conv2d records of the same layers: the array's time beside each measured",
    )  # fmt: skip
    target = ["--gpu", "--spec-file"]
    for option in ("--clock-mhz", "--dtype", "--results"):
        needs(p, option, target, "it sets how the array is set against the GPU")
    for option in ("--ceilings", "--what-if"):
        needs(p, option, target, "it describes the GPU the GEMMs are predicted on")
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "systolic",
        help="systolic-array accelerator model: cycles, mapping, traffic and stalls per layer",
        description="Cycles (fill, drain and skew included), folds, mapping efficiency, utilisation, SRAM "
        "and DRAM traffic and bandwidth stalls of each layer of TOPOLOGY on an output-, weight- or "
        "input-stationary systolic array, read in SCALE-Sim's formats or the suite's; optionally the same "
        "GEMMs on a GPU's roofline. Exit codes: 0 ok, 2 bad input.",
    )
    configure(p)
    p.set_defaults(func=run)
    return p


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
    if target is not None:
        from .gpu import compare, comparison_table

        out["gpu"] = compare(result, target, args.clock_mhz, args.dtype)
        if args.results:
            from .measured import measured, read_results

            cmp = out["gpu"]
            cmp["measured"] = measured(result, read_results(args.results), cmp["clock_mhz"], cmp["dtype"])
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(topology_report(result))
        if target is not None:
            print("\n" + comparison_table(out["gpu"]))
        if "measured" in out.get("gpu", {}):
            from .measured import measured_table

            print("\n" + measured_table(out["gpu"]["measured"]))
    if target is not None and out["gpu"]["refused"]:  # no GPU time: say so in the exit status too
        print(f"{PROG}: no GPU prediction: {out['gpu']['note']}", file=sys.stderr)
        return 1
    return 0


def run(args) -> int:
    return input_errors(_run, args, PROG)


def main(argv=None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    return standalone(configure, run, PROG, __doc__, argv, formatter_class=raw)


if __name__ == "__main__":
    sys.exit(main())
