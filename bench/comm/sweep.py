"""A collective sweep from start to results file: the workers' configuration, the launch (local processes,
or srun inside a Slurm allocation), the records read back into a Run, each with its collective placement
stored for outside readers, and the file written (status partial when a rank failed, every finished
record kept)."""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gpubench import results
from gpubench.bench.comm.launch import Launched, launch, read_journal
from gpubench.bench.comm.plan import CommItem
from gpubench.bench.measure.stopping import StoppingRule
from gpubench.bench.run.runner import (
    IMPORT_ROOT,
    Stopped,
    annotate,
    capture_provenance,
    stop_on_sigterm,
    store_placement,
)
from gpubench.results import Device, Record, Run, RunInfo
from gpubench.roofline.comm import load_interconnects, load_topology
from gpubench.roofline.comm.placement import place_collective, topology_to_json
from gpubench.roofline.specs import match_gpu

NCCL_ALGO = {"ring": "Ring", "tree": "Tree", "nvls": "NVLS", "nvls_tree": "NVLSTree", "pat": "PAT"}
TRANSPORT = {
    "gloo": "gloo over loopback TCP on one machine",
    "nccl": "NCCL (NVLink/PCIe within a node, the NICs between nodes)",
}


@dataclass
class SweepOptions:
    items: list[CommItem]
    backend: str
    ranks: int
    nodes: int = 1
    rule: StoppingRule = field(default_factory=StoppingRule)
    algorithm: str | None = None
    protocol: str | None = None
    host_overhead: bool = False
    topology: dict | None = None  # roofline.comm.placement.topology_to_json; None: gloo measures its own
    hang_s: float = 120.0
    worker: str = "gpubench.bench.comm.worker"
    argv: list[str] = field(default_factory=list)


def config_of(opts: SweepOptions) -> dict:
    return {
        "backend": opts.backend,
        "items": [i.to_json() for i in opts.items],
        "rule": dataclasses.asdict(opts.rule),
        "algorithm": opts.algorithm,
        "protocol": opts.protocol,
        "host_overhead": opts.host_overhead,
        "topology": opts.topology,
        "nodes": opts.nodes,
        "transport": TRANSPORT[opts.backend],
        "pg_timeout_s": max(60.0, opts.hang_s * 2),
    }


def worker_env(opts: SweepOptions) -> dict:
    """The workers' environment: the suite importable from where this process runs, NCCL's knobs."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(IMPORT_ROOT), env.get("PYTHONPATH")]))
    if opts.algorithm:
        env["NCCL_ALGO"] = NCCL_ALGO[opts.algorithm]
    if opts.protocol:
        env["NCCL_PROTO"] = opts.protocol
    return env


def launch_srun(config: dict, opts: SweepOptions, work: Path, env: dict) -> Launched:
    """Inside a Slurm allocation of several nodes: srun starts the ranks, each reading Slurm's variables."""
    import json

    config = {**config, "journal": str(work / "journal.jsonl")}
    (work / "config.json").write_text(json.dumps(config))
    per_node = -(-opts.ranks // opts.nodes)
    cmd = [
        "srun",
        f"--nodes={opts.nodes}",
        f"--ntasks={opts.ranks}",
        f"--ntasks-per-node={per_node}",
        sys.executable,
        "-m",
        opts.worker,
        str(work / "config.json"),
    ]
    code = subprocess.run(
        cmd, env={k: v for k, v in env.items() if k not in ("RANK", "WORLD_SIZE")}
    ).returncode
    failure = None if code == 0 else f"srun exited with status {code} (its output names the task)"
    return Launched(read_journal(work / "journal.jsonl"), failure)


def new_run(opts: SweepOptions) -> Run:
    from gpubench.bench.measure.device import software_versions

    info = RunInfo(
        profile="comm",
        modes=sorted({i.mode for i in opts.items}),
        argv=list(opts.argv),
        workloads=sorted({i.collective for i in opts.items}),
        items=len(opts.items),
        started=results.utc_now(),
        rule=dataclasses.asdict(opts.rule),
    )
    device = Device(
        name=f"CPU ({platform.processor() or platform.machine()}), gloo over loopback",
        extra={"cpus": os.cpu_count(), "platform": platform.platform()},
    )
    run = Run(device, results.Software.from_json(software_versions()), info)
    run.provenance = capture_provenance()
    if opts.backend == "gloo":
        run.run.notes.append(
            "gloo on the CPU: real measurements of gloo over loopback on this machine, "
            "timed with the host clock; not a GPU interconnect"
        )
    return run


def collect(run: Run, launched: Launched, nodes: int = 1) -> None:
    """The journaled records into `run`; rank 0's GPU becomes the run's device, and records that name no
    topology get the database system of that GPU (dgx-h100 for an H100 SXM), so they can be predicted."""
    rank0 = launched.run_info.get("rank0", {})
    topology = None
    if rank0.get("device"):
        run.device = Device.from_json(rank0["device"])
        system = system_of(run.device.name, nodes)
        topology = topology_to_json(system) if system is not None else None
    for raw in launched.records:
        rec = Record.from_json(raw)
        if rec.collective is not None and not rec.collective.topology and topology is not None:
            rec.collective = dataclasses.replace(rec.collective, topology=topology)
        run.add(rec)


def system_of(gpu_name: str | None, nodes: int):
    """The database system built from this GPU (dgx-h100 for an H100 SXM) as a Topology, or None."""
    spec = match_gpu(gpu_name)
    systems = [s for s in load_interconnects().systems.values() if spec is not None and s.gpu == spec.key]
    return load_topology(systems[0].key, nodes=nodes) if systems else None


def write(run: Run, out: Path, status: str) -> None:
    run.status, run.run.finished = status, results.utc_now()
    annotate(run)
    store_placement(run)
    for rec in run.records:
        p = place_collective(rec)
        rec.stored_roofline = {"collective": p.to_json()} if p is not None else None
    results.write(run, out)


def sweep(opts: SweepOptions, out: Path | None) -> tuple[Run, str | None, Path]:
    """Run the sweep; the run (written to `out` when given), the failure if any, the work folder (kept,
    with every rank's log, when something failed)."""
    work = Path(tempfile.mkdtemp(prefix="gpubench-comm-"))
    config, env = config_of(opts), worker_env(opts)
    run = new_run(opts)
    try:
        with stop_on_sigterm():  # SIGTERM unwinds like Ctrl-C: the workers are stopped on the way out
            if opts.nodes > 1:
                launched = launch_srun(config, opts, work, env)
            else:
                launched = launch(config, opts.ranks, work, opts.hang_s, opts.worker, env)
    except (KeyboardInterrupt, Stopped):  # what finished is kept, then the interruption goes on
        collect(run, Launched(read_journal(work / "journal.jsonl")), opts.nodes)
        if out is not None:
            write(run, out, "interrupted")
        raise KeyboardInterrupt from None
    collect(run, launched, opts.nodes)
    if out is not None:
        write(run, out, "complete" if launched.failure is None else "partial")
    if launched.failure is None:
        shutil.rmtree(work, ignore_errors=True)
    return run, launched.failure, work
