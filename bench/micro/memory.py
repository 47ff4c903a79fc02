"""Bandwidth micro-benchmarks (kernels in memory.cu): DRAM, the cache working-set sweep, shared memory.

Byte accounting (what each figure divides by the median device time):
    dram_read   one read of the array                    = 1 x array bytes
    dram_write  one write of the array                   = 1 x array bytes
    dram_copy   y = x: one read + one write              = 2 x array bytes   (the suite's copy yardstick)
    dram_triad  a = b + s*c: two reads + one write       = 3 x array bytes
    torch copy_ y.copy_(x), counted like dram_copy       = 2 x array bytes
    cache sweep every thread's 16-byte loads             = grid x threads x iters x 16
    smem        every thread's 16-byte shared loads      = grid x threads x iters x 16
Each DRAM array is max(8 x L2, 1 GiB), so no level of cache holds a useful part of it; L2 is flushed
before every sample anyway (cold mode), like every other cold measurement of the suite.
"""

from __future__ import annotations

from gpubench.bench.micro.common import GB, SENTINEL_F32, SENTINEL_U32, THREADS, round_up

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
PACKET = 16  # bytes per vector access

DRAM_MIN_ARRAY_BYTES = GIB
DRAM_L2_MULTIPLE = 8
# Arrays each DRAM kernel moves, each exactly once per launch.
DRAM_ARRAYS = {"read": 1, "write": 1, "copy": 2, "triad": 3}
TRIAD_SCALAR = 1.5
WRITE_SEED = 0x2545F491

CACHE_SWEEP_START = 32 * KIB
L1_MAX_WS = 64 * KIB  # fits the L1 of every GPU since Volta (128 KiB or more per SM)
L2_MIN_WS = 1 * MIB  # far beyond any L1, so every block's working set must come from L2

SMEM_STEP_PACKETS = 32  # run-time advance of the shared-memory kernel's base (a multiple of 32)


def dram_array_bytes(l2_bytes: int) -> int:
    """Bytes of each DRAM test array: max(8 x L2, 1 GiB), rounded up to whole MiB."""
    return round_up(max(DRAM_L2_MULTIPLE * l2_bytes, DRAM_MIN_ARRAY_BYTES), MIB)


def dram_bytes(kind: str, array_bytes: int) -> int:
    """Bytes moved by one launch of the DRAM kernel `kind` over arrays of `array_bytes` each."""
    return DRAM_ARRAYS[kind] * array_bytes


def write_pattern(packet: int, seed: int = WRITE_SEED) -> tuple[int, int, int, int]:
    """The four 32-bit words dram_write stores in packet `packet` (memory.cu `pattern`)."""
    h = (packet * 0x9E3779B1 + seed) & 0xFFFFFFFF
    return h, h ^ 0x55555555, (h + 0x3C6EF372) & 0xFFFFFFFF, ~h & 0xFFFFFFFF


def cache_sweep_sizes(l2_bytes: int, start: int = CACHE_SWEEP_START) -> list[int]:
    """Working sets in factor-2 steps from `start` to the first power of two >= 4 x L2 (inclusive)."""
    if start <= 0 or start & (start - 1):
        raise ValueError("start must be a power of two")
    sizes = [start]
    while sizes[-1] < 4 * l2_bytes:
        sizes.append(sizes[-1] * 2)
    return sizes


def cache_level(ws_bytes: int, l2_bytes: int) -> str:
    """Which level a sweep point measures: l1, l2, dram, or a transition between them."""
    if ws_bytes <= L1_MAX_WS:
        return "l1"
    if L2_MIN_WS <= ws_bytes <= l2_bytes // 2:
        return "l2"
    if ws_bytes >= 2 * l2_bytes:
        return "dram"
    return "transition"


def cache_iters(target_bytes: int, grid: int, threads: int = THREADS) -> int:
    """Loads per thread (a multiple of 4) so that one launch reads about `target_bytes`."""
    return round_up(max(1, -(-target_bytes // (grid * threads * PACKET))), 4)


def vector_load_bytes(grid: int, threads: int, iters: int) -> int:
    """Bytes read by grid x threads threads doing `iters` 16-byte loads each (cache sweep, smem)."""
    return grid * threads * iters * PACKET


def plateau(points: list[dict], level: str) -> dict | None:
    """The sweep point with the best bandwidth among those of one level (the ceiling that level allows)."""
    candidates = [p for p in points if p["level"] == level]
    return max(candidates, key=lambda p: p["gbs"]) if candidates else None


# ---- GPU side -------------------------------------------------------------------------------------


def run_dram(ctx) -> None:
    import numpy as np
    import torch

    from gpubench.kernels._cuda import launch

    kernels = {k: ctx.kernel("memory.cu", f"dram_{k}") for k in DRAM_ARRAYS}
    array_bytes = dram_array_bytes(ctx.l2_bytes)
    n = array_bytes // 4
    packets = np.int64(array_bytes // PACKET)
    gen = torch.Generator(device=ctx.device).manual_seed(1234)
    x = torch.randn(n, device=ctx.device, generator=gen)
    y = torch.randn(n, device=ctx.device, generator=gen)
    z = torch.randn(n, device=ctx.device, generator=gen)
    common = {
        "array_bytes": array_bytes,
        "threads": THREADS,
        "l2_bytes": ctx.l2_bytes,
        "access": "16-byte vector loads/stores, grid-stride loop unrolled 4x",
    }

    def report(kind, fn, grid, method):
        timed = ctx.time(fn, "cold")
        moved = dram_bytes(kind, array_bytes)
        ctx.add_timed(
            f"dram_{kind}",
            moved / timed.median_s / GB,
            "GB/s",
            timed,
            method=method,
            params={**common, "grid": grid, "bytes": moved},
        )

    # read: a real reduction; checked on positive data (|x| in y) so a skipped chunk would show.
    g = ctx.grid(kernels["read"])
    partials = torch.empty(g, device=ctx.device, dtype=torch.float32)
    torch.abs(x, out=y)
    launch(kernels["read"], (g,), (THREADS,), (y, packets, partials))
    got, want = partials.double().sum().item(), y.double().sum().item()
    if abs(got - want) > 1e-5 * want:
        raise RuntimeError(f"dram_read check failed: kernel sum {got!r}, torch sum {want!r}")
    report(
        "read",
        lambda g=g: launch(kernels["read"], (g,), (THREADS,), (x, packets, partials)),
        g,
        "sum of every float of the array (per-block partial sums written): bytes read / median device time",
    )

    g = ctx.grid(kernels["write"])
    seed = np.uint32(WRITE_SEED)
    launch(kernels["write"], (g,), (THREADS,), (y, packets, seed))
    words = y.view(torch.int32).view(-1, 4)
    for p in (0, 1, int(packets) // 2 + 7, int(packets) - 1):
        got = tuple(int(w) & 0xFFFFFFFF for w in words[p].tolist())
        if got != write_pattern(p):
            raise RuntimeError(f"dram_write check failed at packet {p}: {got} != {write_pattern(p)}")
    report(
        "write",
        lambda g=g: launch(kernels["write"], (g,), (THREADS,), (y, packets, seed)),
        g,
        "fill with a per-packet hash (non-uniform data): bytes written / median device time",
    )

    g = ctx.grid(kernels["copy"])
    launch(kernels["copy"], (g,), (THREADS,), (x, y, packets))
    if not torch.equal(x, y):
        raise RuntimeError("dram_copy check failed: y != x after the copy")
    report(
        "copy",
        lambda g=g: launch(kernels["copy"], (g,), (THREADS,), (x, y, packets)),
        g,
        "y = x: (bytes read + bytes written) / median device time",
    )

    g = ctx.grid(kernels["triad"])
    s = np.float32(TRIAD_SCALAR)
    launch(kernels["triad"], (g,), (THREADS,), (x, y, z, s, packets))
    m = 1 << 20
    torch.testing.assert_close(x[:m], y[:m] + TRIAD_SCALAR * z[:m], msg="dram_triad check failed")
    torch.testing.assert_close(x[-m:], y[-m:] + TRIAD_SCALAR * z[-m:], msg="dram_triad check failed")
    report(
        "triad",
        lambda g=g: launch(kernels["triad"], (g,), (THREADS,), (x, y, z, s, packets)),
        g,
        "a = b + s*c: (2 arrays read + 1 written) / median device time",
    )

    timed = ctx.time(lambda: y.copy_(x), "cold")
    moved = dram_bytes("copy", array_bytes)
    ctx.add_timed(
        "dram_copy_torch",
        moved / timed.median_s / GB,
        "GB/s",
        timed,
        method="torch Tensor.copy_ (device to device): (bytes read + bytes written) / median device time",
        params={"array_bytes": array_bytes, "bytes": moved},
    )


def run_cache(ctx) -> None:
    import numpy as np
    import torch

    from gpubench.kernels._cuda import launch

    kernel = ctx.kernel("memory.cu", "cache_sweep")
    sizes = cache_sweep_sizes(ctx.l2_bytes)
    gen = torch.Generator(device=ctx.device).manual_seed(99)
    buf = torch.randint(
        -(2**31), 2**31 - 1, (sizes[-1] // 4,), device=ctx.device, dtype=torch.int32, generator=gen
    )
    g = ctx.grid(kernel)
    sink = torch.empty(g * THREADS, device=ctx.device, dtype=torch.int32)
    target = (2 if ctx.quick else 4) * GIB
    iters = cache_iters(target, g, THREADS)
    moved = vector_load_bytes(g, THREADS, iters)
    points, telemetries = [], []
    for ws in sizes:
        mask = np.uint32(ws // PACKET - 1)
        fn = lambda mask=mask: launch(  # noqa: E731
            kernel, (g,), (THREADS,), (buf, mask, np.int64(iters), np.uint32(SENTINEL_U32), sink)
        )
        timed = ctx.time(fn, "warm")
        level = cache_level(ws, ctx.l2_bytes)
        point = {
            "ws_bytes": ws,
            "level": level,
            "gbs": moved / timed.median_s / GB,
            "time_s": timed.median_s,
            "bytes": moved,
            "flags": timed.flags,
        }
        points.append(point)
        telemetries.append(timed.telemetry)
        ctx.echo(f"  cache sweep {ws / KIB:>9.0f} KiB  {point['gbs']:10.1f} GB/s  ({level})")
    ctx.cache_sweep = points
    params = {
        "grid": g,
        "threads": THREADS,
        "iters_per_thread": iters,
        "bytes_per_launch": moved,
        "l2_bytes": ctx.l2_bytes,
        "points": points,
    }
    method = (
        "working-set sweep (warm): every block streams through the whole working set with 16-byte loads, "
        "blocks staggered by ws/grid so a line is re-read after about ws bytes of traffic; bytes loaded / "
        "median device time; the figure is the best point of the level"
    )
    for level, name, where in (
        ("l1", "l1_bandwidth", f"working sets <= {L1_MAX_WS // KIB} KiB"),
        ("l2", "l2_bandwidth", f"working sets {L2_MIN_WS // MIB} MiB to L2/2"),
    ):
        best = plateau(points, level)
        if best is None:
            ctx.skip(name, f"no sweep point with {where}")
            continue
        ctx.add(
            name,
            best["gbs"],
            "GB/s",
            method=f"{method} ({where})",
            params={**params, "level": level, "best_ws_bytes": best["ws_bytes"]},
            telemetry=telemetries[points.index(best)],
            flags=best["flags"],
        )


def run_smem(ctx) -> None:
    import numpy as np
    import torch

    from gpubench.kernels._cuda import launch

    kernel = ctx.kernel("memory.cu", "smem_read")
    g = ctx.grid(kernel)  # the occupancy API counts the kernel's 32 KiB of static shared memory
    sink = torch.empty(g * THREADS, device=ctx.device, dtype=torch.float32)

    def run(iters):
        launch(
            kernel,
            (g,),
            (THREADS,),
            (np.int64(iters), np.uint32(SMEM_STEP_PACKETS), np.float32(SENTINEL_F32), sink),
        )

    iters = ctx.calibrate(run, 1024, 4, ctx.target_s)
    timed = ctx.time(lambda: run(iters), "warm")
    moved = vector_load_bytes(g, THREADS, iters)
    ctx.add_timed(
        "smem_bandwidth",
        moved / timed.median_s / GB,
        "GB/s",
        timed,
        method=(
            "each block fills a 32 KiB shared tile, then every thread reads 16-byte packets from it "
            "(8 threads cover 128 contiguous bytes: conflict-free), accumulated; bytes read / median "
            "device time"
        ),
        params={"grid": g, "threads": THREADS, "iters_per_thread": iters, "bytes": moved},
    )
