"""A stand-in worker for the orchestrator tests, one GPU or several: it writes its journal through the
real one (bench.run.worker.Journal) and dies the way a faulting kernel kills a real worker (variant
"abort"; "poison": a clean exit after a poisoned context), or before its first item ($FAKE_DIE_ONCE), or
hangs (variant "sleep", for the stop tests); "garbage" journals a malformed record. Its pid goes to
$FAKE_WORKER_PIDS.

Usage: fake_worker.py PLAN JOURNAL [--pinned]. --pinned: the worker's GPU is the one CUDA_VISIBLE_DEVICES
names (the multi-GPU orchestrator pins each worker to a GPU's UUID), reported as its device and in every
record, as a real pinned worker does; else "GPU-fake"."""

import json
import os
import sys
import time

from gpubench.bench.run.plan import PlanItem
from gpubench.bench.run.worker import Journal
from gpubench.results import Record, Timing

plan_file, journal_file, *options = sys.argv[1:]
items = [PlanItem.from_json(raw) for raw in json.loads(open(plan_file).read())]
journal = Journal(journal_file)
uuid = os.environ["CUDA_VISIBLE_DEVICES"] if "--pinned" in options else "GPU-fake"
if os.environ.get("FAKE_WORKER_PIDS"):
    with open(os.environ["FAKE_WORKER_PIDS"], "a") as f:
        f.write(f"{os.getpid()}\n")

once = os.environ.get("FAKE_DIE_ONCE")
if once and not os.path.exists(once):
    open(once, "w").close()
    sys.exit(7)  # dies before it even reports the device, as a worker whose import fails
journal.write("device", device={"name": "Fake GPU", "uuid": uuid, "sm_count": 4}, software={"torch": "fake"})
for item in items:
    journal.write("start", id=item.id)
    base = dict(workload=item.workload, variant=item.variant, backend=item.backend, shape=dict(item.shape),
                dtype=item.dtype, mode=item.mode)  # fmt: skip
    if item.variant == "abort":
        os.abort()  # what a segfault or a driver abort looks like from outside
    if item.variant == "sleep":
        time.sleep(60)
    if item.variant == "garbage":
        journal.write("record", id=item.id, record={**base, "status": "ok", "timing": {"samples": ["x"]}})
        continue
    if item.variant == "poison":
        error = "CUDA error: an illegal memory access was encountered"
        journal.write("record", id=item.id, record=Record(**base, status="failed", reason=error).to_json())
        journal.write("poisoned", id=item.id, error=error)
        sys.exit(3)
    timing = Timing(samples=(1e-3, 1.1e-3, 0.9e-3), method="fake", stop_reason="converged", wall_s=0.01)
    rec = Record(**base, timing=timing, flops=1000, bytes=12000, gpu_uuid=uuid)
    journal.write("record", id=item.id, record=rec.to_json())
