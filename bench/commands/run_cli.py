"""`gpubench run`: correctness-check and time the kernels (what `nox -s bench` calls).

Every argument is checked before anything is measured: an unknown workload, variant, dtype, mode or
profile, a selection that matches nothing, an --out that cannot be written or a --ceilings file that
cannot be read exits 2 naming the problem. Without a GPU nothing is timed: the Triton variants of the
selection run in the Triton interpreter against their reference, and the CUDA sources compile with
NVRTC; the command says what it checked and what it left out.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from gpubench.bench.run.plan import PROFILES, PlanError, build_plan
from gpubench.cliargs import add_workload_module_option, needs, number, refuse_together
from gpubench.exits import usage_error
from gpubench.kernels.plugins import load_for_command
from gpubench.results import MODES

PROG = "gpubench run"
MAX_SUSTAINED_S = 600.0


class KnownChoicesFormatter(argparse.HelpFormatter):
    """--help lists the known workloads, variants and dtypes: computed only when help is shown, since
    finding them imports the workloads (torch)."""

    def _get_help_string(self, action):
        text = super()._get_help_string(action)
        lister = getattr(action, "known", None)
        return f"{text}; known: {lister()}" if lister else text


def _known(what: str):
    def lister() -> str:
        try:
            from gpubench import kernels

            ws = list(kernels.REGISTRY.values())
        except ImportError as exc:
            return f"(install torch to list them: {exc})"
        names = {"workload": [w.name for w in ws], "variant": [v for w in ws for v in w.variants],
                 "dtype": [d for w in ws for d in w.dtypes]}[what]  # fmt: skip
        return ", ".join(dict.fromkeys(names))

    return lister


def add_parser(subparsers):
    p = subparsers.add_parser("run", help=__doc__.split("\n")[0].split(": ", 1)[1], description=__doc__,
                              formatter_class=KnownChoicesFormatter)  # fmt: skip
    p.add_argument("--profile", default="quick", choices=list(PROFILES),
                   help="; ".join(f"{k}: {v.description}" for k, v in PROFILES.items()))  # fmt: skip
    for what in ("workload", "variant", "dtype"):
        a = p.add_argument(f"--{what}", nargs="+", metavar=what.upper(), help=f"only these {what}s")
        a.known = _known(what)
    add_workload_module_option(p)
    p.add_argument("--mode", nargs="+", choices=MODES, help="L2 modes (default: the profile's)")
    p.add_argument("--out", metavar="PATH", help="results file (default results/<gpu>-<time>.json)")
    p.add_argument(
        "--storage", default=".benchmarks", help="pytest-benchmark storage root (kept per GPU model)"
    )
    p.add_argument(
        "--ceilings", metavar="PATH", help="measured ceilings file (gpubench micro) to predict against"
    )
    p.add_argument(
        "--sustained", metavar="SECONDS", type=number("s", 0, MAX_SUSTAINED_S, low_open=True),
        help="measure every record a second time after SECONDS of back-to-back calls (the GPU at the clocks "
        "and power it settles to under load), stored beside the first, burst measurement (at most 600)",
    )  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="print the plan (one line per item) and exit")
    p.add_argument(
        "--gpus", metavar="all|0,2,...",
        help="one worker process per GPU (every visible GPU, or these indices or UUIDs), the plan split "
        "across them by expected time, longest first; one results file whose records name their GPU",
    )  # fmt: skip
    p.add_argument(
        "--balance-from", metavar="RESULTS",
        help="with --gpus: split by the times measured in this earlier results file (default: the "
        "datasheet roofline's estimate)",
    )  # fmt: skip
    p.add_argument(
        "--items", metavar="FILE",
        help="run exactly the plan items in FILE (a JSON list, as `gpubench submit` writes for each job) "
        "instead of a --workload/--variant/--dtype/--mode selection",
    )  # fmt: skip
    needs(p, "--balance-from", "--gpus", "it balances the split across GPUs")
    refuse_together(
        p, "--items", "--workload", "--variant", "--dtype", "--mode", why="--items fixes the plan"
    )
    p.set_defaults(func=run)
    return p


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def _check_files(args) -> str | None:
    """What is wrong with --out or --ceilings; a dry run checks them too, creating nothing."""
    from gpubench import results
    from gpubench.outpath import unwritable

    if args.out and (problem := unwritable(args.out, create=not args.dry_run)):
        return f"--out: {problem}"
    if args.ceilings:
        try:
            results.read_ceilings(args.ceilings)
        except results.ResultsError as exc:
            return f"--ceilings: {exc}"
    return None


def _multi_gpu_problem(args) -> str | None:
    """What is wrong with --gpus, before anything is loaded."""
    from gpubench.bench.fleet.gpus import GpuSelectionError, parse_spec

    if args.gpus is not None:
        try:
            parse_spec(args.gpus)
        except GpuSelectionError as exc:
            return str(exc)
    return None


def run(args) -> int:
    profile = PROFILES[args.profile]
    if problem := _multi_gpu_problem(args):
        return usage_error(PROG, problem)
    if problem := load_for_command(args.workload_module, PROG):
        return usage_error(PROG, problem)
    try:
        if args.items:
            from gpubench.bench.fleet.items import read_items

            plan = read_items(args.items)
        else:
            plan = build_plan(profile, args.workload, args.variant, args.dtype, args.mode)
    except PlanError as exc:
        return usage_error(PROG, str(exc))
    _warn_flop_counts(plan)
    if problem := _check_files(args):
        return usage_error(PROG, problem)
    if args.dry_run:
        for item in plan:
            print(item.id)
        for note in plan.notes:
            print(f"left out: {note}")
        print(f"{len(plan)} items (profile {profile.name}: {profile.description})")
        return 0
    if args.sustained:  # the workers read it from their environment (bench.run.worker)
        from gpubench.results.provenance import SUSTAINED_ENV

        os.environ[SUSTAINED_ENV] = repr(args.sustained)
    if args.gpus is not None:  # never initialises CUDA here: the GPUs are found through NVML
        from gpubench.bench.fleet.multigpu import run_selected

        return run_selected(
            profile, plan, args.gpus, args.out, args.storage, args.ceilings, args.balance_from
        )
    if not _has_gpu():
        return cpu_pass(args, plan)
    from gpubench.bench.run.runner import run_gpu
    from gpubench.outpath import unwritable

    if problem := unwritable(Path(args.storage) / "probe.json"):
        return usage_error(PROG, f"--storage: {problem}")
    return run_gpu(profile, plan, args.out, args.storage, args.ceilings)


def _warn_flop_counts(plan) -> None:
    """Declared FLOP counts that torch's FlopCounterMode contradicts (bench.measure.flopcheck), one line
    each."""
    from gpubench import kernels
    from gpubench.bench.measure import flopcheck

    names = [name for name in dict.fromkeys(i.workload for i in plan) if name in kernels.REGISTRY]
    for line in flopcheck.problems(kernels.REGISTRY[name] for name in names):
        print(f"{PROG}: warning: {line}", file=sys.stderr)


def _sources(workloads: list[str]) -> list[Path]:
    """The CUDA sources of these workloads (each lives beside its workload's module)."""
    from gpubench import kernels
    from gpubench.bench.cpucheck import nvrtc

    mods = [sys.modules.get(getattr(kernels.REGISTRY[w].make_inputs, "__module__", "")) for w in workloads]
    dirs = {Path(m.__file__).parent for m in mods if getattr(m, "__file__", None)}
    return [p for p in nvrtc.cuda_sources() if any(p.is_relative_to(d) for d in dirs)]


def cpu_pass(args, plan) -> int:
    from gpubench import kernels
    from gpubench.bench.cpucheck import nvrtc

    workloads = sorted({i.workload for i in plan}, key=list(kernels.REGISTRY).index)
    print(
        "gpubench run: no CUDA GPU visible, so nothing is timed and no results file is written.\n"
        "Running the CPU checks instead: the Triton variants in the Triton interpreter against their\n"
        "reference (test shapes), and the CUDA C sources through NVRTC for sm_80 and sm_90."
    )
    unused = [f"--{k}" for k in ("mode", "out", "ceilings", "sustained") if getattr(args, k)]
    if unused:
        print(f"Not used without a GPU: {', '.join(unused)} (they concern timing)")
    cmd = [sys.executable, "-m", "gpubench.bench.cpucheck.interpreter", "--workload", *workloads]
    cmd += ["--variant", *args.variant] if args.variant else []
    cmd += ["--dtype", *args.dtype] if args.dtype else []
    code = _child(cmd, {**os.environ, "TRITON_INTERPRET": "1"})
    if code == 130:
        return 130
    print("NVRTC compile of the CUDA C sources:")
    bad = nvrtc.check_sources(_sources(workloads), Path(kernels.__file__).parents[1])
    if not any(getattr(args, k, None) for k in ("workload", "variant", "dtype", "items", "workload_module")):
        comm = collective_sweep(_child)
        if comm == 130:
            return 130
        bad = bad or comm != 0
    print(
        "\nTo see real measurements without a GPU, render the committed reference results:\n"
        "  nox -s report   (or: gpubench report --out report/)  then open report/index.html"
    )
    return max(code, 1 if bad else 0)


def collective_sweep_command() -> list[str]:
    """The CPU main job's collective sweep: gloo over loopback, 2 processes, small sizes, a short rule; its
    results file goes where `gpubench comm` puts one (results/comm-gloo-<time>.json)."""
    return [sys.executable, "-m", "gpubench.cli", "comm", "--backend", "gloo", "--ranks", "2",
            "--collective", "all_reduce", "all_gather", "reduce_scatter", "-b", "1K", "-e", "64K", "-f", "8",
            "--quick"]  # fmt: skip


def collective_sweep(child) -> int:
    """Run the collective sweep and say what its records are: real measurements of gloo on this CPU, not
    of a GPU interconnect (`gpubench report` draws them on the collective roofline)."""
    print("\nCollectives: a small sweep with gloo over loopback, 2 processes on this CPU (gpubench comm: "
          "real measurements of gloo here, beside its alpha-beta model over the loopback link the run "
          "measures; GPU interconnects need a GPU machine):")  # fmt: skip
    return child(collective_sweep_command(), dict(os.environ))


def _child(cmd: list[str], env: dict) -> int:
    """Run the interpreter pass in a process group of its own, as the orchestrator runs its workers: a
    terminal's Ctrl-C, or a SIGINT or SIGTERM sent to this process alone, reaches this process, which
    then stops the child at once (bench.run.orchestrate.stop_process) with one line, no traceback."""
    from gpubench.bench.run.orchestrate import stop_process

    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    old = signal.signal(signal.SIGTERM, lambda *a: stop_process(proc))
    try:
        code = proc.wait()
        if code < 0:  # ended by a signal (SIGTERM passed on above)
            print(f"{PROG}: stopped", file=sys.stderr)
            return 130
        return code
    except KeyboardInterrupt:
        stop_process(proc)
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, old)
