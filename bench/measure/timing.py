"""Device-side timing with CUDA events, host launch overhead kept out.

Method "events+spin": a spin kernel (torch.cuda._sleep) holds the stream while the host queues a whole
batch of samples behind it; each sample is [L2 flush (cold mode)] -> start event -> kernel -> end event.
Because the batch is queued before the GPU reaches it, the GPU never waits on the host between a start
event and its kernel, so the events measure the kernel alone. Whether the spin lasted long enough is
checked after every batch (an event recorded after the spin must still be pending once the host has
queued everything); if not, the next spin is lengthened and the batch is flagged "launch_gaps".

Method "cuda-graph": for warm kernels shorter than the events' useful resolution, `reps` launches are
captured in one CUDA graph whose replay is timed by events and divided by `reps`.

Cold mode flushes L2 before every sample by writing a buffer twice the size of the device's L2
(read from the device, not a fixed size), outside the timed region.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

# Below this median a warm sample is timed by graph replay (event timestamps resolve ~0.5 us).
GRAPH_BELOW_S = 10e-6
_MAX_SPIN_S = 0.25


@dataclass
class BatchInfo:
    method: str
    launch_gaps: bool = False
    notes: list[str] = field(default_factory=list)


class DeviceTimer:
    """Times a zero-argument callable on the current CUDA stream of `device`."""

    graph_below_s = GRAPH_BELOW_S

    def __init__(self, device: torch.device, mode: str):
        if mode not in ("cold", "warm"):
            raise ValueError(f"mode must be 'cold' or 'warm', got {mode!r}")
        self.device = device
        self.mode = mode
        props = torch.cuda.get_device_properties(device)
        self.l2_bytes = int(getattr(props, "L2_cache_size", 0) or 0)
        self.flush_bytes = max(2 * self.l2_bytes, 8 << 20)
        self._flush_buf = (
            torch.empty(self.flush_bytes // 4, dtype=torch.int32, device=device) if mode == "cold" else None
        )
        self._clock_hz = self._sm_clock_hz(device)
        self._host_per_sample_s = 50e-6  # first guess at the host's enqueue cost, refined per batch
        self._has_sleep = hasattr(torch.cuda, "_sleep")

    @staticmethod
    def _sm_clock_hz(device) -> float:
        """The SM clock the spin kernel's cycle count is converted with (this GPU's, found by UUID)."""
        props = torch.cuda.get_device_properties(device)
        khz = getattr(props, "clock_rate", 0) or 0  # absent in some torch builds
        if not khz:
            try:
                from gpubench.bench.measure.telemetry import handle_for

                nv, handle = handle_for(device)
                khz = nv.nvmlDeviceGetMaxClockInfo(handle, nv.NVML_CLOCK_SM) * 1000
            except Exception:
                khz = 2_000_000
        return float(khz) * 1e3

    @property
    def clock_hz(self) -> float:
        """The SM clock (Hz) the spin kernels' cycle counts are converted with."""
        return self._clock_hz

    def synchronize(self) -> None:
        torch.cuda.synchronize(self.device)

    def flush(self) -> None:
        if self._flush_buf is not None:
            self._flush_buf.zero_()

    def events_batch(self, fn: Callable[[], object], count: int) -> tuple[list[float], BatchInfo]:
        """`count` samples (seconds) of `fn`, queued behind spin kernels (one per sub-batch)."""
        samples: list[float] = []
        info = BatchInfo(method="events+spin" if self._has_sleep else "events")
        while len(samples) < count:
            # A sub-batch is as large as one capped spin can cover at twice the host's enqueue cost.
            fits = max(1, int((_MAX_SPIN_S - 1e-3) / (2.0 * self._host_per_sample_s)))
            part, gaps = self._spin_batch(fn, min(count - len(samples), fits))
            samples.extend(part)
            if gaps:
                info.launch_gaps = True
                info.notes.append("spin ended before the batch was queued; next spin lengthened")
        return samples, info

    def _spin_batch(self, fn: Callable[[], object], count: int) -> tuple[list[float], bool]:
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(count)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(count)]
        gate = torch.cuda.Event()
        if self._has_sleep:
            spin_s = min(_MAX_SPIN_S, 2.0 * self._host_per_sample_s * count + 1e-3)
            torch.cuda._sleep(int(spin_s * self._clock_hz))
            gate.record()
        t0 = time.perf_counter()
        for i in range(count):
            self.flush()
            starts[i].record()
            fn()
            ends[i].record()
        queued_s = time.perf_counter() - t0
        # The gate still pending means the GPU had not left the spin when the last sample was queued.
        gaps = bool(self._has_sleep and gate.query())
        per = queued_s / count
        self._host_per_sample_s = (
            max(per, 0.5 * self._host_per_sample_s) if not gaps else 2.0 * max(per, self._host_per_sample_s)
        )
        torch.cuda.synchronize(self.device)
        return [s.elapsed_time(e) * 1e-3 for s, e in zip(starts, ends)], gaps

    def capture_graph(self, fn: Callable[[], object], reps: int):
        """A CUDA graph of `reps` back-to-back launches of `fn` (warm mode: no room for a flush)."""
        if self.mode != "warm":
            raise ValueError("graph replay has no room for an L2 flush: warm mode only")
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            fn()  # warm-up on the capture stream (lazy init must not happen under capture)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        torch.cuda.synchronize(self.device)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(reps):
                fn()
        graph.replay()
        torch.cuda.synchronize(self.device)
        return graph

    def graph_batch(self, graph, reps: int, count: int) -> tuple[list[float], BatchInfo]:
        """`count` samples, each the mean of the `reps` launches in one replay of `graph`."""
        samples, info = self.events_batch(graph.replay, count)
        info.method = f"cuda-graph({reps})+" + info.method
        return [s / reps for s in samples], info
