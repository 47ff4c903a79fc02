"""Arithmetic-rate micro-benchmarks (kernels in compute.cu): SIMT FMA and mma.sync tensor-core rates.

FLOP accounting (what each figure divides by the median device time):
    fma_fp32, fma_fp64  threads x iters x 8 chains x 2 FLOPs (one FMA = a multiply and an add)
    fma_f16x2           threads x iters x 8 chains x 4 FLOPs (one fma.rn.f16x2 = two FMAs)
    mma_sync_*          warps x iters x 4 chains x 4096 FLOPs (one m16n8k16 = 2 x 16 x 8 x 16)
The iteration counts are calibrated so one launch takes 1 ms (quick) or 2 ms, and the grid is the
kernel's resident capacity (occupancy API) x SMs: one full wave, no tail.
"""

from __future__ import annotations

import numpy as np

from gpubench.bench.micro.common import SENTINEL_U32, TERA, THREADS

FMA_CHAINS = 8  # compute.cu kChains
FMA_UNROLL = 16  # compute.cu kFmaUnroll: iters is a multiple of it
MMA_ACC = 4  # compute.cu kMmaAcc
MMA_UNROLL = 8  # compute.cu kMmaUnroll
MMA_M, MMA_N, MMA_K = 16, 8, 16
MMA_FLOPS = 2 * MMA_M * MMA_N * MMA_K  # 4096
FRAG_WORDS_PER_LANE = 6  # A: 4 x b32, B: 2 x b32

# name -> (kernel, FLOPs per FMA instruction, the run-time b and c of a = a * b + c)
# b just below 1 and c small keep every chain bounded and normal: a converges to c / (1 - b) = 0.5.
FMA_KINDS = {
    "fp32": ("fma_fp32", 2, np.float32(1.0 - 2.0**-20), np.float32(2.0**-21)),
    "fp64": ("fma_fp64", 2, np.float64(1.0 - 2.0**-40), np.float64(2.0**-41)),
    "f16x2": ("fma_f16x2", 4, None, None),  # packed half2 constants: see half2_bits
}
F16X2_B = 1.0 - 2.0**-11  # largest fp16 below 1
F16X2_C = 2.0**-12


def half2_bits(value: float) -> np.uint32:
    """A float as the 32-bit pattern of a half2 holding it twice."""
    return np.array([value, value], dtype=np.float16).view(np.uint32)[0]


def fma_flops(threads: int, iters: int, flops_per_instr: int) -> int:
    """FLOPs of one launch of an FMA kernel with `threads` threads in all."""
    return threads * iters * FMA_CHAINS * flops_per_instr


def mma_flops(warps: int, iters: int) -> int:
    """FLOPs of one launch of an mma.sync kernel with `warps` warps in all."""
    return warps * iters * MMA_ACC * MMA_FLOPS


def run_fma(ctx) -> None:
    import torch

    from gpubench.kernels._cuda import launch

    for kind, (kname, per_instr, b, c) in FMA_KINDS.items():
        kernel = ctx.kernel("compute.cu", kname)
        g = ctx.grid(kernel)
        sink = torch.empty(g * THREADS, device=ctx.device, dtype=torch.int32)
        if kind == "f16x2":
            b, c = half2_bits(F16X2_B), half2_bits(F16X2_C)

        def run(iters, kernel=kernel, g=g, b=b, c=c, sink=sink):
            launch(kernel, (g,), (THREADS,), (np.int64(iters), b, c, np.uint32(SENTINEL_U32), sink))

        iters = ctx.calibrate(run, 4096, FMA_UNROLL, ctx.target_s)
        timed = ctx.time(lambda run=run, iters=iters: run(iters), "warm")
        flops = fma_flops(g * THREADS, iters, per_instr)
        ctx.add_timed(
            f"fma_{kind}",
            flops / timed.median_s / TERA,
            "TFLOP/s",
            timed,
            method=(
                f"{FMA_CHAINS} independent {kind} FMA chains per thread (inline PTX fma.rn), unrolled, one "
                f"full wave of blocks; {per_instr} FLOPs per instruction x instructions / median device time"
            ),
            params={"grid": g, "threads": THREADS, "iters": iters, "chains": FMA_CHAINS, "flops": flops},
        )


def run_mma(ctx) -> None:
    import torch

    from gpubench.kernels._cuda import launch

    if ctx.cc < (8, 0):
        for dt in ("fp16", "bf16"):
            ctx.skip(
                f"mma_sync_{dt}", f"mma.sync m16n8k16 with fp32 accumulators needs sm_80+, this is {ctx.cc}"
            )
        return
    gen = torch.Generator(device=ctx.device).manual_seed(7)
    for dt, tdtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
        kernel = ctx.kernel("compute.cu", f"mma_sync_{dt}")
        g = ctx.grid(kernel)
        values = torch.randn(32 * FRAG_WORDS_PER_LANE * 2, device=ctx.device, generator=gen).to(tdtype)
        frag = values.view(torch.int32)  # 6 packed pairs per lane: A fragment, then B fragment
        out = torch.empty(g * THREADS * MMA_ACC * 4, device=ctx.device, dtype=torch.float32)

        def run(iters, kernel=kernel, g=g, frag=frag, out=out):
            launch(kernel, (g,), (THREADS,), (frag, np.int64(iters), out))

        iters = ctx.calibrate(run, 1024, MMA_UNROLL, ctx.target_s)
        timed = ctx.time(lambda run=run, iters=iters: run(iters), "warm")
        if not bool(torch.isfinite(out).all()):
            raise RuntimeError(f"mma_sync_{dt}: non-finite accumulators")
        warps = g * THREADS // 32
        flops = mma_flops(warps, iters)
        ctx.add_timed(
            f"mma_sync_{dt}",
            flops / timed.median_s / TERA,
            "TFLOP/s",
            timed,
            method=(
                f"mma.sync.aligned.m16n8k16 {dt} x {dt} -> fp32, {MMA_ACC} independent accumulators "
                "per warp, fragments loaded once (random data), registers only, one full wave; 4096 FLOPs "
                "per mma / median device time. This is the raw mma.sync issue rate: Hopper reaches its "
                "tensor-core peak only through wgmma, so on sm_90 this measures a fraction of that peak"
            ),
            params={"grid": g, "threads": THREADS, "warps": warps, "iters": iters, "flops": flops},
        )
