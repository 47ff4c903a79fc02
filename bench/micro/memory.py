"""Bandwidth micro-benchmarks (kernels in memory.cu): DRAM, the cache working-set sweep, shared memory.

Byte accounting (what each figure divides by the median device time):
    dram_read   one read of the array                    = 1 x array bytes
    dram_write  one write of the array                   = 1 x array bytes
    dram_copy   y = x: one read + one write              = 2 x array bytes   (the suite's copy yardstick)
    dram_triad  a = b + s*c: two reads + one write       = 3 x array bytes
    torch copy_ y.copy_(x), counted like dram_copy       = 2 x array bytes
    cache sweep every thread's 16-byte loads             = grid x threads x iters x 16
                (L1 points through plain loads, L2 and DRAM points through ld.global.cg, L1 bypassed;
                the L1 and L2 figures are the best point of each level's plateau, bench.micro.plateau)
    smem        every thread's 16-byte shared loads      = grid x threads x iters x 16
Each DRAM array is max(8 x L2, 1 GiB), so no level of cache holds a useful part of it; L2 is flushed
before every sample anyway (cold mode), like every other cold measurement of the suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gpubench.bench.micro.common import GB, SENTINEL_F32, SENTINEL_U32, THREADS, round_up
from gpubench.bench.micro.plateau import DRAM_L2_MULTIPLE as DRAM_POINT_L2_MULTIPLE
from gpubench.bench.micro.plateau import find_plateau

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
PACKET = 16  # bytes per vector access

DRAM_MIN_ARRAY_BYTES = GIB
DRAM_L2_MULTIPLE = 8
# Arrays each DRAM kernel moves, each exactly once per launch.
DRAM_ARRAYS = {"read": 1, "write": 1, "copy": 2, "triad": 3}
TRIAD_SCALAR = 1.5
WRITE_SEED = 0x2545F491

CACHE_SWEEP_START = 8 * KIB
L1_SWEEP_END = 512 * KIB  # the plain-load sweep: 8 KiB to 512 KiB (L1, then the way out of it)
L1_MAX_WS = 64 * KIB  # fits the L1 of every GPU since Volta (128 KiB or more per SM)
L2_MIN_WS = 1 * MIB  # the L1-bypassing sweep starts here; from here to L2/2 is the L2 plateau's range
L2_SWEEP_STEPS = (1.0, 1.5)  # two points per octave: 1, 1.5, 2, 3, 4, 6, ... MiB
DRAM_EXTRA_POINTS = 2  # points after the first at >= 4 x L2, so the DRAM level has three

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
    """The plain-load (L1) sweep: powers of two from `start` to L1_SWEEP_END (its kernel wraps by mask)."""
    if start <= 0 or start & (start - 1):
        raise ValueError("start must be a power of two")
    sizes = [start]
    while sizes[-1] < L1_SWEEP_END:
        sizes.append(sizes[-1] * 2)
    return sizes


def l2_sweep_sizes(l2_bytes: int) -> list[int]:
    """The L1-bypassing sweep: two sizes per octave from L2_MIN_WS to DRAM_EXTRA_POINTS sizes past the
    first one of at least DRAM_POINT_L2_MULTIPLE x L2 (multiples of 32 packets, as the kernel needs)."""
    dram = DRAM_POINT_L2_MULTIPLE * l2_bytes
    sizes, octave = [], L2_MIN_WS
    while sum(s >= dram for s in sizes) <= DRAM_EXTRA_POINTS:
        sizes += [round_up(int(octave * step), 32 * PACKET) for step in L2_SWEEP_STEPS]
        octave *= 2
    first = next(i for i, s in enumerate(sizes) if s >= dram)
    return sizes[: first + 1 + DRAM_EXTRA_POINTS]


def cache_level(ws_bytes: int, l2_bytes: int) -> str:
    """Which level a sweep point measures: l1, l2, dram (>= 4 x L2), or a transition between them."""
    if ws_bytes <= L1_MAX_WS:
        return "l1"
    if L2_MIN_WS <= ws_bytes <= l2_bytes // 2:
        return "l2"
    if ws_bytes >= DRAM_POINT_L2_MULTIPLE * l2_bytes:
        return "dram"
    return "transition"


def cache_iters(target_bytes: int, grid: int, threads: int = THREADS) -> int:
    """Loads per thread (a multiple of 4) so that one launch reads about `target_bytes`."""
    return round_up(max(1, -(-target_bytes // (grid * threads * PACKET))), 4)


def vector_load_bytes(grid: int, threads: int, iters: int) -> int:
    """Bytes read by grid x threads threads doing `iters` 16-byte loads each (cache sweep, smem)."""
    return grid * threads * iters * PACKET


# ---- GPU side -------------------------------------------------------------------------------------


def run_dram(ctx) -> None:
    import numpy as np
    import torch

    array_bytes = dram_array_bytes(ctx.l2_bytes)
    n = array_bytes // 4
    gen = torch.Generator(device=ctx.device).manual_seed(1234)
    x = torch.randn(n, device=ctx.device, generator=gen)
    y = torch.randn(n, device=ctx.device, generator=gen)
    z = torch.randn(n, device=ctx.device, generator=gen)
    kernels = {k: ctx.kernel("memory.cu", f"dram_{k}") for k in DRAM_ARRAYS}
    d = _Dram(ctx, kernels, x, y, z, array_bytes, np.int64(array_bytes // PACKET))
    for step in (d.read, d.write, d.copy, d.triad, d.torch_copy):
        step()


@dataclass
class _Dram:
    """The DRAM figures of one GPU: each kernel checked on its output, then timed cold."""

    ctx: Any
    kernels: dict
    x: Any  # three float32 arrays of `array_bytes` each
    y: Any
    z: Any
    array_bytes: int
    packets: Any  # np.int64: 16-byte packets per array

    def report(self, kind: str, fn, grid: int, method: str) -> None:
        ctx = self.ctx
        timed = ctx.time(fn, "cold")
        moved = dram_bytes(kind, self.array_bytes)
        common = {
            "array_bytes": self.array_bytes,
            "threads": THREADS,
            "l2_bytes": ctx.l2_bytes,
            "access": "16-byte vector loads/stores, grid-stride loop unrolled 4x",
        }
        ctx.add_timed(f"dram_{kind}", moved / timed.median_s / GB, "GB/s", timed, method=method,
                      params={**common, "grid": grid, "bytes": moved})  # fmt: skip

    def read(self) -> None:
        """A real reduction; checked on positive data (|x| in y) so a skipped chunk would show."""
        import torch

        from gpubench.kernels.cuda_loader import launch

        x, y, packets = self.x, self.y, self.packets
        k = self.kernels["read"]
        g = self.ctx.grid(k)
        partials = torch.empty(g, device=self.ctx.device, dtype=torch.float32)
        torch.abs(x, out=y)
        launch(k, (g,), (THREADS,), (y, packets, partials))
        got, want = partials.double().sum().item(), y.double().sum().item()
        if abs(got - want) > 1e-5 * want:
            raise RuntimeError(f"dram_read check failed: kernel sum {got!r}, torch sum {want!r}")
        self.report("read", lambda: launch(k, (g,), (THREADS,), (x, packets, partials)), g,
                    "sum of every float of the array (per-block partial sums written): bytes read / median "
                    "device time")  # fmt: skip

    def write(self) -> None:
        import numpy as np
        import torch

        from gpubench.kernels.cuda_loader import launch

        y, packets = self.y, self.packets
        k = self.kernels["write"]
        g = self.ctx.grid(k)
        seed = np.uint32(WRITE_SEED)
        launch(k, (g,), (THREADS,), (y, packets, seed))
        words = y.view(torch.int32).view(-1, 4)
        for p in (0, 1, int(packets) // 2 + 7, int(packets) - 1):
            got = tuple(int(w) & 0xFFFFFFFF for w in words[p].tolist())
            if got != write_pattern(p):
                raise RuntimeError(f"dram_write check failed at packet {p}: {got} != {write_pattern(p)}")
        how = "fill with a per-packet hash (non-uniform data): bytes written / median device time"
        self.report("write", lambda: launch(k, (g,), (THREADS,), (y, packets, seed)), g, how)

    def copy(self) -> None:
        import torch

        from gpubench.kernels.cuda_loader import launch

        x, y, packets = self.x, self.y, self.packets
        k = self.kernels["copy"]
        g = self.ctx.grid(k)
        launch(k, (g,), (THREADS,), (x, y, packets))
        if not torch.equal(x, y):
            raise RuntimeError("dram_copy check failed: y != x after the copy")
        self.report("copy", lambda: launch(k, (g,), (THREADS,), (x, y, packets)), g,
                    "y = x: (bytes read + bytes written) / median device time")  # fmt: skip

    def triad(self) -> None:
        import numpy as np
        import torch

        from gpubench.kernels.cuda_loader import launch

        x, y, z, packets = self.x, self.y, self.z, self.packets
        k = self.kernels["triad"]
        g = self.ctx.grid(k)
        s = np.float32(TRIAD_SCALAR)
        launch(k, (g,), (THREADS,), (x, y, z, s, packets))
        m = 1 << 20
        torch.testing.assert_close(x[:m], y[:m] + TRIAD_SCALAR * z[:m], msg="dram_triad check failed")
        torch.testing.assert_close(x[-m:], y[-m:] + TRIAD_SCALAR * z[-m:], msg="dram_triad check failed")
        self.report("triad", lambda: launch(k, (g,), (THREADS,), (x, y, z, s, packets)), g,
                    "a = b + s*c: (2 arrays read + 1 written) / median device time")  # fmt: skip

    def torch_copy(self) -> None:
        x, y = self.x, self.y
        timed = self.ctx.time(lambda: y.copy_(x), "cold")
        moved = dram_bytes("copy", self.array_bytes)
        self.ctx.add_timed(
            "dram_copy_torch",
            moved / timed.median_s / GB,
            "GB/s",
            timed,
            method="torch Tensor.copy_ (device to device): (bytes read + bytes written) / median device time",
            params={"array_bytes": self.array_bytes, "bytes": moved},
        )


def _sweep(ctx, name: str, sizes: list[int], buf, masked: bool) -> tuple[list[dict], int, int]:
    """(points, grid, iters) of one sweep kernel: cache_sweep takes the working set as a mask (plain
    loads), cache_sweep_cg as a packet count (ld.global.cg)."""
    import numpy as np
    import torch

    from gpubench.kernels.cuda_loader import launch

    kernel = ctx.kernel("memory.cu", name)
    g = ctx.grid(kernel)
    sink = torch.empty(g * THREADS, device=ctx.device, dtype=torch.int32)
    iters = cache_iters((2 if ctx.quick else 4) * GIB, g, THREADS)
    moved = vector_load_bytes(g, THREADS, iters)
    points = []
    for ws in sizes:
        size_arg = np.uint32(ws // PACKET - 1 if masked else ws // PACKET)
        fn = lambda a=size_arg: launch(  # noqa: E731
            kernel, (g,), (THREADS,), (buf, a, np.int64(iters), np.uint32(SENTINEL_U32), sink)
        )
        timed = ctx.time(fn, "warm")
        level = cache_level(ws, ctx.l2_bytes)
        point = {
            "ws_bytes": ws, "level": level, "gbs": moved / timed.median_s / GB, "time_s": timed.median_s,
            "bytes": moved, "flags": timed.flags, "loads": "ld.global" if masked else "ld.global.cg",
        }  # fmt: skip
        points.append(point)
        ctx.echo(f"  cache sweep {ws / KIB:>9.0f} KiB {point['gbs']:10.1f} GB/s ({level}, {point['loads']})")
    return points, g, iters


def run_cache(ctx) -> None:
    import torch

    l1_sizes, l2_sizes = cache_sweep_sizes(ctx.l2_bytes), l2_sweep_sizes(ctx.l2_bytes)
    gen = torch.Generator(device=ctx.device).manual_seed(99)
    buf = torch.randint(
        -(2**31), 2**31 - 1, (max(l2_sizes) // 4,), device=ctx.device, dtype=torch.int32, generator=gen
    )
    series = {
        "cache_sweep": _sweep(ctx, "cache_sweep", l1_sizes, buf, True),
        "cache_sweep_cg": _sweep(ctx, "cache_sweep_cg", l2_sizes, buf, False),
    }
    ctx.cache_sweep = series["cache_sweep"][0] + series["cache_sweep_cg"][0]
    method = (
        "working-set sweep (warm): every block streams through the whole working set with 16-byte loads, "
        "blocks staggered by ws/grid so a line is re-read after about ws bytes of traffic; bytes loaded / "
        "median device time. The figure is the best point of the level's plateau (bench.micro.plateau: "
        "the longest run of points within 10 % of each other; flagged no_plateau where there is none)"
    )
    for name, level, kernel_name, lo, hi in (
        ("l1_bandwidth", "l1", "cache_sweep", CACHE_SWEEP_START, L1_MAX_WS),
        ("l2_bandwidth", "l2", "cache_sweep_cg", L2_MIN_WS, ctx.l2_bytes // 2),
    ):
        points, g, iters = series[kernel_name]
        found = find_plateau(points, lo, hi)
        if found is None:
            ctx.skip(name, f"fewer than 3 sweep points between {lo} and {hi} bytes")
            continue
        best = max((p for p in points if (p["ws_bytes"], p["gbs"]) in found.points), key=lambda p: p["gbs"])
        loads = "plain loads (L1)" if kernel_name == "cache_sweep" else "ld.global.cg (L1 bypassed)"
        ctx.add(
            name, found.best_gbs, "GB/s", method=f"{method}; {loads}",
            params={"grid": g, "threads": THREADS, "iters_per_thread": iters, "l2_bytes": ctx.l2_bytes,
                    "level": level, "best_ws_bytes": best["ws_bytes"], "plateau": found.to_json(),
                    "points": points},
            flags=sorted(set(best["flags"]) | (set() if found.flat else {"no_plateau"})),
        )  # fmt: skip


def run_smem(ctx) -> None:
    import numpy as np
    import torch

    from gpubench.kernels.cuda_loader import launch

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
