"""Arithmetic-intensity sweep, mixbench-style (kernels in sweep.cu): the empirical roofline curve.

One kernel per (dtype, K): every element read from a DRAM-sized buffer goes through K dependent FMAs
and one add into an accumulator, so
    FLOPs per element = 2 K + 1,   bytes per element = 4 (fp32) or 2 (fp16),
    intensity = (2 K + 1) / bytes per element  FLOP/byte,
for K in SWEEP_K. Each point gives achieved GFLOP/s and GB/s (bytes read / median device time, cold L2):
low K traces the bandwidth roof, high K the FMA roof, and the knee sits near the ridge point.
"""

from __future__ import annotations

import numpy as np

from gpubench import dtypes
from gpubench.bench.micro.common import GB, SENTINEL_U32, THREADS, round_up
from gpubench.kernels.workload import torch_dtype

SWEEP_K = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)  # sweep.cu instantiates exactly these
ELEMENT_BYTES = {d: int(dtypes.itemsize(d)) for d in ("fp32", "fp16")}  # the instantiated dtypes
PACKET = 16
SWEEP_B = 1.0 - 2.0**-10  # v = v * b + c converges to c / (1 - b) = 1; both exact in fp16 and fp32
SWEEP_C = 2.0**-10


def flops_per_element(k: int) -> int:
    return 2 * k + 1


def intensity(k: int, dtype: str) -> float:
    """FLOPs per byte read."""
    return flops_per_element(k) / ELEMENT_BYTES[dtype]


def sweep_point(dtype: str, k: int, n_elements: int, seconds: float) -> dict:
    """One point of the curve from a measured median time."""
    flops = n_elements * flops_per_element(k)
    nbytes = n_elements * ELEMENT_BYTES[dtype]
    return {
        "dtype": dtype,
        "k": k,
        "flops_per_element": flops_per_element(k),
        "intensity": intensity(k, dtype),
        "flops": flops,
        "bytes": nbytes,
        "time_s": seconds,
        "gflops": flops / seconds / 1e9,
        "gbs": nbytes / seconds / GB,
    }


def sweep_array_bytes(l2_bytes: int) -> int:
    """Same size rule as the DRAM benchmarks: max(8 x L2, 1 GiB)."""
    from gpubench.bench.micro.memory import dram_array_bytes

    return dram_array_bytes(l2_bytes)


def run_sweep(ctx) -> None:
    import torch

    from gpubench.kernels.cuda_loader import launch

    nbytes = round_up(sweep_array_bytes(ctx.l2_bytes), PACKET)
    packets = np.int64(nbytes // PACKET)
    gen = torch.Generator(device=ctx.device).manual_seed(11)
    for dtype in ELEMENT_BYTES:
        n_elements = nbytes // ELEMENT_BYTES[dtype]
        x = torch.randn(n_elements, device=ctx.device, dtype=torch_dtype(dtype), generator=gen)
        if dtype == "fp32":
            b, c = np.float32(SWEEP_B), np.float32(SWEEP_C)
        else:
            from gpubench.bench.micro.compute import half2_bits

            b, c = half2_bits(SWEEP_B), half2_bits(SWEEP_C)
        sink = None
        for k in SWEEP_K:
            kernel = ctx.kernel("sweep.cu", f"ai_sweep_{dtype}_k{k}")
            g = ctx.grid(kernel)
            if sink is None or sink.numel() < g * THREADS:
                sink = torch.empty(g * THREADS, device=ctx.device, dtype=torch.int32)
            fn = lambda x=x, kernel=kernel, g=g, b=b, c=c, sink=sink: launch(  # noqa: E731
                kernel, (g,), (THREADS,), (x, packets, b, c, np.uint32(SENTINEL_U32), sink)
            )
            timed = ctx.time(fn, "cold")
            point = sweep_point(dtype, k, n_elements, timed.median_s)
            point.update({"grid": g, "flags": timed.flags})
            ctx.sweep.append(point)
            ctx.echo(
                f"  sweep {dtype} K={k:<5d} {point['intensity']:9.2f} FLOP/B  "
                f"{point['gflops']:10.1f} GFLOP/s  {point['gbs']:8.1f} GB/s"
            )
        del x
        torch.cuda.empty_cache()
