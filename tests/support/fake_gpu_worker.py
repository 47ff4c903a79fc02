"""A stand-in worker for the multi-GPU tests: the journal protocol of bench.run.worker, on the "GPU" its
CUDA_VISIBLE_DEVICES names (it reports that UUID as its device and in every record, as a real worker
pinned to that GPU does). Variant "abort" dies as a faulting kernel kills a worker, "sleep" hangs (for
the stop tests). Its pid goes to $FAKE_WORKER_PIDS."""

import json
import os
import sys
import time

from gpubench.bench.run.plan import PlanItem
from gpubench.results import Record, Timing

plan_file, journal_file = sys.argv[1], sys.argv[2]
items = json.loads(open(plan_file).read())
journal = open(journal_file, "a", buffering=1)
uuid = os.environ["CUDA_VISIBLE_DEVICES"]
if os.environ.get("FAKE_WORKER_PIDS"):
    with open(os.environ["FAKE_WORKER_PIDS"], "a") as f:
        f.write(f"{os.getpid()}\n")


def emit(event, **payload):
    journal.write(json.dumps({"event": event, **payload}) + "\n")
    journal.flush()


emit("device", device={"name": "Fake GPU", "uuid": uuid, "sm_count": 4}, software={"torch": "fake"})
for item in items:
    item_id = PlanItem.from_json(item).id
    emit("start", id=item_id)
    if item["variant"] == "abort":
        os.abort()
    if item["variant"] == "sleep":
        time.sleep(60)
    base = dict(
        workload=item["workload"],
        variant=item["variant"],
        backend=item["backend"],
        shape=item["shape"],
        dtype=item["dtype"],
        mode=item["mode"],
    )
    timing = Timing(samples=(1e-3, 1.1e-3, 0.9e-3), method="fake", stop_reason="converged", wall_s=0.01)
    rec = Record(**base, timing=timing, flops=1000, bytes=12000, gpu_uuid=uuid)
    emit("record", id=item_id, record=rec.to_json())
