"""`gpubench run` on a GPU: the plan in worker processes (bench.run.orchestrate), the results file written
after every record, and a stop (Ctrl-C, SIGTERM from a cancelled CI job) that ends the workers, marks the
file "interrupted" with every finished record kept, and leaves no process or temporary folder behind.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import sys
import tempfile
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import gpubench
from gpubench import results
from gpubench.bench.run.orchestrate import Orchestrator
from gpubench.bench.run.plan import Plan, Profile
from gpubench.exits import EXIT_INTERRUPTED
from gpubench.fmt import file_slug
from gpubench.results import Run, RunInfo
from gpubench.results.provenance import SUSTAINED_ENV, Provenance, knobs_in, positive_float, split_commit

# The folder that holds the `gpubench` package (the checkout's root, or site-packages when installed):
# the worker's interpreter imports the suite from there.
IMPORT_ROOT = Path(gpubench.__file__).resolve().parent.parent
SUITE = Path(__file__).with_name("worker_session.py")


class Stopped(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C's KeyboardInterrupt."""


def default_out(gpu_name: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("results") / f"{file_slug(gpu_name)}-{stamp}.json"


@contextmanager
def stop_on_sigterm():
    """SIGTERM raises Stopped in the main thread for as long as this is active."""

    def handler(signum, frame):
        raise Stopped()

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextmanager
def signals_ignored():
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def store_placement(run: Run) -> None:
    """Store each record's roofline placement in it, for readers outside the suite (the suite itself
    recomputes it on reading)."""
    try:
        from gpubench.roofline.placement import place_run

        placed = place_run(run)
    except Exception as exc:  # the measurements matter more than their annotation
        run.run.notes.append(f"no roofline placement stored: {type(exc).__name__}: {exc}")
        return
    for rec in run.records:
        p = placed.of(rec)
        rec.stored_roofline = p.to_json() if p is not None else None


def capture_provenance(environ=None) -> Provenance:
    """The commit, whether the tree was dirty, and the environment knobs of this process (which the
    workers inherit); spec mismatches and warnings are added once the device is known (annotate)."""
    import os

    from gpubench.bench.measure.device import suite_commit

    commit, dirty = split_commit(suite_commit())
    env = knobs_in(os.environ if environ is None else environ)
    env.pop("TRITON_INTERPRET", None)  # the orchestrator never hands it to the workers
    return Provenance(commit=commit, dirty=dirty, env=env)


def spec_mismatches(devices) -> list:
    """Where the spec database disagrees with what these devices (results.Device) report."""
    from gpubench.roofline.specs import device_mismatches, match_gpu

    out = []
    for d in devices:
        spec = match_gpu(d.name)
        found = device_mismatches(spec, d.to_json()) if spec is not None else []
        out += [m for m in found if m not in out]
    return out


def annotate(run: Run) -> None:
    """Store in the run what a reader must be told: spec mismatches, ceilings from another GPU."""
    prov = run.provenance or capture_provenance()
    try:
        mismatches = spec_mismatches([run.device, *run.gpus])
    except Exception as exc:  # the measurements matter more than their annotation
        mismatches, prov = [], dataclasses.replace(prov, warnings=[*prov.warnings, f"no spec check: {exc}"])
    run.provenance = dataclasses.replace(prov, spec_mismatches=mismatches)
    derived = [w for w in run.provenance_warnings() if not w.startswith("spec database ")]
    stored = list(dict.fromkeys(prov.warnings + derived))
    run.provenance = dataclasses.replace(run.provenance, warnings=stored)


def finish(run: Run, status: str, out: Path) -> None:
    """The final write: status, end time, provenance, and the stored roofline placement."""
    run.status = status
    run.run.finished = results.utc_now()
    annotate(run)
    store_placement(run)
    results.write(run, out)


def execute(plan: Plan, run: Run, out: Path, worker_cmd, echo=print, work: Path | None = None) -> int:
    """Run the plan into `out`; 0 when every item ran (skips included), 1 if any failed, 130 if stopped."""
    work = Path(work) if work else Path(tempfile.mkdtemp(prefix="gpubench-"))
    orch = Orchestrator(plan.items, run, worker_cmd, lambda r: results.write(r, out), work, echo)
    return drive(orch, plan, run, out, echo, work)


def drive(orch, plan: Plan, run: Run, out: Path, echo, work: Path) -> int:
    """execute()'s signal handling and final write around `orch`: an Orchestrator, or anything with its
    execute() -> status, stop() and deaths (bench.fleet.multigpu's one per GPU)."""
    try:
        with stop_on_sigterm():
            status = orch.execute()
    except (KeyboardInterrupt, Stopped) as exc:
        with signals_ignored():  # a second Ctrl-C while stopping must not cut the final write short
            orch.stop()
            finish(run, "interrupted", out)
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "stopped (SIGTERM)"
        kept = f"{len(run.records)} of {len(plan)} records kept in {out}"
        echo(f"gpubench: {what}: {kept} (status interrupted)")
        shutil.rmtree(work, ignore_errors=True)
        return EXIT_INTERRUPTED
    finish(run, status, out)
    for line in run.provenance_warnings():
        echo(f"  provenance: {line}")
    failed = [r for r in run.records if r.status == "failed"]
    ok = sum(r.ok for r in run.records)
    skipped = sum(r.status == "skipped" for r in run.records)
    echo(f"gpubench: {ok} measured, {skipped} skipped, {len(failed)} failed -> {out}")
    if orch.deaths:
        echo(f"worker logs of the {orch.deaths} worker(s) that died: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def worker_command(profile: Profile, storage_dir: Path, save_name: str | None = None):
    """The worker's pytest command; `save_name` names its pytest-benchmark files (workers of several
    GPUs save into one storage folder at once, and autosave names could collide)."""
    save = f"--benchmark-save={save_name}" if save_name else "--benchmark-autosave"

    def cmd(plan_file: Path, journal: Path) -> list[str]:
        return [
            sys.executable, "-m", "pytest", str(SUITE), "-p", "gpubench.bench.run.pytest_plugin",
            f"--gpubench-plan={plan_file}", f"--gpubench-journal={journal}",
            f"--gpubench-profile={profile.name}",
            "-o", "addopts=", "-p", "no:cacheprovider", "--benchmark-enable",
            f"--benchmark-storage=file://{storage_dir.resolve()}", save,
            "--benchmark-columns=min,median,iqr,max,rounds", f"--rootdir={SUITE.parent}", "-q",
        ]  # fmt: skip

    return cmd


def new_run(profile: Profile, plan: Plan, device: results.Device, ceilings: str | None) -> Run:
    """The results file's header before the first record (the worker reports the rest of the device)."""
    from gpubench.bench.measure.device import software_versions

    info = RunInfo(
        profile=profile.name, modes=sorted({i.mode for i in plan}), argv=list(sys.argv),
        workloads=sorted({i.workload for i in plan}), items=len(plan), started=results.utc_now(),
        rule=vars(profile.rule), notes=list(plan.notes), sustained_s=sustained_seconds(),
    )  # fmt: skip
    run = Run(device, results.Software.from_json(software_versions()), info)
    run.ceilings = results.read_embedded_ceilings(ceilings) if ceilings else None
    run.provenance = capture_provenance()
    return run


def sustained_seconds(environ=None) -> float | None:
    """`--sustained`'s load time, as the workers receive it (SUSTAINED_ENV), or None."""
    import os

    return positive_float(os.environ if environ is None else environ, SUSTAINED_ENV)


def export_import_root() -> None:
    """Let the workers' interpreter import the suite from where this process did."""
    import os

    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(IMPORT_ROOT), os.environ.get("PYTHONPATH")]))


def run_gpu(
    profile: Profile, plan: Plan, out: str | None, storage: str, ceilings: str | None, echo=print
) -> int:
    """Measure `plan` on this machine's GPU (the arguments were checked by the CLI)."""
    import torch

    gpu = torch.cuda.get_device_name(0)
    out_path = Path(out) if out else default_out(gpu)
    run = new_run(profile, plan, results.Device(name=gpu), ceilings)
    echo(f"gpubench: {len(plan)} items, profile {profile.name} on {gpu}; results -> {out_path}")
    for note in plan.notes:
        echo(f"  left out: {note}")
    storage_dir = Path(storage) / file_slug(gpu)
    export_import_root()
    code = execute(plan, run, out_path, worker_command(profile, storage_dir), echo)
    echo(
        f"pytest-benchmark storage (device time, per GPU model): {storage_dir}; compare saved runs with "
        f"`pytest-benchmark --storage file://{storage_dir.resolve()} compare`"
    )
    return code
