"""The adaptive measurement loop for one benchmark: warm-up, batches of device-timed samples, stop rule;
the same with the telemetry sampled around it (`measure_observed`), and the timers of a device by mode."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gpubench.bench.measure.stopping import StoppingRule
from gpubench.bench.measure.telemetry import flags_from
from gpubench.results import Telemetry
from gpubench.results.stats import quantile

# A batch is sized to take at most this much device time, so a slow kernel still gets several batches.
_BATCH_BUDGET_S = 0.5
_GAPPED_RETRIES = 3
# bench.measure.sampling.load queues calls in chunks of about this much device time between synchronizations.
LOAD_CHUNK_S = 0.02


@dataclass
class Measurement:
    samples: list[float]
    method: str
    stop_reason: str
    wall_s: float
    warmup_calls: int
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _warm_up(fn: Callable[[], object], timer, min_calls: int = 2, min_s: float = 0.02) -> int:
    """Compilation, autotuning and lazy initialisation happen here, outside every timed sample."""
    calls = 0
    t0 = time.perf_counter()
    while calls < min_calls or time.perf_counter() - t0 < min_s:
        fn()
        timer.synchronize()
        calls += 1
        if calls >= 50:
            break
    return calls


def measure(
    fn: Callable[[], object], timer, rule: StoppingRule, on_batch=None, allow_graph: bool = True
) -> Measurement:
    """Sample `fn` until `rule` says stop; `on_batch(n_samples)` reports progress after each batch kept.
    `allow_graph=False` keeps short warm kernels on events (what the empty-kernel figure needs).

    `timer` is a bench.measure.timing.DeviceTimer, or anything with its `mode`, `graph_below_s`,
    `synchronize`, `events_batch`, `capture_graph` and `graph_batch` (the CPU tests drive this loop with a
    fake one)."""
    warm = _warm_up(fn, timer)
    t0 = time.perf_counter()
    probe, _ = timer.events_batch(fn, 3)
    per_sample = quantile(sorted(probe), 0.5)
    batch_fn = timer.events_batch
    method_note = []
    if allow_graph and timer.mode == "warm" and per_sample < timer.graph_below_s:
        reps = max(2, min(1000, int(100e-6 / max(per_sample, 1e-7))))
        try:
            graph = timer.capture_graph(fn, reps)
            batch_fn = lambda f, k: timer.graph_batch(graph, reps, k)  # noqa: E731
        except Exception as exc:  # a launcher that cannot be captured keeps plain events
            method_note.append(f"graph capture failed ({type(exc).__name__}: {exc}); events used")
            timer.synchronize()
    samples: list[float] = []
    methods: set[str] = set()
    flags: list[str] = []
    gapped = 0
    late = False  # the timeout passed before the minimum number of samples
    while True:
        elapsed = time.perf_counter() - t0
        stop = rule.reason_to_stop(samples, elapsed)
        if stop:
            break
        late = late or elapsed >= rule.timeout_s
        want = rule.next_batch(samples, time.perf_counter() - t0)
        est = quantile(sorted(samples), 0.5) if samples else per_sample
        count = max(1, min(want, int(_BATCH_BUDGET_S / max(est, 1e-7))))
        batch, info = batch_fn(fn, count)
        methods.add(info.method)
        if info.launch_gaps:
            gapped += 1
            if gapped <= _GAPPED_RETRIES:
                continue  # discard: a sample may contain host time; the next spin is longer
            if "launch_gaps" not in flags:
                flags.append("launch_gaps")
        samples.extend(batch)
        if on_batch is not None:
            on_batch(len(samples))
    if stop == "timeout" and late:
        stop = "min_samples"
    return Measurement(
        samples=samples,
        method=", ".join(sorted(methods)) or "none",
        stop_reason=stop,
        wall_s=time.perf_counter() - t0,
        warmup_calls=warm,
        flags=flags,
        notes=method_note + ([f"{gapped} batch(es) had launch gaps and were discarded"] if gapped else []),
    )


def measure_observed(
    fn: Callable[[], object], timer, rule: StoppingRule, telemetry, allow_graph: bool = True
) -> tuple[Measurement, Telemetry, list[str]]:
    """`measure` with `telemetry` (a bench.measure.telemetry.TelemetrySampler, or a stand-in) sampling
    around it, each batch marked: (the measurement, the telemetry, the flags of both, sorted)."""
    telemetry.start()
    try:
        m = measure(fn, timer, rule, on_batch=getattr(telemetry, "mark", None), allow_graph=allow_graph)
    finally:
        seen = telemetry.stop()
    return m, seen, sorted(set(m.flags) | set(flags_from(seen)))


class Timers:
    """The timers of one device, one per L2 mode, made on first use and kept: the cold one holds a flush
    buffer of twice the L2. `factory(device, mode)` is bench.measure.timing.DeviceTimer unless a stand-in
    is given (the CPU tests)."""

    def __init__(self, device, factory: Callable | None = None):
        self.device = device
        self._factory = factory
        self._made: dict[str, object] = {}

    def __call__(self, mode: str):
        if mode not in self._made:
            factory = self._factory
            if factory is None:
                from gpubench.bench.measure.timing import DeviceTimer as factory
            self._made[mode] = factory(self.device, mode)
        return self._made[mode]


@dataclass
class Load:
    calls: int
    wall_s: float


def load(
    fn: Callable[[], object], synchronize: Callable[[], None], seconds: float, clock=time.perf_counter
) -> Load:
    """Run `fn` back to back for `seconds` of wall time before sampling, so that what follows is measured
    at the clocks and power the GPU settles to under sustained load (a power-capped GPU lowers its clock
    after some hundreds of milliseconds). Calls are queued in chunks that grow until one takes about
    LOAD_CHUNK_S, with a synchronize after each, so the host never runs far ahead of the GPU."""
    t0 = clock()
    calls, chunk = 0, 1
    while clock() - t0 < seconds:
        c0 = clock()
        for _ in range(chunk):
            fn()
        synchronize()
        calls += chunk
        if clock() - c0 < LOAD_CHUNK_S:
            chunk = min(2 * chunk, 1 << 16)
    return Load(calls, clock() - t0)
