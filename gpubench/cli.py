"""The `gpubench` command: one entry point for every subcommand.

Exit statuses are the same for every command: gpubench.exits owns them (and docs/cli.md lists them).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from gpubench import __version__
from gpubench.cliargs import Parser, parse_args, run_command
from gpubench.exits import EXIT_INTERRUPTED, EXIT_USAGE

# Subcommand -> module with add_parser(subparsers), which sets the parser's `func` (the command's body).
# Every subcommand's parser is a gpubench.cliargs.Parser (a usage error is one line, exit 2), and every
# body runs under cliargs.run_command (its option rules, a closed or full stdout). A new command joins
# here, and in the table of tests/test_cli_robustness.py. Modules import only what they need
# at module level: `report`, `gate`, `compare`, `export`, `specs`, `tiling`, `systolic`, `dse`, `model`
# and `train` run without torch.
SUBCOMMANDS = {
    "list": "gpubench.bench.commands.list_cli",
    "device": "gpubench.bench.commands.device_cli",
    "run": "gpubench.bench.commands.run_cli",
    "micro": "gpubench.bench.commands.micro_cli",
    "ncu": "gpubench.bench.commands.ncu_cli",
    "comm": "gpubench.bench.commands.comm_cli",
    "specs": "gpubench.roofline.specs_cli",
    "tiling": "gpubench.roofline.tiling_cli",
    "predict": "gpubench.roofline.predict_cli",
    "systolic": "gpubench.systolic.cli",
    "dse": "gpubench.systolic.dse_cli",
    "report": "gpubench.reports.report_cli",
    "gate": "gpubench.reports.gate_cli",
    "compare": "gpubench.reports.compare_cli",
    "export": "gpubench.reports.export_cli",
    "submit": "gpubench.bench.commands.submit_cli",
    "merge": "gpubench.reports.merge_cli",
    "history": "gpubench.reports.history_cli",
    "model": "gpubench.transformer.model_cli",
    "train": "gpubench.transformer.training.cli",
    "train-step": "gpubench.transformer.measured.train_step_cli",
    "layer": "gpubench.transformer.measured.layer_cli",
    "profile-module": "gpubench.transformer.measured.profile_cli",
}
# What to install when an optional dependency is missing, by top-level module name.
INSTALL_HINTS = {
    "torch": "torch: pip install 'gpubench[cpu]' on a machine without a GPU (README), or a CUDA torch",
    "triton": "triton: pip install 'gpubench[cpu]', or the Triton that came with your CUDA build of torch",
    "cupy": "CuPy: pip install 'gpubench[cuda12]' or 'gpubench[cuda13]' (matching your CUDA major version)",
    "pyarrow": "pyarrow: pip install pyarrow",
    "submitit": "submitit: pip install 'gpubench[cluster]'",
    "pandas": "pandas: pip install gpubench (it is a dependency; the install is incomplete)",
    "matplotlib": "matplotlib: pip install gpubench (it is a dependency; the install is incomplete)",
    "jinja2": "jinja2: pip install gpubench (it is a dependency; the install is incomplete)",
    "numpy": "numpy: pip install gpubench (it is a dependency; the install is incomplete)",
    "transformers": "transformers: pip install transformers (for `gpubench profile-module --hf`)",
}


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="gpubench",
        description="GPU kernel benchmarks: correctness, device time, telemetry, rooflines, regression gate.",
        epilog="Exit codes: 0 ok; 1 found something (a regression, a failed kernel); 2 usage or input error; "
        "130 interrupted; 141 its output was closed (| head). `gpubench COMMAND --help` for each command.",
    )
    p.add_argument("--version", action="version", version=f"gpubench {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    return p


def _missing(exc: ModuleNotFoundError) -> str | None:
    top = (exc.name or "").split(".")[0]
    return INSTALL_HINTS.get(top)


def main(argv=None) -> int:
    prog = "gpubench"
    try:
        args = parse_args(build_parser(), argv)
        if isinstance(args, int):  # --help, --version, a usage error
            return args
        prog = f"gpubench {args.command}"
        return run_command(args.func, args, prog)
    except ModuleNotFoundError as exc:
        hint = _missing(exc)
        if hint is None:
            raise
        print(f"{prog}: error: needs {hint}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # while the commands' modules are imported (torch takes seconds)
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
