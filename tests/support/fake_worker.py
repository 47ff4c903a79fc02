"""A stand-in worker for the orchestrator tests: follows the journal protocol of bench.run.worker and dies
the way a faulting kernel kills a real worker (abort, or a clean exit after a poisoned context), or
before its first item, or sleeps (for the stop tests). Its pid goes to $FAKE_WORKER_PIDS."""

import json
import os
import sys
import time

from gpubench.bench.run.plan import PlanItem
from gpubench.results import Record, Timing

plan_file, journal_file = sys.argv[1], sys.argv[2]
items = json.loads(open(plan_file).read())
journal = open(journal_file, "a", buffering=1)
if os.environ.get("FAKE_WORKER_PIDS"):
    with open(os.environ["FAKE_WORKER_PIDS"], "a") as f:
        f.write(f"{os.getpid()}\n")


def emit(event, **payload):
    journal.write(json.dumps({"event": event, **payload}) + "\n")
    journal.flush()


once = os.environ.get("FAKE_DIE_ONCE")
if once and not os.path.exists(once):
    open(once, "w").close()
    sys.exit(7)  # dies before it even reports the device, as a worker whose import fails
emit("device", device={"name": "Fake GPU", "uuid": "GPU-fake"}, software={"torch": "fake"})
for item in items:
    item_id = PlanItem.from_json(item).id
    emit("start", id=item_id)
    base = dict(workload=item["workload"], variant=item["variant"], backend="torch", shape=item["shape"],
                dtype=item["dtype"], mode=item["mode"])  # fmt: skip
    if item["variant"] == "abort":
        os.abort()  # what a segfault or a driver abort looks like from outside
    if item["variant"] == "sleep":
        time.sleep(60)
    if item["variant"] == "garbage":
        emit("record", id=item_id, record={**base, "status": "ok", "timing": {"samples": ["x"]}})
        continue
    if item["variant"] == "poison":
        rec = Record(**base, status="failed", reason="CUDA error: an illegal memory access was encountered")
        emit("record", id=item_id, record=rec.to_json())
        emit("poisoned", id=item_id, error="CUDA error: an illegal memory access was encountered")
        sys.exit(3)
    timing = Timing(samples=(1e-3, 1.1e-3, 0.9e-3), method="fake", stop_reason="converged")
    rec = Record(**base, timing=timing, flops=1000, bytes=12000, gpu_uuid="GPU-fake")
    emit("record", id=item_id, record=rec.to_json())
