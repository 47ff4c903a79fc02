"""Running one GPU pack (bench.packs): its steps in order, each under a time limit sized from its estimate
and within the pack's own limit, so the pack ends in time whatever a step does; a steps.txt with each
step's status, seconds, limit and estimate; and everything the pack wrote packed into one .tar.gz, the
only file it leaves in the output folder (the GPU machines return a few files of at most 16 MiB).

The archive holds one folder named after the pack, the GPU and the start: steps.txt, commit.txt (the
suite's commit, GPUBENCH_COMMIT for the steps), every step's log and outputs, and commit.json: which
outputs of the steps that succeeded go where in the repository (`scripts/gpu_pack.py --commit` puts
them there).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gpubench.bench.packs.costs import Cost, collect_gpu_tests
from gpubench.bench.packs.steps import Pytest, Step, Where
from gpubench.bench.packs.table import PACK_LIMIT_S, PACKS, Pack

__all__ = ["MARGIN", "MAX_ARCHIVE_BYTES", "Planned", "plan", "run_pack"]

MARGIN = 1.5  # a step may take half again its estimate (several of the estimates' factors are assumed)
GRACE_S = 20  # after SIGINT a step has this long to write what it finished, then it is killed
RESERVE_S = 20  # kept at the end of the pack for its archive
MIN_STEP_S = 10  # a step that would get less is not started
MAX_ARCHIVE_BYTES = 16 * 2**20  # the largest file a GPU machine returns


@dataclass(frozen=True)
class Planned:
    step: Step
    cost: Cost
    skip: str | None  # why it has nothing to do (a plan knows this only for steps of the repository)

    @property
    def limit_s(self) -> int:
        return math.ceil(self.cost.seconds * MARGIN)


def plan(pack: Pack, at: Where) -> list[Planned]:
    """Each step of `pack` with its estimate (collecting the GPU tests of every pack at once first)."""
    files = {
        f for p in PACKS for s in p.steps if isinstance(s, Pytest) and not s.why_not(at) for f in s.files(at)
    }
    collect_gpu_tests(sorted(files), at.python[0])
    out = []
    for step in pack.steps:
        skip = step.why_not(at) if step.static else None
        out.append(Planned(step, Cost(0.0, "nothing to run") if skip else step.cost(at), skip))
    return out


def _execute(cmd: list[str], at: Where, step: Step, limit_s: float, log: Path) -> tuple[int | None, float]:
    """(exit status or None when stopped at its limit, seconds) of one command run in the repository."""
    env = {**os.environ, **step.env}
    t0 = time.monotonic()
    captured = open(at.out / step.stdout, "w") if step.stdout else None  # noqa: SIM115 (closed below)
    with open(log, "w") as err, captured or contextlib.nullcontext(err) as out:
        err.write(f"$ {shlex.join(cmd)}\n")  # the command first, for whoever reads the log
        err.flush()
        errors = err if step.stdout else subprocess.STDOUT  # a log of both, or stdout the step's output
        proc = subprocess.Popen(cmd, cwd=at.repo, env=env, stdout=out, stderr=errors, start_new_session=True)
        try:
            return proc.wait(timeout=limit_s), time.monotonic() - t0
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGINT)  # `gpubench run` keeps what finished on SIGINT
            try:
                proc.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            return None, time.monotonic() - t0


def _one(step: Step, at: Where, deadline: float, margin: float) -> tuple[str, float, str]:
    """(status, seconds, detail) of one step."""
    if why := step.why_not(at):
        return "skipped", 0.0, why
    cost = step.cost(at)
    left = deadline - time.monotonic()
    if left < MIN_STEP_S:
        return "not-run", 0.0, f"{max(left, 0):.0f} s left in the pack"
    limit = min(math.ceil(cost.seconds * margin), left)
    detail = f"limit {limit:.0f} s, estimate {cost.seconds:.0f} s: {cost.basis}"
    rc, seconds = _execute(step.command(at), at, step, limit, at.out / "logs" / f"{step.name}.log")
    if rc is None:
        return "timeout", seconds, detail
    lacking = [o for o in step.outputs(at) if not (at.out / o).is_file()]
    if rc != 0:
        return f"failed(rc={rc})", seconds, detail
    return ("ok", seconds, detail) if not lacking else ("no-output", seconds, f"{detail}; missing {lacking}")


def run_pack(
    pack: Pack, at: Where, dest: Path, commit: str | None, limit_s: float = PACK_LIMIT_S,
    echo: Callable[[str], None] = print, margin: float = MARGIN,
) -> tuple[Path, dict[str, str]]:  # fmt: skip
    """Run `pack` for `at` (its `out` a fresh folder of its own) and write its archive into `dest`;
    (the archive, each step's status). `margin`: a step's limit over its estimate (a rehearsal on a
    busy CPU, whose stand-ins take no GPU time, gives more)."""
    start = time.monotonic()
    deadline = start + limit_s - RESERVE_S
    (at.out / "logs").mkdir(parents=True, exist_ok=True)
    os.environ["GPUBENCH_COMMIT"] = commit or "unknown"
    (at.out / "commit.txt").write_text(f"{commit or 'unknown'}\n")
    head = f"pack {pack.name}; GPU {at.gpu}; commit {commit or 'unknown'}; started {at.stamp}"
    head += f"; limit {limit_s:.0f} s"
    lines, places, statuses = [head], {}, {}
    echo(head)
    for step in pack.steps:
        try:
            status, seconds, detail = _one(step, at, deadline, margin)
        except Exception as exc:  # a step that cannot even start costs itself, never the archive
            status, seconds, detail = "error", 0.0, f"{type(exc).__name__}: {exc}"
        statuses[step.name] = status
        lines.append(f"{step.name:<20} {status:<12} {seconds:6.0f} s  ({detail})")
        echo(lines[-1])
        if status == "ok":
            places.update({n: at.place(w) for n, w in step.keep.items() if (at.out / n).is_file()})
        (at.out / "steps.txt").write_text("\n".join(lines) + "\n")
    lines.append(f"{'total':<20} {'':<12} {time.monotonic() - start:6.0f} s")
    (at.out / "commit.json").write_text(json.dumps(places, indent=1) + "\n")
    return _archive(at, dest, f"{pack.name}-{at.slug}-{at.stamp}", lines, places, echo), statuses


def _archive(at: Where, dest: Path, name: str, lines: list[str], places: dict, echo) -> Path:
    """Pack `at.out` into dest/<name>.tar.gz under MAX_ARCHIVE_BYTES: files are left out, the largest
    uncommitted ones first, until it fits; steps.txt says which."""
    path = dest / f"{name}.tar.gz"
    files = sorted(p for p in at.out.rglob("*") if p.is_file())
    left_out: list[Path] = []
    while True:
        kept = [p for p in files if p not in left_out]
        note = (
            [f"left out of the archive (too large): {', '.join(p.name for p in left_out)}"]
            if left_out
            else []
        )
        (at.out / "steps.txt").write_text("\n".join([*lines, *note]) + "\n")
        with tarfile.open(path, "w:gz") as tar:
            for p in kept:
                tar.add(p, arcname=f"{name}/{p.relative_to(at.out)}")
        size = path.stat().st_size
        if size <= MAX_ARCHIVE_BYTES:
            break
        spare = [p for p in kept if p.name not in ("steps.txt", "commit.json", "commit.txt")]
        spare.sort(key=lambda p: (p.name in places, -p.stat().st_size))
        if not spare:
            break
        left_out.append(spare[0])
    for line in note:
        echo(line)
    echo(f"archive {path} ({size / 2**20:.1f} MiB), {len(places)} outputs to commit")
    return path


def stage() -> Path:
    """A fresh folder for a pack's outputs, outside the folder the archive goes to."""
    return Path(tempfile.mkdtemp(prefix="gpubench-pack-"))


def unstage(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
