"""`gpubench comm`'s measuring path: the backend and ranks this machine can run, the topology that
predicts the records, then the sweep (bench.comm.sweep) and its rows."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from gpubench.bench.comm import output
from gpubench.bench.comm.plan import CommPlanError, build
from gpubench.bench.comm.sweep import SweepOptions, sweep, system_of
from gpubench.bench.commands.comm_cli import PROG, QUICK, finish
from gpubench.bench.measure.stopping import StoppingRule
from gpubench.exits import EXIT_INTERRUPTED, usage_error
from gpubench.outpath import unwritable
from gpubench.roofline.comm.placement import topology_to_json


def visible_gpus() -> list:
    """The GPUs this process may use, through NVML (CUDA is never initialised here); [] without NVML."""
    from gpubench.bench.fleet.gpus import GpuSelectionError, nvml_gpus, visible

    try:
        return visible(nvml_gpus(), os.environ.get("CUDA_VISIBLE_DEVICES"))
    except GpuSelectionError:
        return []


def _backend_and_ranks(args, gpus: list) -> tuple[str, int] | str:
    backend = args.backend or ("nccl" if gpus else "gloo")
    if backend == "nccl":
        if not gpus:
            return "--backend nccl needs a GPU; none is visible (NVML finds none): use --backend gloo"
        per_node = len(gpus)
        ranks = args.ranks or per_node * args.nodes
        if -(-ranks // args.nodes) > per_node:
            held = f"{args.nodes} node(s) x {per_node} visible GPU(s)"
            return f"--ranks {ranks}: more ranks than GPUs ({held})"
        return backend, ranks
    if args.nodes > 1:
        return "gloo runs on this machine's CPU only: --nodes must be 1"
    return backend, args.ranks or 2


def measure(args, begin: int, end: int, topo, collectives: list[str]) -> int:
    gpus = visible_gpus()
    got = _backend_and_ranks(args, gpus)
    if isinstance(got, str):
        return usage_error(PROG, got)
    backend, ranks = got
    try:
        items = build(collectives, begin, end, args.stepfactor, args.dtype, args.mode, ranks)
    except CommPlanError as exc:
        return usage_error(PROG, str(exc))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else Path("results") / f"comm-{backend}-{stamp}.json"
    if problem := unwritable(out):
        return usage_error(PROG, f"--out: {problem}")
    if topo is None and backend == "nccl":
        topo = system_of(gpus[0].name, args.nodes)
    rule = QUICK if args.quick else StoppingRule(timeout_s=args.timeout)
    opts = SweepOptions(
        items,
        backend,
        ranks,
        args.nodes,
        rule,
        args.algorithm,
        args.protocol,
        args.host_overhead,
        topology_to_json(topo) if topo else None,
        args.hang_timeout,
        argv=["gpubench", "comm", *sys.argv[2:]],
    )
    over = topo.name if topo else "the loopback link measured in the run" if backend == "gloo" else "nothing"
    print(
        f"{PROG}: {len(items)} records, {backend} on {ranks} rank(s); predicted over {over}", file=sys.stderr
    )
    try:
        run, failure, work = sweep(opts, out)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the records finished before are in {out}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if failure:
        failure += f" (every rank's log: {work})"
    rows = [output.measured_row(r) for r in run.records]
    return finish(args, rows, failure, out)
