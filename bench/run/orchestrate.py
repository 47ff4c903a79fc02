"""Worker processes for a plan: a kernel that faults (and so poisons its CUDA context) costs only its
own record, and a stop (Ctrl-C, SIGTERM) ends the worker too, never leaving it behind.

A worker runs the items of a plan file in order, journalling "start" before and "record" after each
(bench.run.worker). A worker that dies charges the item it had started with a failed record, and a fresh
worker takes the rest. Workers run in a process group of their own, so a terminal's Ctrl-C reaches the
orchestrator alone, which then stops them in order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gpubench.bench.run.plan import PlanItem
from gpubench.fmt import fmt_time, shape_label
from gpubench.results import Device, Record, ResultsError, Run, Software

POLL_S = 0.2
STOP_GRACE_S = 5.0  # SIGTERM, then SIGKILL after this long


def read_journal(path: Path) -> list[dict]:
    events = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line cut short by a crash
    return events


def _tail(path: Path, chars: int = 600) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def stop_process(proc: subprocess.Popen | None, grace_s: float = STOP_GRACE_S) -> None:
    """End a worker and everything it started (its process group): SIGTERM, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, grace_s)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


class Orchestrator:
    """Runs `plan` until every item has a record in `run`, writing `out` after each record.

    `worker_cmd(plan_file, journal)` gives one worker's command; `save(run)` writes the results file;
    `echo` shows progress; `env` is added to each worker's environment (the GPU it is pinned to).
    `stop()` may come from another thread than `execute()` (bench.fleet.multigpu runs one per GPU).
    """

    def __init__(
        self, plan: list[PlanItem], run: Run, worker_cmd: Callable, save: Callable, work: Path, echo=print,
        env: dict[str, str] | None = None,
    ):  # fmt: skip
        ids = [i.id for i in plan]
        if len(set(ids)) != len(ids):
            raise ValueError("the plan has duplicate item ids")
        self.plan, self.run, self.worker_cmd, self.save, self.echo = plan, run, worker_cmd, save, echo
        self.by_id = {i.id: i for i in plan}
        self.work = Path(work)
        self.recorded: dict[str, Record] = {}
        self.proc: subprocess.Popen | None = None
        self.journal: Path | None = None
        self.seen = 0
        self.deaths = 0
        self.env = dict(env or {})
        self.stopped = False
        self._lock = threading.Lock()  # stop() and execute() may be on different threads

    def _take(self, events: list[dict]) -> None:
        with self._lock:
            self._take_locked(events)

    def _take_locked(self, events: list[dict]) -> None:
        for ev in events[self.seen :]:
            if ev.get("event") == "device":
                self.run.device = Device.from_json(ev["device"])
                merged = {**self.run.software.to_json(), **ev.get("software", {})}
                self.run.software = Software.from_json(merged)
            elif ev.get("event") == "record" and ev.get("id") in self.by_id and ev["id"] not in self.recorded:
                try:
                    rec = Record.from_json(ev["record"])
                except (ResultsError, ValueError) as exc:  # a worker that wrote nonsense: its record fails
                    item = self.by_id[ev["id"]]
                    rec = self._failed(item, f"the worker's record was malformed: {exc}")
                self._record(ev["id"], rec)
        self.seen = len(events)

    def _record(self, item_id: str, rec: Record) -> None:
        self.recorded[item_id] = rec
        self.run.add(rec)
        self.echo(progress_line(len(self.recorded), len(self.plan), rec))
        self.save(self.run)  # an interrupted run keeps what it finished

    def _failed(self, item: PlanItem, reason: str) -> Record:
        return Record(item.workload, item.variant, item.backend, dict(item.shape), item.dtype, item.mode,
                      status="failed", reason=reason)  # fmt: skip

    def _attempt(self, attempt: int) -> None:
        remaining = [i for i in self.plan if i.id not in self.recorded]
        plan_file = self.work / f"plan-{attempt}.json"
        self.journal = self.work / f"journal-{attempt}.jsonl"
        plan_file.write_text(json.dumps([i.to_json() for i in remaining]))
        log = self.work / f"worker-{attempt}.log"
        self.seen = 0
        # The worker is a pytest session of its own: a parent's interpreter switch or pytest-xdist worker
        # variables (gpubench run inside an xdist test) would turn its benchmarks off.
        env = {k: v for k, v in os.environ.items()
               if k != "TRITON_INTERPRET" and not k.startswith("PYTEST_XDIST")}  # fmt: skip
        with open(log, "w") as logf, self._lock:
            if self.stopped:  # stop() came between two workers: start no other
                return
            self.proc = subprocess.Popen(
                self.worker_cmd(plan_file, self.journal), stdout=logf, stderr=subprocess.STDOUT,
                env={**env, **self.env, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
            )  # fmt: skip
        while True:
            code = self.proc.poll()
            self._take(read_journal(self.journal))
            if code is not None:
                break
            time.sleep(POLL_S)
        self._after_worker(remaining, code, log)

    def _after_worker(self, remaining: list[PlanItem], code: int, log: Path) -> None:
        if self.stopped:  # ended by stop(): its unfinished item is interrupted, not failed
            return
        events = read_journal(self.journal)
        poisoned = {e["id"]: e.get("error") for e in events if e.get("event") == "poisoned"}
        lost = [e["id"] for e in events if e.get("event") == "start" and e["id"] not in self.recorded]
        if not lost and not any(i.id in self.recorded for i in remaining):
            lost = [remaining[0].id]  # it ended before it began an item: charge the first, so we progress
        if lost:
            self.deaths += 1
        tail = _tail(log)
        for item_id in dict.fromkeys(lost):
            reason = f"worker process died (exit {code}) while running this item; log tail: {tail}"
            self._record(item_id, self._failed(self.by_id[item_id], reason))
        for item_id, err in poisoned.items():
            self.echo(f"  CUDA context poisoned by {item_id} ({err}); restarting the worker")

    def execute(self) -> str:
        """ "complete" once every item has a record (a KeyboardInterrupt or stop signal propagates)."""
        self.work.mkdir(parents=True, exist_ok=True)
        attempt = 0
        while not self.stopped and len(self.recorded) < len(self.plan):
            attempt += 1
            self._attempt(attempt)
        return "interrupted" if self.stopped else "complete"

    def stop(self) -> None:
        """Stop the worker, keeping every record it journalled before it went."""
        with self._lock:
            self.stopped = True
            proc = self.proc
        stop_process(proc)
        if self.journal is not None:
            self._take(read_journal(self.journal))


def progress_line(done: int, total: int, rec: Record) -> str:
    dims = shape_label(rec.shape)
    head = f"[{done:>{len(str(total))}}/{total}] {rec.workload}/{rec.variant} {dims} {rec.dtype} {rec.mode}"
    if rec.ok:
        t = rec.timing
        flags = f"  [{', '.join(rec.flags)}]" if rec.flags else ""
        return (
            f"{head}: {fmt_time(t.median):>9}  {rec.achieved_gbs or 0:8.1f} GB/s  "
            f"{rec.achieved_tflops or 0:7.2f} TFLOP/s  ({t.stop_reason}, n={t.n}){flags}"
        )
    return f"{head}: {rec.status.upper()}: {rec.reason}"
