"""Dataflow-aware DRAM traffic of a tiled GEMM, and the roofline bound it implies (pure Python).

C = A @ B with A MxK, B KxN, C MxN. The GEMM is cut into tiles: Tm x Tk tiles of A, Tk x Tn tiles of B,
Tm x Tn tiles of C. Write mt = ceil(M / Tm), nt = ceil(N / Tn), kt = ceil(K / Tk) for the tile counts.
Edge tiles are partial and move only their real elements (zero padding is made on chip, not read).

Assumption (stated once, used everywhere): NO CACHE REUSE BEYOND THE TILE. The on-chip storage holds
the tiles of the current step and nothing else; whatever is needed again later comes from DRAM again.
Real GPUs also have an L2 that catches some of those re-reads (grouped launch orders are designed for
it): `grouped_l2_traffic` gives the optimistic other end, where L2 holds a whole group's panels.

Dataflows (which operand stays on chip while the others stream):

output_stationary (C-stationary): a Tm x Tn tile of C stays in registers for the whole K loop while
    the A row-panel (Tm x K) and the B column-panel (K x Tn) stream through. Each C tile reads its
    A row-panel once, and there are nt C tiles in every tile row, so A is read nt times; likewise B is
    read mt times; C is written once and never read.
        A = nt * M*K * s,   B = mt * K*N * s,   C = M*N * s_out

a_stationary: a Tm x Tk tile of A is loaded once and stays while the B tiles of its K block,
    B[k-block, j] for j = 0 .. nt-1, stream past it; each contributes A[i,k] @ B[k,j] to the C tile
    (i, j). A is read exactly once. For a fixed A tile, the whole Tk x N strip of B streams, and there
    are mt A tiles per K block, so B is read mt times. C: the K sum of each output is split across the
    kt K blocks, and with no room on chip beyond the current tiles, every C tile's partial sum goes to
    DRAM between K blocks. Processing the K blocks of tile row i in order k = 0 .. kt-1, the first
    block writes the partial sum (nothing to read yet), each later block reads it back and writes it
    again, and the last write is the final C. So each C element is written kt times and read kt - 1
    times: kt - 1 round trips of a partial sum held in the accumulator precision (`acc_bytes`, fp32)
    plus the final write in the output precision:
        A = M*K * s,   B = mt * K*N * s,   C = M*N * ((kt - 1) * 2 * acc_bytes + s_out)
    With K <= Tk (kt = 1) there are no partial sums and C is written once, as in output_stationary.

b_stationary: the mirror image: a Tk x Tn tile of B stays while A[i, k-block] for i = 0 .. mt-1
    streams past it. B is read once, A nt times, C as above:
        A = nt * M*K * s,   B = K*N * s,   C = M*N * ((kt - 1) * 2 * acc_bytes + s_out)

Here s is the input element size (`dtype_bytes`) and s_out the output's (the same for this suite's
GEMMs: fp16/bf16 in and out, fp32 in and out for fp32/tf32).

Arithmetic intensity = 2*M*N*K / total bytes (FLOP per DRAM byte). The roofline bound of a kernel
with that traffic is max(flops / peak, bytes / bandwidth); both ceilings are plain arguments
(peak in TFLOP/s, bandwidth in GB/s, 1 GB = 1e9 bytes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

DATAFLOWS = ("output_stationary", "a_stationary", "b_stationary")
ACC_BYTES = 4  # partial sums spilled between K blocks are kept in fp32


@dataclass(frozen=True)
class TileTraffic:
    """DRAM bytes a tiled GEMM moves under one dataflow, per operand and in total."""

    dataflow: str
    a_bytes: int
    b_bytes: int
    c_bytes: int
    bytes: int
    intensity: float  # FLOP per DRAM byte
    flops: int
    M: int
    N: int
    K: int
    tm: int
    tn: int
    tk: int
    a_reads: int  # how many times A is read in full
    b_reads: int
    c_reads: int  # partial-sum read-backs of every C element (0 for output_stationary)
    c_writes: int  # writes of every C element (partial sums included)

    def as_dict(self) -> dict:
        return asdict(self)


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def tile_traffic(
    M: int,
    N: int,
    K: int,
    tm: int,
    tn: int,
    tk: int,
    dtype_bytes: int,
    dataflow: str,
    *,
    out_bytes: int | None = None,
    acc_bytes: int = ACC_BYTES,
) -> TileTraffic:
    """DRAM traffic of an M x N x K GEMM cut into (tm, tn, tk) tiles under `dataflow` (see module doc).

    `dtype_bytes` is the size of an A/B element; `out_bytes` that of C (default: the same);
    `acc_bytes` that of the partial sums the a/b-stationary dataflows spill (default: fp32).
    """
    for name, v in (("M", M), ("N", N), ("K", K), ("tm", tm), ("tn", tn), ("tk", tk)):
        _positive_int(name, v)
    _positive_int("dtype_bytes", dtype_bytes)
    out_bytes = dtype_bytes if out_bytes is None else _positive_int("out_bytes", out_bytes)
    _positive_int("acc_bytes", acc_bytes)
    if dataflow not in DATAFLOWS:
        raise ValueError(f"unknown dataflow {dataflow!r}; expected one of {', '.join(DATAFLOWS)}")

    a_reads, b_reads, c_reads, c_writes = _passes(dataflow, _cdiv(M, tm), _cdiv(N, tn), _cdiv(K, tk))
    if dataflow == "output_stationary":
        c_bytes = M * N * out_bytes
    else:  # c_reads partial sums written and read back (accumulator precision), then the final C
        c_bytes = M * N * (c_reads * 2 * acc_bytes + out_bytes)
    a_bytes = a_reads * M * K * dtype_bytes
    b_bytes = b_reads * K * N * dtype_bytes
    total = a_bytes + b_bytes + c_bytes
    flops = 2 * M * N * K
    return TileTraffic(
        dataflow=dataflow, a_bytes=a_bytes, b_bytes=b_bytes, c_bytes=c_bytes, bytes=total,
        intensity=flops / total, flops=flops, M=M, N=N, K=K, tm=tm, tn=tn, tk=tk,
        a_reads=a_reads, b_reads=b_reads, c_reads=c_reads, c_writes=c_writes,
    )  # fmt: skip


def _passes(dataflow: str, mt: int, nt: int, kt: int) -> tuple[int, int, int, int]:
    """(reads of A, reads of B, reads of C's partial sums, writes of C) for mt x nt x kt tiles."""
    if dataflow == "output_stationary":
        return nt, mt, 0, 1
    a_reads, b_reads = (1, mt) if dataflow == "a_stationary" else (nt, 1)
    return a_reads, b_reads, kt - 1, kt


def all_dataflows(
    M: int,
    N: int,
    K: int,
    tm: int,
    tn: int,
    tk: int,
    dtype_bytes: int,
    *,
    out_bytes: int | None = None,
    acc_bytes: int = ACC_BYTES,
) -> list[TileTraffic]:
    """`tile_traffic` for every dataflow, in the order of DATAFLOWS."""
    return [
        tile_traffic(M, N, K, tm, tn, tk, dtype_bytes, d, out_bytes=out_bytes, acc_bytes=acc_bytes)
        for d in DATAFLOWS
    ]


def compulsory_bytes(M: int, N: int, K: int, dtype_bytes: int, out_bytes: int | None = None) -> int:
    """Each input read once, C written once: the floor every dataflow stays above."""
    out_bytes = dtype_bytes if out_bytes is None else out_bytes
    return (M * K + K * N) * dtype_bytes + M * N * out_bytes


def grouped_l2_traffic(
    M: int, N: int, K: int, tm: int, tn: int, tk: int, dtype_bytes: int, group_m: int
) -> TileTraffic:
    """Output-stationary traffic when L2 serves the re-reads inside a launch group (optimistic bound).

    Grouped order: tiles are launched group by group, a group being `group_m` tile rows walked column
    by column. If L2 keeps the group's `group_m` A row-panels for the whole group and each B column-panel
    while the group's tiles in that column run, then from DRAM each A panel is read once (A once in
    total) and each B column-panel once per group: B is read ceil(mt / group_m) times. Whether L2 is
    big enough is not checked here: it needs about group_m * tm * K * dtype_bytes for the A panels.
    """
    _positive_int("group_m", group_m)
    base = tile_traffic(M, N, K, tm, tn, tk, dtype_bytes, "output_stationary")
    b_reads = _cdiv(_cdiv(M, tm), group_m)
    a_bytes = M * K * dtype_bytes
    b_bytes = b_reads * K * N * dtype_bytes
    total = a_bytes + b_bytes + base.c_bytes
    return TileTraffic(
        **{
            **base.as_dict(),
            "dataflow": "output_stationary_grouped_l2",
            "a_bytes": a_bytes,
            "b_bytes": b_bytes,
            "bytes": total,
            "intensity": base.flops / total,
            "a_reads": 1,
            "b_reads": b_reads,
        }
    )


def bound_time_s(traffic: TileTraffic, flops: int | float, bandwidth_gbs: float, peak_tflops: float) -> float:
    """Roofline lower bound on the run time: max(compute time at peak, DRAM time at bandwidth)."""
    if not bandwidth_gbs > 0:
        raise ValueError(f"bandwidth_gbs must be positive, got {bandwidth_gbs}")
    if not peak_tflops > 0:
        raise ValueError(f"peak_tflops must be positive, got {peak_tflops}")
    if flops < 0:
        raise ValueError(f"flops must be >= 0, got {flops}")
    return max(flops / (peak_tflops * 1e12), traffic.bytes / (bandwidth_gbs * 1e9))


def bound_kind(traffic: TileTraffic, flops: int | float, bandwidth_gbs: float, peak_tflops: float) -> str:
    """'memory' or 'compute': which ceiling sets `bound_time_s`."""
    compute = flops / (peak_tflops * 1e12)
    memory = traffic.bytes / (bandwidth_gbs * 1e9)
    return "memory" if memory >= compute else "compute"
