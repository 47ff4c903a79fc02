"""`gpubench comm`: measure collectives the way nccl-tests does (algbw, busbw, #wrong, size sweeps, in- and
out-of-place), timed with the suite's method, each beside the collective model's prediction.

NCCL on GPUs (one process per GPU), gloo on CPUs (processes on this machine, over loopback: a real
measurement of gloo, labelled so). `--predict` only predicts, from a topology, without torch or a GPU.
Across nodes, run it inside a Slurm allocation (or through `gpubench submit --comm`): srun starts the ranks.
Every argument is checked before anything starts; a bad one exits 2 naming it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from gpubench.bench.comm import output
from gpubench.bench.comm.plan import BACKENDS, DTYPES, CommPlanError, build, parse_size
from gpubench.bench.measure.stopping import StoppingRule
from gpubench.cliargs import count, needs, number, refuse_together, standalone
from gpubench.exits import EXIT_FOUND, EXIT_USAGE, usage_error
from gpubench.results import COLLECTIVE_MODES
from gpubench.roofline.comm import COLLECTIVES, TOPOLOGIES, load_topology
from gpubench.roofline.comm.nccl_model import ALGORITHMS_OF
from gpubench.roofline.comm.tuning import PROTOCOLS

PROG = "gpubench comm"
NCCL_ALGORITHMS = ("ring", "tree", "nvls", "nvls_tree", "pat")
MIN_BW_SHARE = 0.9  # nccl-tests' NCCL_TESTS_MIN_BW: the run fails below 0.9 x the given busbw
MIN_BW = number("GB/s", 0, low_open=True)
QUICK = StoppingRule(min_samples=5, max_samples=20, min_time_s=0.0, rel_noise=0.05, timeout_s=1.0)


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("comm", help=__doc__.split("\n")[0].split(": ", 1)[1], description=__doc__)
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--collective",
        nargs="+",
        default=["all_reduce"],
        metavar="NAME",
        help=f"collectives, or 'all' (default all_reduce); known: {', '.join(COLLECTIVES)}",
    )
    p.add_argument("--backend", choices=BACKENDS, help="default: nccl with a GPU, gloo without")
    p.add_argument("--ranks", type=count("ranks"), help="processes (default: the GPUs visible; 2 for gloo)")
    p.add_argument("--nodes", type=count("nodes"), default=1,
                   help="nodes (> 1: inside a Slurm allocation of that many)")  # fmt: skip
    p.add_argument("-b", "--minbytes", type=byte_size, default="8",
                   help="smallest size (nccl-tests' -b; K, M, G)")  # fmt: skip
    p.add_argument("-e", "--maxbytes", type=byte_size, default="32M", help="largest size (nccl-tests' -e)")
    p.add_argument("-f", "--stepfactor", type=number("x", 0, low_open=True), default=2.0,
                   help="size factor (nccl-tests' -f)")  # fmt: skip
    p.add_argument("--dtype", nargs="+", default=["fp32"], help=f"known: {', '.join(DTYPES)}")
    p.add_argument(
        "--mode",
        nargs="+",
        choices=COLLECTIVE_MODES,
        help="default: every mode torch.distributed offers each collective",
    )
    p.add_argument("--algorithm", choices=NCCL_ALGORITHMS, help="force NCCL's algorithm (NCCL_ALGO)")
    p.add_argument("--protocol", choices=PROTOCOLS, help="force NCCL's protocol (NCCL_PROTO)")
    p.add_argument(
        "--host-overhead",
        action="store_true",
        help="one call per sample after a barrier, host clock (what a synchronising loop sees)",
    )
    p.add_argument(
        "--topology",
        metavar="NAME|FILE",
        help=f"what predicts the records: {', '.join(TOPOLOGIES)} or a TOML file (default: the "
        "system of this GPU; for gloo, the loopback link measured in the run)",
    )
    p.add_argument("--predict", action="store_true", help="predict only (no torch, no GPU): needs --topology")
    p.add_argument("--json", action="store_true", help="one JSON row per record on stdout")
    p.add_argument("--out", metavar="PATH", help="results file (default results/comm-<backend>-<time>.json)")
    p.add_argument(
        "--min-bw",
        type=MIN_BW,
        metavar="GBPS",
        help="exit 1 when the average busbw is below 0.9 x GBPS (nccl-tests' NCCL_TESTS_MIN_BW)",
    )
    p.add_argument("--quick", action="store_true", help="a short stop rule (5-20 samples, 1 s per record)")
    p.add_argument("--timeout", type=number("s", 0, low_open=True), default=5.0,
                   help="seconds of sampling per record at most")  # fmt: skip
    p.add_argument(
        "--hang-timeout",
        type=number("s", 0, low_open=True),
        default=120.0,
        help="a rank without progress this long ends the run, named (default 120 s)",
    )
    needs(p, "--predict", "--topology", "a named system or a file")
    refuse_together(p, "--predict", "--out", "--min-bw", "--quick", "--timeout", "--hang-timeout",
                    "--host-overhead", why="--predict measures nothing")  # fmt: skip
    refuse_together(p, "--quick", "--timeout", why="--quick has its own stop rule")


def byte_size(text: str) -> int:
    """An argparse `type`: nccl-tests' size (bytes, or with K, M or G), refused in one line."""
    try:
        return parse_size(text)
    except CommPlanError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def collectives(names: list[str]) -> list[str]:
    return list(COLLECTIVES) if names == ["all"] else names


def _predict_rows(args, items, topo) -> list[dict]:
    ranks = args.ranks or topo.gpus
    return [
        output.predicted_row(i, ranks, topo, args.backend or "nccl", args.algorithm, args.protocol)
        for i in items
    ]


def check(args) -> str | None:
    """The first problem with the arguments that needs no torch, or None (their declared rules aside)."""
    if args.min_bw is None and (env := os.environ.get("NCCL_TESTS_MIN_BW")):
        try:
            MIN_BW(env)
        except argparse.ArgumentTypeError as exc:
            return f"NCCL_TESTS_MIN_BW: {exc}"
    if args.backend == "gloo" and (args.algorithm or args.protocol):
        return "--algorithm and --protocol force NCCL's choice; gloo picks its own"
    for c in collectives(args.collective):
        if args.algorithm and c in ALGORITHMS_OF and args.algorithm not in ALGORITHMS_OF[c]:
            has = ", ".join(ALGORITHMS_OF[c])
            return f"--algorithm {args.algorithm}: NCCL has no {args.algorithm} {c} (it has: {has})"
    if args.nodes > 1 and not args.predict:
        granted = os.environ.get("SLURM_NNODES") or os.environ.get("SLURM_JOB_NUM_NODES")
        if granted is None:
            return (
                f"--nodes {args.nodes}: not inside a Slurm allocation (use salloc or sbatch, or "
                "gpubench submit --comm)"
            )
        if int(granted) != args.nodes:
            return f"--nodes {args.nodes}: Slurm granted {granted} node(s) (SLURM_NNODES={granted})"
    return None


def run(args) -> int:
    if problem := check(args):
        return usage_error(PROG, problem)
    try:
        begin, end = args.minbytes, args.maxbytes
        topo = load_topology(args.topology, nodes=args.nodes) if args.topology else None
        if args.predict:
            items = build(
                collectives(args.collective),
                begin,
                end,
                args.stepfactor,
                args.dtype,
                args.mode,
                args.ranks or topo.gpus,
            )
            rows = _predict_rows(args, items, topo)
            return _emit(args, rows)
    except (CommPlanError, ValueError) as exc:
        return usage_error(PROG, str(exc))
    from gpubench.bench.commands import comm_measure

    return comm_measure.measure(args, begin, end, topo, collectives(args.collective))


def _emit(args, rows: list[dict]) -> int:
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        print(output.table(rows))
    return 0


def finish(args, rows: list[dict], failure: str | None, out: Path | None) -> int:
    """Print the rows, say where the file is and what failed; the exit status."""
    _emit(args, rows)
    err = sys.stderr
    if out is not None:
        print(f"{PROG}: results -> {out}", file=err)
    if failure:
        print(f"{PROG}: stopped: {failure}; {len(rows)} finished record(s) kept", file=err)
        return EXIT_FOUND
    wrong = [r for r in rows if r.get("wrong")]
    if wrong:
        print(f"{PROG}: {len(wrong)} record(s) with wrong results (#wrong > 0): they fail", file=err)
        return EXIT_FOUND
    env = os.environ.get("NCCL_TESTS_MIN_BW")
    threshold = args.min_bw or (MIN_BW(env) if env else None)  # checked before the run (check)
    avg = output.average_busbw(rows)
    if threshold is not None and avg is not None:
        print(f"{PROG}: average busbw {avg:.3f} GB/s (needed >= {MIN_BW_SHARE} x {threshold:g})", file=err)
        if avg < MIN_BW_SHARE * threshold:
            return EXIT_FOUND
    return 0


def main(argv=None) -> int:
    return standalone(add_arguments, run, PROG, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["EXIT_USAGE", "add_parser", "main", "run"]
