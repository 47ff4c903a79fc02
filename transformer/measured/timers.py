"""The timers a profile uses: the suite's device timer on a CUDA device, and on the CPU a host timer that
says what it is (wall time around each call, time.perf_counter), so a profile still measures something
real where there is no GPU. Both feed gpubench.bench.measure.sampling's adaptive loop."""

from __future__ import annotations

import time

from gpubench.bench.measure.stopping import StoppingRule

__all__ = ["DEVICE_RULE", "HOST_RULE", "HostTimer", "timer_for"]

# Per node: enough samples for a stable median without minutes per graph.
DEVICE_RULE = StoppingRule(min_samples=10, max_samples=300, min_time_s=0.005, rel_noise=0.02, timeout_s=1.0)
HOST_RULE = StoppingRule(min_samples=3, max_samples=50, min_time_s=0.0, rel_noise=0.05, timeout_s=0.2)


class HostTimer:
    """measure()'s timer interface on the host: each sample is the wall time of one call."""

    mode = "host"
    graph_below_s = 0.0  # never CUDA graphs
    flush_bytes = 0
    label = "HOST wall time (time.perf_counter on the CPU, no GPU): not device time"
    method = "host-perf-counter"

    def synchronize(self) -> None:
        pass

    def events_batch(self, fn, count: int):
        from gpubench.bench.measure.timing import BatchInfo

        samples = []
        for _ in range(count):
            t0 = time.perf_counter()
            fn()
            samples.append(max(time.perf_counter() - t0, 1e-9))
        return samples, BatchInfo(self.method)

    def capture_graph(self, fn, reps):
        raise RuntimeError("no CUDA graphs on the host")

    def graph_batch(self, graph, reps, count):
        raise RuntimeError("no CUDA graphs on the host")


def timer_for(device, mode: str = "cold"):
    """(timer, rule, label): DeviceTimer on CUDA, HostTimer elsewhere."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        from gpubench.bench.measure.timing import DeviceTimer

        timer = DeviceTimer(device, mode)
        return timer, DEVICE_RULE, f"device time (CUDA events, gpubench.bench.measure.timing), {mode} L2"
    timer = HostTimer()
    return timer, HOST_RULE, timer.label
