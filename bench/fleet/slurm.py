"""Job arrays through submitit (`gpubench submit`): the plan split into shards, one job per shard, each
job a `gpubench run --items SHARD --gpus all` on the GPUs of its node(s), writing its own results file
into the submission folder (gpubench.results.submission); `gpubench merge DIR` makes one run of them.

submitit's executors do the scheduling: `AutoExecutor(cluster="slurm")` on a cluster, its "local" and
"debug" executors on one machine (and in the CPU tests). A job of several nodes runs one task per node,
each on its part of the shard (split by expected time again), each writing `<shard>.task<k>.json`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from gpubench import results
from gpubench.bench.fleet.items import write_items
from gpubench.bench.fleet.split import item_key, lpt
from gpubench.bench.run.plan import PlanItem
from gpubench.results.submission import (
    COMPLETED,
    RESULTS_DIR,
    SHARDS_DIR,
    SUBMITTED,
    Shard,
    Submission,
    result_files,
    write_submission,
)

__all__ = [
    "ClusterOptions", "CommJob", "ShardJob", "comm_parameters", "missing_items", "new_shards",
    "submit_shards", "wait_for",
]  # fmt: skip

EXECUTORS = ("slurm", "local", "debug")
# The exit codes of `gpubench run` that mean it ran its items (1: some kernel failed, which its file says).
RAN = (0, 1)
# What a job that ended with an error is called when its scheduler has no better word for it.
FAILED = "FAILED"


@dataclass(frozen=True)
class ClusterOptions:
    executor: str = "slurm"
    partition: str | None = None
    gpus_per_node: int = 1
    nodes: int = 1
    array: int = 1
    timeout_min: int = 60
    account: str | None = None
    constraint: str | None = None

    def parameters(self) -> dict:
        """submitit's AutoExecutor parameters (the slurm_ ones are ignored by the other executors)."""
        params = dict(
            name="gpubench",
            timeout_min=self.timeout_min,
            gpus_per_node=self.gpus_per_node,
            nodes=self.nodes,
            tasks_per_node=1,
            slurm_array_parallelism=self.array,
        )
        extra = {
            "slurm_partition": self.partition,
            "slurm_account": self.account,
            "slurm_constraint": self.constraint,
        }
        return {**params, **{k: v for k, v in extra.items() if v}}

    def to_json(self) -> dict:
        return asdict(self)


def make_executor(folder: Path, opts: ClusterOptions):
    import submitit

    executor = submitit.AutoExecutor(folder=folder / "submitit", cluster=opts.executor)
    executor.update_parameters(**opts.parameters())
    return executor


class ShardJob:
    """What one job runs (submitit pickles it): `command` (default `gpubench run`) on the shard's items,
    with --gpus all and the run's own arguments. In a job of several tasks (nodes) each task runs its
    part. Raises when the run did not run its items, so the scheduler marks the job failed."""

    def __init__(
        self,
        folder: Path,
        shard: Shard,
        run_args: Sequence[str],
        costs: dict[str, float],
        command: Sequence[str] | None = None,
    ):
        self.folder, self.name = Path(folder), shard.name
        self.items = [PlanItem.from_json(i) for i in shard.items]
        self.run_args, self.costs = list(run_args), dict(costs)
        self.command = list(command) if command else [sys.executable, "-m", "gpubench.cli", "run"]

    def _task(self) -> tuple[int, int]:
        try:
            import submitit

            env = submitit.JobEnvironment()
            return env.global_rank, env.num_tasks
        except (ImportError, RuntimeError):  # not inside a submitit job
            return 0, 1

    def __call__(self) -> dict:
        from gpubench.bench.run.runner import IMPORT_ROOT

        rank, tasks = self._task()
        name, items = self.name, self.items
        if tasks > 1:
            items = lpt(self.items, tasks, lambda i: self.costs.get(i.id, 1.0))[rank]
            name = f"{self.name}.task{rank}"
            if not items:
                return {"shard": name, "exit": 0, "items": 0}
        items_file = self.folder / SHARDS_DIR / f"{name}.json"
        if tasks > 1:  # this node's part (the whole shard's file was written at submission)
            write_items(items_file, items)
        out = self.folder / RESULTS_DIR / f"{name}.json"
        cmd = [*self.command, "--items", str(items_file), "--gpus", "all", "--out", str(out), *self.run_args]
        path = os.pathsep.join(filter(None, [str(IMPORT_ROOT), os.environ.get("PYTHONPATH")]))
        code = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": path}).returncode
        if code not in RAN:
            raise RuntimeError(f"the run of shard {name} exited {code}")
        return {"shard": name, "exit": code, "items": len(items)}


class CommJob:
    """One task of a collective job (`gpubench submit --comm`): submitit starts one task per GPU on each
    node; each becomes one rank of the process group (rank, world size, local rank and the first node as
    rendezvous, from submitit's view of Slurm's variables) and runs the collective worker on `config`.
    Rank 0 journals the records into the submission folder. Raises when the worker failed, so the
    scheduler marks the job failed."""

    def __init__(self, config: Path, worker: str = "gpubench.bench.comm.worker"):
        self.config, self.worker = Path(config), worker

    def __call__(self) -> dict:
        from submitit.helpers import TorchDistributedEnvironment

        from gpubench.bench.run.runner import IMPORT_ROOT

        dist_env = TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
        path = os.pathsep.join(filter(None, [str(IMPORT_ROOT), os.environ.get("PYTHONPATH")]))
        nodes = str(dist_env.world_size // dist_env.local_world_size)
        env = {**os.environ, "PYTHONPATH": path, "GPUBENCH_COMM_NODES": nodes}
        code = subprocess.run([sys.executable, "-m", self.worker, str(self.config)], env=env).returncode
        if code != 0:
            raise RuntimeError(f"rank {dist_env.rank} of the collective job exited {code}")
        return {"rank": dist_env.rank, "world": dist_env.world_size, "exit": code}


def comm_parameters(opts: ClusterOptions) -> dict:
    """submitit's parameters for a collective job: one task per GPU, on every node."""
    return {**opts.parameters(), "tasks_per_node": opts.gpus_per_node, "slurm_array_parallelism": 1}


def new_shards(items: Sequence[PlanItem], parts: int, costs: dict[str, float], round_: int) -> list[Shard]:
    """The items in at most `parts` shards of about equal expected time, named r<round>-<k>."""
    split = [p for p in lpt(items, parts, lambda i: costs.get(i.id, 1.0)) if p]
    return [Shard(f"r{round_}-{k:03d}", round_, [i.to_json() for i in part]) for k, part in enumerate(split)]


def submit_shards(
    sub: Submission,
    folder: Path,
    shards: list[Shard],
    opts: ClusterOptions,
    run_args: Sequence[str],
    costs: dict[str, float],
    command: Sequence[str] | None = None,
    executor=None,
) -> list:
    """Submit one job per shard (a job array on Slurm) and record their ids in the manifest."""
    for shard in shards:
        write_items(folder / SHARDS_DIR / f"{shard.name}.json", [PlanItem.from_json(i) for i in shard.items])
    sub.shards.extend(shards)
    write_submission(sub, folder)  # the plan is on disk before any job can start
    executor = executor or make_executor(folder, opts)
    jobs = executor.submit_array([ShardJob(folder, s, run_args, costs, command) for s in shards])
    for shard, job in zip(shards, jobs):
        shard.job_id, shard.state = str(job.job_id), SUBMITTED
    write_submission(sub, folder)
    return jobs


def _outcome(job) -> tuple[str, str | None]:
    exc = job.exception()
    if exc is None:
        return COMPLETED, None
    state = str(job.state or "").split()[0] if job.state else ""
    state = state if state and state not in ("FINISHED", "DONE", "UNKNOWN", COMPLETED) else FAILED
    return state, _error_line(str(exc)) or type(exc).__name__


def _error_line(text: str) -> str | None:
    """The raised error's line of a job's traceback, and where its log is."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    error = next(
        (ln for ln in reversed(lines) if re.match(r"^[A-Za-z_.]*(Error|Exception|Interrupt)\b", ln)),
        lines[0] if lines else None,
    )
    log = next((ln.lstrip("- ") for ln in lines if ln.endswith("_log.err")), None)
    return f"{error[:300]}; log: {log}" if error and log else error


def wait_for(
    sub: Submission,
    folder: Path,
    shards: list[Shard],
    jobs: list,
    echo=print,
    poll_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Wait for every job, recording how each ended in the manifest and saying so as it happens."""
    pending = dict(zip([s.name for s in shards], zip(shards, jobs)))
    while pending:
        for name, (shard, job) in list(pending.items()):
            if not job.done():
                continue
            shard.state, shard.error = _outcome(job)
            write_submission(sub, folder)
            echo(f"  {shard.describe()}: {len(shard.items)} items")
            del pending[name]
        if pending:
            sleep(poll_s)


def cancel(shards: list[Shard], jobs: list, sub: Submission, folder: Path) -> int:
    """Cancel the jobs that have not ended; how many were."""
    n = 0
    for shard, job in zip(shards, jobs):
        if shard.state == SUBMITTED and not job.done():
            job.cancel(check=False)
            shard.state, n = "CANCELLED", n + 1
    write_submission(sub, folder)
    return n


def missing_items(sub: Submission, folder: Path) -> list[PlanItem]:
    """The submission's items that no results file in the folder holds, in plan order."""
    present = set()
    for path in result_files(folder):
        present |= {r.key for r in results.read(path, strict=False).records}
    seen, out = set(), []
    for shard in sorted(sub.shards, key=lambda s: s.round):
        for raw in shard.items:
            item = PlanItem.from_json(raw)
            if item_key(item) not in present and item.id not in seen:
                seen.add(item.id)
                out.append(item)
    return out
