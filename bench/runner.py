"""`gpubench run`: the orchestrator. Runs the plan in worker processes, so a kernel that faults (and so
poisons its CUDA context) costs only its own record; writes the results file after every record.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import gpubench
from gpubench.bench import results
from gpubench.bench.plan import PROFILES, build_plan

# The folder that holds the `gpubench` package (the checkout's root, or site-packages when installed):
# the worker's interpreter imports the suite from there.
IMPORT_ROOT = Path(gpubench.__file__).resolve().parent.parent
SUITE = Path(__file__).with_name("test_suite.py")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "unknown"


def default_out(gpu_name: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("results") / f"{slug(gpu_name)}-{stamp}.json"


def _fmt_time(s: float) -> str:
    return f"{s * 1e6:8.2f} us" if s < 1e-3 else f"{s * 1e3:8.3f} ms"


def _progress_line(done: int, total: int, rec: dict) -> str:
    head = (
        f"[{done:>{len(str(total))}}/{total}] {rec['workload']}/{rec['variant']} "
        f"{','.join(f'{k}={v}' for k, v in rec['shape'].items())} {rec['dtype']} {rec['mode']}"
    )
    if rec["status"] == "ok":
        t = rec["timing"]
        flags = f"  [{', '.join(rec['flags'])}]" if rec["flags"] else ""
        return (
            f"{head}: {_fmt_time(t['median'])}  {rec['achieved']['gbs']:8.1f} GB/s  "
            f"{rec['achieved']['tflops']:7.2f} TFLOP/s  ({t['stop_reason']}, n={t['n']}){flags}"
        )
    return f"{head}: {rec['status'].upper()}: {rec['reason']}"


def _read_journal(path: Path) -> list[dict]:
    events = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line cut short by a crash
    return events


def _finish(doc: dict, status: str, out: Path, measured_ceilings: dict | None) -> None:
    doc["status"] = status
    doc["run"]["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        from gpubench.roofline.annotate import annotate

        annotate(doc, measured_ceilings)
    except ImportError:
        pass
    results.write(doc, out)


def run_gpu(
    profile_name: str = "quick",
    workloads=None,
    variants=None,
    dtypes=None,
    modes=None,
    out: str | None = None,
    storage: str = ".benchmarks",
    ceilings: str | None = None,
    echo=print,
) -> int:
    """Run the plan on the GPU; returns 0 when every item ran (skips included), 1 if any failed."""
    import torch

    profile = PROFILES[profile_name]
    plan = build_plan(profile, workloads, variants, dtypes, modes)
    gpu = torch.cuda.get_device_name(0)
    out_path = Path(out) if out else default_out(gpu)
    measured = json.loads(Path(ceilings).read_text()).get("ceilings") if ceilings else None
    from gpubench.bench.device import software_versions

    doc = results.new_document(
        {"name": gpu},
        software_versions(),
        {
            "profile": profile.name,
            "modes": list(modes or profile.modes),
            "argv": sys.argv,
            "workloads": sorted({i["workload"] for i in plan}),
            "items": len(plan),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "rule": vars(profile.rule),
        },
    )
    if measured:
        doc["ceilings"] = measured
    echo(f"gpubench: {len(plan)} items, profile {profile.name} on {gpu}; results -> {out_path}")
    storage_dir = Path(storage) / slug(gpu)

    def worker_cmd(plan_file: Path, journal: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pytest",
            str(SUITE),
            "-p",
            "gpubench.bench.pytest_plugin",
            f"--gpubench-plan={plan_file}",
            f"--gpubench-journal={journal}",
            f"--gpubench-profile={profile.name}",
            "-o",
            "addopts=",
            "-p",
            "no:cacheprovider",
            "--benchmark-enable",
            f"--benchmark-storage=file://{storage_dir.resolve()}",
            "--benchmark-autosave",
            "--benchmark-columns=min,median,iqr,max,rounds",
            f"--rootdir={SUITE.parent}",
            "-q",
        ]

    try:
        status, work = orchestrate(plan, doc, out_path, worker_cmd, echo)
    except KeyboardInterrupt:
        echo("interrupted: writing what finished")
        _finish(doc, "interrupted", out_path, measured)
        return 130
    _finish(doc, status, out_path, measured)
    failed = [r for r in doc["records"] if r["status"] == "failed"]
    ok = sum(r["status"] == "ok" for r in doc["records"])
    skipped = sum(r["status"] == "skipped" for r in doc["records"])
    echo(f"gpubench: {ok} measured, {skipped} skipped, {len(failed)} failed -> {out_path}")
    echo(
        f"pytest-benchmark storage: {storage_dir} (compare with `pytest-benchmark compare --storage "
        f"file://{storage_dir}`); worker logs: {work}"
    )
    return 1 if failed else 0


def orchestrate(
    plan: list[dict], doc: dict, out_path: Path, worker_cmd, echo=print, work: Path | None = None
) -> tuple[str, Path]:
    """Run `plan` in worker processes until every item has a record; returns (status, work dir).

    `worker_cmd(plan_file, journal)` gives the command of one worker: it runs the items of plan_file in
    order, journalling "start" before and "record" after each (see bench.worker). A worker that dies
    charges the item it had started with a failed record, and a fresh worker takes the rest.
    """
    by_id = {i["id"]: i for i in plan}
    if len(by_id) != len(plan):
        raise ValueError("the plan has duplicate item ids")
    work = Path(work) if work else Path(tempfile.mkdtemp(prefix="gpubench-"))
    work.mkdir(parents=True, exist_ok=True)
    recorded: dict[str, dict] = {}
    attempt = 0
    while len(recorded) < len(plan):
        attempt += 1
        remaining = [i for i in plan if i["id"] not in recorded]
        plan_file, journal = work / f"plan-{attempt}.json", work / f"journal-{attempt}.jsonl"
        plan_file.write_text(json.dumps(remaining))
        log = work / f"worker-{attempt}.log"
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(IMPORT_ROOT), os.environ.get("PYTHONPATH")])),
        }
        env.pop("TRITON_INTERPRET", None)
        with open(log, "w") as logf:
            proc = subprocess.Popen(
                worker_cmd(plan_file, journal), stdout=logf, stderr=subprocess.STDOUT, env=env
            )
            seen = 0
            while True:
                code = proc.poll()
                events = _read_journal(journal)
                for ev in events[seen:]:
                    if ev["event"] == "device":
                        doc["device"] = ev["device"]
                        doc["software"] = {**doc["software"], **ev["software"]}
                    elif ev["event"] == "record" and ev["id"] in by_id and ev["id"] not in recorded:
                        recorded[ev["id"]] = ev["record"]
                        doc["records"].append(ev["record"])
                        echo(_progress_line(len(recorded), len(plan), ev["record"]))
                        results.write(doc, out_path)  # an interrupted run keeps what it finished
                seen = len(events)
                if code is not None:
                    break
                time.sleep(0.2)
        events = _read_journal(journal)
        poisoned = {e["id"]: e["error"] for e in events if e["event"] == "poisoned"}
        lost = [e["id"] for e in events if e["event"] == "start" and e["id"] not in recorded]
        if not lost and not any(i["id"] in recorded for i in remaining):
            # The worker ended before it began an item: charge the first remaining one so we progress.
            lost = [remaining[0]["id"]]
        tail = log.read_text()[-600:]
        for item_id in lost:
            it = by_id[item_id]
            rec = results.new_record(
                it["workload"],
                it["variant"],
                it["backend"],
                it["shape"],
                it["dtype"],
                it["mode"],
                status="failed",
                reason=f"worker process died (exit {code}) while running this item; log tail: {tail}",
            )
            recorded[item_id] = rec
            doc["records"].append(rec)
            echo(_progress_line(len(recorded), len(plan), rec))
            results.write(doc, out_path)
        for item_id, err in poisoned.items():
            echo(f"  CUDA context poisoned by {item_id} ({err}); restarting the worker")
    return ("complete" if len(recorded) == len(plan) else "partial"), work
