"""`gpubench submit --slurm --nodes N --gpus-per-node G --comm [gpubench comm arguments]`: one collective job
of N nodes x G tasks through submitit (bench.fleet.slurm.CommJob), every task one rank; rank 0 journals
into the submission folder, and the journal becomes one results file, as `gpubench comm` writes it.
`--local` runs the same job on this machine through submitit's local executor (gloo without GPUs)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from gpubench.bench.comm import output, sweep
from gpubench.bench.comm.launch import Launched, read_journal
from gpubench.bench.comm.plan import CommPlanError, build
from gpubench.bench.commands import comm_cli
from gpubench.bench.measure.stopping import StoppingRule
from gpubench.cliargs import Parser, parse_args, rule_problem
from gpubench.exits import usage_error
from gpubench.roofline.comm import load_topology
from gpubench.roofline.comm.placement import topology_to_json

PROG = "gpubench submit --comm"


def _comm_args(argv: list[str]) -> argparse.Namespace | int:
    """`gpubench comm`'s arguments as its own parser reads them, or the exit status that parsing ended
    with (a usage error: its one line printed)."""
    p = Parser(prog=PROG)
    comm_cli.add_arguments(p)
    comm = parse_args(p, argv)
    if not isinstance(comm, int) and (problem := rule_problem(comm)):
        return usage_error(PROG, problem)
    return comm


def _problem(args, comm, nodes: int, gpus: int) -> str | None:
    if args.array not in (None, 1) or args.resume:
        return "a collective job is one job of every rank: --array and --resume do not apply"
    if comm.predict or comm.nodes != 1:
        return "give the nodes to submit (--nodes), not to comm; --predict needs no job"
    if comm.ranks not in (None, nodes * gpus):
        return f"--ranks {comm.ranks}: the job has {nodes} node(s) x {gpus} task(s), one rank each"
    if args.local and (comm.backend or "gloo") != "gloo":
        return "--local runs the ranks on this machine's CPU: --backend gloo"
    return comm_cli.check(comm)


def _options(args, comm, nodes: int, gpus: int, folder: Path) -> sweep.SweepOptions:
    backend = comm.backend or ("gloo" if args.local else "nccl")
    items = build(comm_cli.collectives(comm.collective), comm.minbytes, comm.maxbytes, comm.stepfactor,
                  comm.dtype, comm.mode, nodes * gpus)  # fmt: skip
    topo = load_topology(comm.topology, nodes=nodes) if comm.topology else None
    rule = comm_cli.QUICK if comm.quick else StoppingRule(timeout_s=comm.timeout)
    return sweep.SweepOptions(items, backend, nodes * gpus, nodes, rule, comm.algorithm, comm.protocol,
                              comm.host_overhead, topology_to_json(topo) if topo else None, comm.hang_timeout,
                              argv=["gpubench", "submit", "--comm", *args.comm])  # fmt: skip


def submit_comm(args, echo=print, worker: str | None = None) -> int:
    """The collective job, from submission to results file; `worker` stands in for the real one (tests)."""
    from gpubench.bench.fleet.slurm import CommJob, comm_parameters, make_executor

    nodes, gpus = args.nodes or 1, args.gpus_per_node or 1
    try:
        comm = _comm_args(args.comm)
        if isinstance(comm, int):
            return comm
        if problem := _problem(args, comm, nodes, gpus):
            return usage_error(PROG, problem)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        folder = Path(args.folder or f"results/submit-comm-{stamp}")
        opts = _options(args, comm, nodes, gpus, folder)
    except (CommPlanError, ValueError) as exc:
        return usage_error(PROG, str(exc))
    folder.mkdir(parents=True, exist_ok=True)
    config_path, journal = folder / "comm-config.json", folder / "journal.jsonl"
    config_path.write_text(json.dumps({**sweep.config_of(opts), "journal": str(journal)}))
    from gpubench.bench.commands.submit_cli import cluster_options

    cluster = cluster_options(args, None)
    executor = make_executor(folder, cluster)
    executor.update_parameters(**comm_parameters(cluster))
    job = executor.submit(CommJob(config_path, worker or opts.worker))
    echo(f"{PROG}: job {job.job_id}: {len(opts.items)} records, {opts.backend} on {nodes} node(s) x {gpus} "
         f"rank(s) ({cluster.executor}) -> {folder}")  # fmt: skip
    failure = None
    try:
        job.results()
    except Exception as exc:  # the job's own error, with where its log is
        failure = f"the job failed: {str(exc).strip().splitlines()[-1][:300]} (logs: {folder / 'submitit'})"
    run = sweep.new_run(opts)
    sweep.collect(run, Launched(read_journal(journal)), nodes)
    out = Path(args.out) if args.out else folder / "comm.json"
    sweep.write(run, out, "complete" if failure is None else "partial")
    return comm_cli.finish(comm, [output.measured_row(r) for r in run.records], failure, out)
