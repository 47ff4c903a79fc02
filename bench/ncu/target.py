"""The process `gpubench ncu` profiles: `python -m gpubench.bench.ncu.target ITEMS STATUS [--calls N]`.

For each plan item of ITEMS (a JSON list, bench.run.plan.PlanItem's format) in order: the workload's inputs
(the timed inputs' seed), two unprofiled calls (compilation, autotuning, lazy initialisation), then N
profiled calls, each alone between cudaProfilerStart and cudaProfilerStop inside the NVTX range
"gpubench:<item>:<call>" (bench.ncu.records reads the ranges back from ncu's output). Cold items get the
suite's own L2 flush before every call, outside the profiled region, as the event timer does; warm
items run back to back. STATUS (JSON) says, per item, whether it ran, was skipped, or failed and why.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

WARMUP_CALLS = 2


def _profile(item, index: int, calls: int, device, timers: dict) -> None:
    import torch

    from gpubench import kernels
    from gpubench.bench.measure.timing import DeviceTimer
    from gpubench.bench.run.worker import BENCH_SEED

    w = kernels.get(item.workload)
    v = w.variant(item.variant)
    inputs = w.make_inputs(item.shape, item.dtype, device, BENCH_SEED)
    for _ in range(WARMUP_CALLS):
        v.fn(*inputs)
    timer = timers.setdefault(item.mode, DeviceTimer(device, item.mode))
    torch.cuda.synchronize(device)
    for call in range(calls):
        timer.flush()  # cold: the suite's own flush (twice the device's L2); warm: nothing
        torch.cuda.synchronize(device)
        torch.cuda.nvtx.range_push(f"gpubench:{index}:{call}")
        torch.cuda.profiler.start()
        v.fn(*inputs)
        torch.cuda.synchronize(device)
        torch.cuda.profiler.stop()
        torch.cuda.nvtx.range_pop()


def main(argv=None) -> int:
    import torch

    from gpubench import kernels
    from gpubench.bench.run.plan import PlanItem

    p = argparse.ArgumentParser(prog="gpubench.bench.ncu.target")
    p.add_argument("items")
    p.add_argument("status")
    p.add_argument("--calls", type=int, default=3)
    args = p.parse_args(argv)
    items = [PlanItem.from_json(i) for i in json.loads(Path(args.items).read_text())]
    device = torch.device("cuda", torch.cuda.current_device())
    status, timers = [], {}
    for index, item in enumerate(items):
        entry = {"index": index, "id": item.id, "status": "ok", "reason": None, "calls": args.calls}
        try:
            reason = (
                kernels.get(item.workload).variant(item.variant).skip_reason(device, item.shape, item.dtype)
            )
            if reason:
                entry.update(status="skipped", reason=reason)
            else:
                _profile(item, index, args.calls, device, timers)
        except Exception as exc:  # one record's failure is its own; the rest still run
            entry.update(
                status="failed", reason=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()
            )
        status.append(entry)
        Path(args.status).write_text(json.dumps(status, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
