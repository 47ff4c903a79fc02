"""Launch overhead (kernel in launch.cu): an empty kernel, <<<1, 1>>>.

    launch_host          host wall time per launch: N launches back to back from Python through CuPy
                         onto one stream, one synchronize at the end, (wall time) / N
    launch_graph         per-launch time of a CUDA graph of GRAPH_LAUNCHES launches: replay device
                         time (events, bench.measure.sampling) / GRAPH_LAUNCHES
    empty_kernel_device  device time between two events around one empty kernel (bench.measure.sampling:
                         queued behind a spin kernel, batches with launch gaps dropped, so host time is kept
                         out)
The ceilings' launch_overhead_s is the graph figure (the per-kernel cost the device itself adds when
the host keeps up); it falls back to the empty-kernel event duration when graph capture fails.
"""

from __future__ import annotations

import statistics
import time

GRAPH_LAUNCHES = 1000


def per_launch(total_s: float, launches: int) -> float:
    if launches <= 0:
        raise ValueError("launches must be positive")
    return total_s / launches


def run_launch(ctx) -> None:
    import cupy
    import numpy as np

    from gpubench.kernels import cuda_loader as _cuda

    kernel = ctx.kernel("launch.cu", "empty_kernel")
    arg = (np.int32(0),)

    def fn():
        with cupy.cuda.Device(ctx.index), _cuda.current_stream(ctx.index):
            kernel((1,), (1,), arg)

    _launch_host(ctx, fn, kernel, arg)
    _launch_graph(ctx, fn)
    _empty_kernel(ctx, fn)


def _launch_host(ctx, fn, kernel, arg) -> None:
    """The CuPy launch itself, with device and stream entered once outside the loop."""
    import cupy
    import torch

    from gpubench.bench.measure.telemetry import flags_from
    from gpubench.kernels import cuda_loader as _cuda

    n = 5000 if ctx.quick else 20000
    reps = 3 if ctx.quick else 5
    fn()
    torch.cuda.synchronize(ctx.device)
    walls = []
    ctx.sampler.start()
    try:
        with cupy.cuda.Device(ctx.index), _cuda.current_stream(ctx.index):
            func = kernel.kernel  # the compiled cupy Function: no per-call module lookup
            for _ in range(reps):
                torch.cuda.synchronize(ctx.device)
                t0 = time.perf_counter()
                for _ in range(n):
                    func((1,), (1,), arg)
                torch.cuda.synchronize(ctx.device)
                walls.append(per_launch(time.perf_counter() - t0, n))
    finally:
        telemetry = ctx.sampler.stop()
    ctx.add(
        "launch_host",
        statistics.median(walls),
        "s",
        method=(
            f"{n} empty-kernel launches back to back from Python (cupy Function call, device and stream "
            f"entered once) on one stream, one synchronize; median over {reps} runs of wall time / launches; "
            "includes the Python and CuPy per-call cost"
        ),
        params={"launches": n, "runs_s_per_launch": walls},
        telemetry=telemetry,
        flags=flags_from(telemetry),
    )


def _launch_graph(ctx, fn) -> None:
    import torch

    timer = ctx.timer("warm")
    try:
        graph = timer.capture_graph(fn, GRAPH_LAUNCHES)
    except Exception as exc:
        torch.cuda.synchronize(ctx.device)
        ctx.skip("launch_graph", f"CUDA graph capture of CuPy launches failed: {type(exc).__name__}: {exc}")
        return
    timed = ctx.time(graph.replay, "warm")
    ctx.add_timed(
        "launch_graph",
        per_launch(timed.median_s, GRAPH_LAUNCHES),
        "s",
        timed,
        method=(
            f"CUDA graph (torch.cuda.CUDAGraph) of {GRAPH_LAUNCHES} empty-kernel launches: median replay "
            f"device time / {GRAPH_LAUNCHES}"
        ),
        params={"launches_per_graph": GRAPH_LAUNCHES},
    )
    del graph


def _empty_kernel(ctx, fn) -> None:
    # Through bench.measure.sampling like every figure: a batch whose spin ended before it was queued may hold
    # host time and is dropped (the next spin is longer); graph replay is off, this is the events' figure.
    timed = ctx.time(fn, "warm", graph=False)
    ctx.add_timed(
        "empty_kernel_device",
        timed.median_s,
        "s",
        timed,
        method=(
            f"median device time between CUDA events around one empty kernel ({timed.method}; batches with "
            "launch gaps dropped as in every measurement; events resolve about 0.5 us, so this is an upper "
            "bound on the kernel's own duration)"
        ),
    )
