"""A stand-in worker for the orchestrator tests: follows the journal protocol of bench.worker and dies
the way a faulting kernel kills a real worker (abort, or a clean exit after a poisoned context)."""

import json
import os
import sys

from gpubench.bench import results

plan_file, journal_file = sys.argv[1], sys.argv[2]
items = json.loads(open(plan_file).read())
journal = open(journal_file, "a", buffering=1)


def emit(event, **payload):
    journal.write(json.dumps({"event": event, **payload}) + "\n")
    journal.flush()


emit("device", device={"name": "Fake GPU"}, software={"worker": "fake"})
for item in items:
    emit("start", id=item["id"])
    if item["variant"] == "abort":
        os.abort()  # what a segfault or a driver abort looks like from outside
    rec = results.new_record(
        item["workload"], item["variant"], "torch", item["shape"], item["dtype"], item["mode"]
    )
    if item["variant"] == "poison":
        rec["status"], rec["reason"] = "failed", "CUDA error: an illegal memory access was encountered"
        emit("record", id=item["id"], record=rec)
        emit("poisoned", id=item["id"], error="CUDA error: an illegal memory access was encountered")
        sys.exit(3)
    rec["timing"] = {"samples": [1e-3, 1e-3], "median": 1e-3, "n": 2, "stop_reason": "converged"}
    rec["achieved"] = {"gbs": 1.0, "tflops": 0.0}
    emit("record", id=item["id"], record=rec)
