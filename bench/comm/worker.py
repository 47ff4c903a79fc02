"""One rank of `gpubench comm`: `python -m gpubench.bench.comm.worker CONFIG.json`, started once per GPU
(or CPU process) by the launcher, torchrun, or srun. Every rank runs every item in the same order: the
exact-value check (its #wrong summed over ranks), then the timing (bench.comm.sampling). Rank 0 appends
each finished record to the journal, so a run that stops keeps what it finished; every rank notes its
progress in a file of its own, which is how the launcher names a rank that hangs.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from gpubench.bench.comm import ops, record, sampling
from gpubench.bench.comm.plan import CommItem
from gpubench.bench.comm.rendezvous import RendezvousError, check_nodes, rendezvous
from gpubench.bench.measure.stopping import StoppingRule
from gpubench.results import Telemetry

EXIT_USAGE = 2


class Progress:
    """This rank's progress, one small file rewritten at each step: 'step <n> <what>'."""

    def __init__(self, folder: str | None, rank: int):
        self.path = Path(folder) / f"rank{rank}" if folder else None
        self.step = 0

    def note(self, what: str) -> None:
        self.step += 1
        if self.path is not None:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(f"{self.step} {what}\n")
            os.replace(tmp, self.path)


class Context:
    """The process group's backend, this rank's device and how to wait for it."""

    def __init__(self, config: dict, rv):
        self.config, self.rv = config, rv
        self.backend = config["backend"]
        if self.backend == "nccl":
            count = torch.cuda.device_count()
            if rv.local_rank >= count:
                raise RendezvousError(
                    f"rank {rv.rank}: local rank {rv.local_rank}, but this node has {count} GPUs"
                )
            self.device = torch.device("cuda", rv.local_rank)
            torch.cuda.set_device(self.device)
            self.synchronize = lambda: torch.cuda.synchronize(self.device)
        else:
            self.device = torch.device("cpu")
            self.synchronize = lambda: None

    def batches(self):
        if self.backend == "nccl" and not self.config.get("host_overhead"):
            from gpubench.bench.measure.timing import DeviceTimer

            return sampling.DeviceBatches(DeviceTimer(self.device, "warm"))
        return sampling.HostBatches(self.synchronize, bool(self.config.get("host_overhead")), self.backend)

    def telemetry(self):
        if self.backend != "nccl":
            return None
        from gpubench.bench.measure.telemetry import TelemetrySampler

        return TelemetrySampler(self.device)

    def info(self) -> dict:
        out = {"rank": self.rv.rank, "local_rank": self.rv.local_rank, "host": socket.gethostname()}
        if self.backend == "nccl":
            from gpubench.bench.measure.device import device_info

            out["device"] = device_info(self.device)
        return out


def _sum(values: list[int], device) -> list[int]:
    t = torch.tensor(values, dtype=torch.int64, device=device)
    dist.all_reduce(t)
    return [int(v) for v in t.tolist()]


def ping_pong(ctx: Context, nbytes: int, reps: int = 20) -> float:
    """Median one-way time of `nbytes` between ranks 0 and 1 (half a round trip); the others wait."""
    buf = torch.zeros(max(1, nbytes // 4), dtype=torch.float32, device=ctx.device)
    times = []
    for _ in range(reps):
        dist.barrier()
        t0 = time.perf_counter()
        if ctx.rv.rank == 0:
            dist.send(buf, 1)
            dist.recv(buf, 1)
        elif ctx.rv.rank == 1:
            dist.recv(buf, 0)
            dist.send(buf, 0)
        ctx.synchronize()
        times.append((time.perf_counter() - t0) / 2)
    times = sorted(sampling.max_over_ranks(times, 0.0, ctx.device)[0])  # the same on every rank
    return times[len(times) // 2]


def loopback_topology(ctx: Context) -> dict:
    """The link between two ranks of this run as the alpha-beta model sees it: a latency (8 B one way) and
    a bandwidth (1 MiB one way, less that latency), measured here by ping-pong; the same on every rank."""
    latency, large = ping_pong(ctx, 8), ping_pong(ctx, 1 << 20)
    gbps = (1 << 20) / max(large - latency, 1e-9) / 1e9
    return {
        "name": "loopback",
        "gpus_per_node": ctx.rv.world,
        "nodes": 1,
        "intra": {"gbps": gbps, "latency_s": latency, "kind": "loopback"},
        "source": "gloo ping-pong between ranks 0 and 1 of this run: 8 B for the latency, 1 MiB for the "
        "bandwidth (median of 20 round trips, halved)",
    }


def run_item(item: CommItem, ctx: Context, rule: StoppingRule, progress: Progress) -> dict | None:
    """Check then time `item` on this rank; rank 0 returns the record's JSON."""
    rv = ctx.rv
    progress.note(f"check {item.id}")
    prep = ops.prepare(item, rv.rank, rv.world, ctx.device)
    prep.call()
    ctx.synchronize()
    wrong, elements = _sum([prep.check(), prep.elements], ctx.device)
    m, tel = None, None
    if not wrong:
        progress.note(f"time {item.id}")
        prep.reset()
        sampler = ctx.telemetry()
        if sampler is not None:
            sampler.start()
        m = sampling.measure(prep.call, ctx.batches(), rule, ctx.device, ctx.synchronize)
        tel = sampler.stop() if sampler is not None else None
    info = {**ctx.info(), "telemetry": (tel or _cpu_telemetry()).to_json()}
    gathered = [None] * rv.world if rv.rank == 0 else None
    dist.gather_object(info, gathered, dst=0)
    progress.note(f"done {item.id}")
    if rv.rank != 0:
        return None
    rec = record.build(item, ctx.config, rv.world, rv.nodes, wrong, elements, m, gathered, tel)
    return rec.to_json()


def _cpu_telemetry() -> Telemetry:
    return Telemetry.unavailable("gloo on the CPU: no GPU, so no NVML telemetry")


def _journal(path: str | None, entry: dict) -> None:
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")


def run(config: dict, rv, before_item=None) -> int:
    ctx = Context(config, rv)
    dist.init_process_group(
        ctx.backend,
        init_method=f"tcp://{rv.master_addr}:{rv.master_port}",
        rank=rv.rank,
        world_size=rv.world,
        timeout=timedelta(seconds=config.get("pg_timeout_s", 300)),
    )
    try:
        progress = Progress(config.get("progress_dir"), rv.rank)
        if ctx.backend == "gloo" and rv.world > 1 and not config.get("topology"):
            progress.note("calibrate loopback")
            config["topology"] = loopback_topology(ctx)
        if rv.rank == 0:
            _journal(
                config.get("journal"),
                {"kind": "run", "rank0": ctx.info(), "topology": config.get("topology")},
            )
        rule = StoppingRule(**config["rule"])
        for i, raw in enumerate(config["items"]):
            if before_item is not None:
                before_item(i, rv)
            entry = run_item(CommItem.from_json(raw), ctx, rule, progress)
            if entry is not None:
                _journal(config.get("journal"), {"kind": "record", "record": entry})
        progress.note("finished")
    finally:
        dist.destroy_process_group()
    return 0


def main(argv=None, before_item=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    config = json.loads(Path(argv[0]).read_text())
    try:
        rv = rendezvous(os.environ)
        if problem := check_nodes(config.get("nodes"), rv.nodes):
            raise RendezvousError(problem)
        return run(config, rv, before_item)
    except RendezvousError as exc:
        print(f"gpubench comm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
