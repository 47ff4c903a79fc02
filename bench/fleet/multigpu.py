"""`gpubench run --gpus all|0,2,...`: one worker process per GPU, all writing one results file.

The plan is split across the GPUs by expected time (bench.fleet.split, longest first). Each GPU gets its own
bench.run.orchestrate.Orchestrator on a thread of its own (each only watches a subprocess), whose workers
start with CUDA_VISIBLE_DEVICES set to that GPU's UUID: a worker sees its GPU alone, and a kernel that
faults there costs only its own record on that GPU. Every record names the GPU that measured it
(Record.gpu_uuid) and the file lists them all (Run.gpus); progress lines start with the GPU. A stop
(Ctrl-C, SIGTERM) stops every worker, through bench.run.runner's handling, as on one GPU.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from gpubench import results
from gpubench.bench.fleet.gpus import Gpu, GpuSelectionError, nvml_gpus, select, visible
from gpubench.bench.fleet.split import expected_times, lpt
from gpubench.bench.run import runner
from gpubench.bench.run.orchestrate import Orchestrator
from gpubench.bench.run.plan import Plan, PlanItem, Profile
from gpubench.fmt import file_slug, fmt_time
from gpubench.results import Run, RunInfo

JOIN_POLL_S = 0.2  # the main thread waits in steps this long, so Ctrl-C and SIGTERM get through


class MultiGpu:
    """One Orchestrator per (GPU, items); the same execute() / stop() / deaths as one Orchestrator, so
    bench.run.runner.drive runs it. `worker_cmd(gpu)` gives the worker command of that GPU's workers; the
    file's records follow `order` (item ids: the plan's order), whatever order the GPUs finish in."""

    def __init__(
        self,
        shards: Sequence[tuple[Gpu, list[PlanItem]]],
        run: Run,
        worker_cmd: Callable[[Gpu], Callable],
        save: Callable[[Run], None],
        work: Path,
        echo=print,
        order: Sequence[str] = (),
    ):
        self.run, self.save = run, save
        self._lock = threading.Lock()
        ids = list(order) or [item.id for _, items in shards for item in items]
        self._order = {item_id: n for n, item_id in enumerate(ids)}
        self.orchs = []
        for gpu, items in shards:
            shard = Run(gpu.device(), run.software, RunInfo())
            prefix = f"{gpu.label}: "
            self.orchs.append(
                Orchestrator(
                    items,
                    shard,
                    worker_cmd(gpu),
                    lambda _shard: self._collect(),
                    Path(work) / gpu.label,
                    lambda line, p=prefix: echo(p + line),
                    env=gpu.env(),
                )
            )
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    @property
    def deaths(self) -> int:
        return sum(o.deaths for o in self.orchs)

    def _collect(self) -> None:
        """The merged run from every GPU's records so far, written at once (after every record)."""
        with self._lock:
            # list() copies a dict in one step under the GIL while another GPU's thread may add to it
            recs = [
                (self._order.get(i, len(self._order)), r)
                for o in self.orchs
                for i, r in list(o.recorded.items())
            ]
            self.run.records = [r for _, r in sorted(recs, key=lambda t: t[0])]
            devices = [o.run.device for o in self.orchs]
            self.run.device = devices[0]
            self.run.gpus = devices if len(devices) > 1 else []
            self.run.software = self.orchs[0].run.software
            self.save(self.run)

    def _drive(self, orch: Orchestrator) -> None:
        try:
            orch.execute()
        except BaseException as exc:  # a failure on one GPU's thread stops them all, and is raised
            self._errors.append(exc)
            for o in self.orchs:
                o.stop()

    def execute(self) -> str:
        self._threads = [threading.Thread(target=self._drive, args=(o,), daemon=True) for o in self.orchs]
        for t in self._threads:
            t.start()
        for t in self._threads:
            while t.is_alive():
                t.join(JOIN_POLL_S)
        self._collect()
        if self._errors:
            raise self._errors[0]
        return "interrupted" if any(o.stopped for o in self.orchs) else "complete"

    def stop(self) -> None:
        """Stop every GPU's worker, keeping what each journalled; wait for their threads to end."""
        for o in self.orchs:
            o.stop()
        for t in self._threads:
            t.join()
        self._collect()


def split_plan(
    plan: Plan, gpus: Sequence[Gpu], profile: Profile, previous: Run | None = None, registry=None
) -> tuple[list[tuple[Gpu, list[PlanItem]]], dict[str, float]]:
    """(gpu, items) for every GPU that gets work, and the expected seconds of every item."""
    if registry is None:
        from gpubench import kernels

        registry = kernels.REGISTRY
    costs = expected_times(plan.items, profile.rule, gpus[0].name, previous, registry)
    parts = lpt(plan.items, len(gpus), lambda i: costs[i.id])
    return [(g, items) for g, items in zip(gpus, parts) if items], costs


def run_on_gpus(
    profile: Profile,
    plan: Plan,
    gpus: Sequence[Gpu],
    out: str | None,
    storage: str,
    ceilings: str | None,
    previous: Run | None = None,
    worker_cmd: Callable[[Gpu], Callable] | None = None,
    echo=print,
    work: Path | None = None,
    registry=None,
) -> int:
    """Measure `plan` on `gpus` (arguments checked by the caller); bench.run.runner's exit codes."""
    shards, costs = split_plan(plan, gpus, profile, previous, registry)
    models = sorted({g.name for g in gpus})
    out_path = Path(out) if out else runner.default_out(models[0] if len(models) == 1 else "multi-gpu")
    run = runner.new_run(profile, plan, gpus[0].device(), ceilings)
    echo(
        f"gpubench: {len(plan)} items, profile {profile.name} on {len(shards)} GPU(s); results -> {out_path}"
    )
    for gpu, items in shards:
        expected = fmt_time(sum(costs[i.id] for i in items))
        echo(f"  {gpu.describe()}: {len(items)} items, about {expected} expected")
    for note in plan.notes:
        echo(f"  left out: {note}")
    if worker_cmd is None:
        runner.export_import_root()
        worker_cmd = lambda g: runner.worker_command(  # noqa: E731
            profile, Path(storage) / file_slug(g.name), save_name=g.save_name
        )
    work = Path(work) if work else Path(tempfile.mkdtemp(prefix="gpubench-"))
    save = lambda r: results.write(r, out_path)  # noqa: E731
    engine = MultiGpu(shards, run, worker_cmd, save, work, echo, order=[i.id for i in plan.items])
    return runner.drive(engine, plan, run, out_path, echo, work)


def available_gpus(spec: str, nvml: Callable[[], list[Gpu]] = nvml_gpus, environ=None) -> list[Gpu]:
    """The GPUs `--gpus spec` names among those this process may use; GpuSelectionError else."""
    import os

    environ = os.environ if environ is None else environ
    return select(spec, visible(nvml(), environ.get("CUDA_VISIBLE_DEVICES")))


def run_selected(
    profile: Profile,
    plan: Plan,
    spec: str,
    out: str | None,
    storage: str,
    ceilings: str | None,
    balance_from: str | None,
    prog: str = "gpubench run",
) -> int:
    """`gpubench run --gpus SPEC`: every input checked (exit 2 with one line) before anything runs."""
    from gpubench.outpath import unwritable

    def error(message: str) -> int:
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2

    try:
        gpus = available_gpus(spec)
    except GpuSelectionError as exc:
        return error(str(exc))
    if problem := unwritable(Path(storage) / "probe.json"):
        return error(f"--storage: {problem}")
    previous = None
    if balance_from:
        try:
            previous = results.read(balance_from, strict=False)
        except results.ResultsError as exc:
            return error(f"--balance-from: {exc}")
    return run_on_gpus(profile, plan, gpus, out, storage, ceilings, previous)
