"""Arithmetic-rate micro-benchmarks (kernels in compute.cu): SIMT FMA and mma.sync tensor-core rates.

FLOP accounting (what each figure divides by the median device time):
    fma_fp32, fma_fp64  threads x iters x 8 chains x 2 FLOPs (one FMA = a multiply and an add)
    fma_f16x2           threads x iters x 8 chains x 4 FLOPs (one fma.rn.f16x2 = two FMAs)
    mma_sync_fp16/bf16  warps x iters x 4 chains x 4096 FLOPs (one m16n8k16 = 2 x 16 x 8 x 16)
    mma_sync_int8       warps x iters x 4 chains x 8192 integer ops (one m16n8k32 = 2 x 16 x 8 x 32)
The mma.sync rates are measured burst and sustained (bench.micro.rates), the same way as cuBLAS's.
The iteration counts are calibrated so one launch takes 1 ms (quick) or 2 ms, and the grid is the
kernel's resident capacity (occupancy API) x SMs: one full wave, no tail.
"""

from __future__ import annotations

import numpy as np

from gpubench.bench.micro.common import SENTINEL_U32, TERA, THREADS
from gpubench.kernels.workload import torch_dtype

FMA_CHAINS = 8  # compute.cu kChains
FMA_UNROLL = 16  # compute.cu kFmaUnroll: iters is a multiple of it
MMA_ACC = 4  # compute.cu kMmaAcc
MMA_UNROLL = 8  # compute.cu kMmaUnroll
MMA_M, MMA_N, MMA_K = 16, 8, 16
MMA_FLOPS = 2 * MMA_M * MMA_N * MMA_K  # 4096
MMA_K_INT8 = 32  # m16n8k32 for int8: the same 6 fragment words per lane hold twice the k depth
MMA_OPS_INT8 = 2 * MMA_M * MMA_N * MMA_K_INT8  # 8192
FRAG_WORDS_PER_LANE = 6  # A: 4 x b32, B: 2 x b32
# The int8 kernel's check: every byte of A is CHECK_A and of B CHECK_B, so after `iters` iterations each
# accumulator [k][r] (starting at k * 4 + r) holds k * 4 + r + iters * 32 * CHECK_A * CHECK_B, whatever
# the fragment layout; CHECK_ITERS keeps that far below 2^31.
CHECK_A, CHECK_B, CHECK_ITERS = 3, -2, 64

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


def mma_flops(warps: int, iters: int, ops_per_mma: int = MMA_FLOPS) -> int:
    """FLOPs (or integer operations) of one launch of an mma.sync kernel with `warps` warps in all."""
    return warps * iters * MMA_ACC * ops_per_mma


def int8_word(value: int) -> int:
    """A 32-bit word (as a signed int32) holding four int8 copies of `value`."""
    return int(np.array([value] * 4, dtype=np.int8).view(np.int32)[0])


def int8_expected(iters: int) -> np.ndarray:
    """The kMmaAcc x 4 accumulators of every thread after the check run (see CHECK_A)."""
    start = np.arange(MMA_ACC * 4, dtype=np.int64)  # k * 4 + r
    return start + iters * MMA_K_INT8 * CHECK_A * CHECK_B


def run_fma(ctx) -> None:
    import torch

    from gpubench.kernels.cuda_loader import launch

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


def _check_int8(ctx, kernel, g: int, launch) -> None:
    """Run the int8 kernel on constant fragments and check every accumulator: the mma ran, and with k 32."""
    import torch

    words = torch.tensor([int8_word(CHECK_A)] * 4 + [int8_word(CHECK_B)] * 2, dtype=torch.int32)
    frag = words.repeat(32).to(ctx.device)
    out = torch.empty(g * THREADS * MMA_ACC * 4, device=ctx.device, dtype=torch.int32)
    launch(kernel, (g,), (THREADS,), (frag, np.int64(CHECK_ITERS), out))
    got = out.view(-1, MMA_ACC * 4).cpu().numpy()
    want = int8_expected(CHECK_ITERS)
    bad = np.flatnonzero((got != want).any(axis=1))
    if bad.size:
        raise RuntimeError(f"mma_sync_int8 check failed: thread {bad[0]} holds {got[bad[0]].tolist()}, "
                           f"expected {want.tolist()}")  # fmt: skip


def _fragments(ctx, dt: str, gen):
    """6 random words per lane (A, then B): fp16/bf16 values, or int8 values over the whole range."""
    import torch

    if dt == "int8":
        n = 32 * FRAG_WORDS_PER_LANE * 4
        values = torch.randint(-128, 128, (n,), device=ctx.device, dtype=torch.int8, generator=gen)
        return values.view(torch.int32)
    values = torch.randn(32 * FRAG_WORDS_PER_LANE * 2, device=ctx.device, generator=gen)
    return values.to(torch_dtype(dt)).view(torch.int32)


def run_mma(ctx) -> None:
    import torch

    from gpubench.bench.micro.rates import measure_rates
    from gpubench.kernels.cuda_loader import launch

    if ctx.cc < (8, 0):
        for dt in ("fp16", "bf16", "int8"):
            ctx.skip(f"mma_sync_{dt}", f"mma.sync with these shapes needs sm_80+, this is {ctx.cc}")
        return
    gen = torch.Generator(device=ctx.device).manual_seed(7)
    for dt in ("fp16", "bf16", "int8"):
        kernel = ctx.kernel("compute.cu", f"mma_sync_{dt}")
        g = ctx.grid(kernel)
        acc = torch.int32 if dt == "int8" else torch.float32
        if dt == "int8":
            _check_int8(ctx, kernel, g, launch)
        frag = _fragments(ctx, dt, gen)
        out = torch.empty(g * THREADS * MMA_ACC * 4, device=ctx.device, dtype=acc)

        def run(iters, kernel=kernel, g=g, frag=frag, out=out):
            launch(kernel, (g,), (THREADS,), (frag, np.int64(iters), out))

        iters = ctx.calibrate(run, 1024, MMA_UNROLL, ctx.target_s)
        warps = g * THREADS // 32
        ops = mma_flops(warps, iters, MMA_OPS_INT8 if dt == "int8" else MMA_FLOPS)
        shape, accum = ("m16n8k32", "s32") if dt == "int8" else ("m16n8k16", "fp32")
        method = (
            f"the suite's own mma.sync.aligned.{shape} {dt} x {dt} -> {accum} kernel (compute.cu), {MMA_ACC} "
            "independent accumulators per warp, fragments loaded once (random data), registers only, one "
            f"full wave; {ops // (warps * iters * MMA_ACC)} operations per mma / median device time. This "
            "is the raw mma.sync issue rate: Hopper reaches its tensor-core peak only through wgmma, so on "
            "sm_90 it is a fraction of that peak"
        )
        unit = "TOP/s" if dt == "int8" else "TFLOP/s"
        measure_rates(
            ctx, f"mma_sync_{dt}", ops, unit, lambda run=run, n=iters: run(n), method=method,
            params={"grid": g, "threads": THREADS, "warps": warps, "iters": iters, "flops": ops,
                    "code": f"bench/micro/compute.cu:mma_sync_{dt}"},
        )  # fmt: skip
        if dt != "int8" and not bool(torch.isfinite(out).all()):
            raise RuntimeError(f"mma_sync_{dt}: non-finite accumulators")
