"""Host <-> device bandwidth through torch's copy_, TRANSFER_BYTES per transfer.

    h2d_pinned, d2h_pinned      copy_(non_blocking=True) with a page-locked host buffer: asynchronous,
                                timed by bench.measure.sampling (events behind a spin kernel)
    h2d_pageable, d2h_pageable  copy_ with an ordinary host buffer: the driver stages it through its own
                                pinned buffers and the host waits, so each sample is start event ->
                                copy_ -> end event, synchronised, one at a time
GB/s = bytes / median device time.
"""

from __future__ import annotations

import statistics

from gpubench.bench.micro.common import GB

TRANSFER_BYTES = 256 << 20


def run_transfer(ctx) -> None:
    import torch

    from gpubench.bench.measure.telemetry import flags_from

    n = TRANSFER_BYTES // 4
    dev = torch.randn(n, device=ctx.device, generator=torch.Generator(device=ctx.device).manual_seed(3))
    pinned = torch.empty(n, dtype=torch.float32, pin_memory=True)
    pageable = torch.empty(n, dtype=torch.float32)
    pinned.copy_(dev)
    pageable.copy_(dev)  # also faults every page in before timing
    params = {"bytes": TRANSFER_BYTES}

    for direction, fn in (
        ("h2d", lambda: dev.copy_(pinned, non_blocking=True)),
        ("d2h", lambda: pinned.copy_(dev, non_blocking=True)),
    ):
        timed = ctx.time(fn, "warm")
        ctx.add_timed(
            f"{direction}_pinned",
            TRANSFER_BYTES / timed.median_s / GB,
            "GB/s",
            timed,
            method=(
                f"torch copy_ {direction} from/to page-locked host memory, non_blocking; "
                "bytes / median device time"
            ),
            params=params,
        )

    reps = 5 if ctx.quick else 10
    for direction, fn in (("h2d", lambda: dev.copy_(pageable)), ("d2h", lambda: pageable.copy_(dev))):
        fn()
        torch.cuda.synchronize(ctx.device)
        samples = []
        ctx.sampler.start()
        try:
            for _ in range(reps):
                samples.append(ctx.event_time(fn))
        finally:
            telemetry = ctx.sampler.stop()
        median = statistics.median(samples)
        ctx.add(
            f"{direction}_pageable",
            TRANSFER_BYTES / median / GB,
            "GB/s",
            method=(
                f"torch copy_ {direction} from/to pageable host memory (staged by the driver, host waits): "
                f"start event, copy_, end event, synchronised; bytes / median of {reps} device times"
            ),
            params={**params, "samples_s": samples},
            telemetry=telemetry,
            flags=flags_from(telemetry),
        )
