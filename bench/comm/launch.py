"""Start one worker process per rank on this machine (MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE/LOCAL_RANK,
a free port), watch them, and stop them all when one fails or hangs, naming it.

A rank that exits with an error ends the run at once: the first rank to fail is named (a rank whose
peer died fails after it, with a connection error). A rank that makes no progress for `hang_s` seconds
ends it too: the ranks furthest behind are named, with the step each is stuck at. Either way every
worker is stopped (SIGTERM, then SIGKILL) and waited for, and the records finished before are kept.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

WORKER = "gpubench.bench.comm.worker"
_POLL_S = 0.1
_GRACE_S = 5.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Launched:
    journal: list[dict] = field(default_factory=list)  # what rank 0 wrote: the run line, then records
    failure: str | None = None  # the named rank and what happened, or None
    exit_codes: list[int | None] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)

    @property
    def records(self) -> list[dict]:
        return [e["record"] for e in self.journal if e.get("kind") == "record"]

    @property
    def run_info(self) -> dict:
        return next((e for e in self.journal if e.get("kind") == "run"), {})


def read_journal(path: Path) -> list[dict]:
    """What rank 0 journaled (one JSON object a line), [] when it wrote nothing."""
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def _progress(folder: Path, rank: int) -> tuple[int, str]:
    try:
        step, _, what = (folder / f"rank{rank}").read_text().strip().partition(" ")
        return int(step), what
    except (OSError, ValueError):
        return 0, "starting (before the process group formed)"


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.time() + _GRACE_S
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _hung(folder: Path, ranks: int, hang_s: float) -> str:
    states = [_progress(folder, r) for r in range(ranks)]
    behind = min(step for step, _ in states)
    named = [f"rank {r} at {what!r}" for r, (step, what) in enumerate(states) if step == behind]
    return f"no progress for {hang_s:.0f} s: {'; '.join(named)} (the others wait for it)"


def _watch(procs, logs, folder: Path, hang_s: float, start_s: float) -> str | None:
    started = last_change = time.time()
    seen = None
    while True:
        codes = [p.poll() for p in procs]
        failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
        if failed:
            rank, code = failed[0]
            why = _last_line(logs[rank])
            return f"rank {rank} {_describe_exit(code)}" + (f": {why}" if why else "")
        if all(c == 0 for c in codes):
            return None
        now_seen = [_progress(folder, r)[0] for r in range(len(procs))]
        if now_seen != seen:
            seen, last_change = now_seen, time.time()
        if min(now_seen) == 0 and time.time() - started > start_s:  # importing torch, forming the group
            return _hung(folder, len(procs), start_s)
        if min(now_seen) > 0 and time.time() - last_change > hang_s:
            return _hung(folder, len(procs), hang_s)
        time.sleep(_POLL_S)


def launch(
    config: dict,
    ranks: int,
    work: Path,
    hang_s: float = 120.0,
    worker: str = WORKER,
    env: dict | None = None,
    start_s: float = 300.0,
) -> Launched:
    """Run `config` on `ranks` local processes; what rank 0 journaled, and the failure if any."""
    work.mkdir(parents=True, exist_ok=True)
    folder = work / "progress"
    folder.mkdir(exist_ok=True)
    config = {**config, "journal": str(work / "journal.jsonl"), "progress_dir": str(folder)}
    cfg = work / "config.json"
    cfg.write_text(json.dumps(config))
    port, procs, logs = free_port(), [], []
    base = {
        **(env or os.environ),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "WORLD_SIZE": str(ranks),
    }
    try:
        for rank in range(ranks):
            logs.append(work / f"rank{rank}.log")
            with open(logs[-1], "w") as log:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", worker, str(cfg)],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env={**base, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                        start_new_session=True,
                    )
                )
        failure = _watch(procs, logs, folder, hang_s, start_s)
    finally:
        _stop(procs)
    codes, pids = [p.returncode for p in procs], [p.pid for p in procs]
    return Launched(read_journal(work / "journal.jsonl"), failure, codes, pids)
