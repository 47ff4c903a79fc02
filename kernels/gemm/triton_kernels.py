"""Triton GEMMs, C = A @ B (A is MxK, B is KxN, row-major), fp32 accumulation, output in C's dtype.

tiled:           one program per BLOCK_M x BLOCK_N tile of C, launched in grouped order: GROUP_M row
                 tiles form a group and the program id walks down a group's rows before moving right,
                 so the programs running at the same time share A row-panels and B column-panels in L2.
                 Ragged edges: rows of A past M re-read row 0 (their results are never stored), B is
                 masked past N, both are masked past K (masked-off elements read as zero), and the
                 store is masked to M x N.
persistent_tma:  Hopper. As many programs as SMs, each looping over tiles in the same grouped order;
                 A, B and C move through TMA tensor descriptors (host-side `TensorDescriptor`s), which
                 zero-fill out-of-bounds reads and clip out-of-bounds writes, so ragged edges need no
                 masks. TMA needs 16-byte aligned row strides (K and N multiples of 16 bytes).

Dots: fp16/bf16 on tensor cores; fp32 data with input_precision "tf32" (tensor cores, 10-bit mantissa
inputs) when TF32 is allowed, else "ieee" (true fp32 on the FMA units).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from gpubench.kernels.gemm import config
from gpubench.kernels.gemm.validate import empty_result, validate
from gpubench.kernels.triton_tiles import HAS_TENSOR_DESCRIPTORS, TensorDescriptor, autotuned
from gpubench.kernels.triton_tiles import tile_coords as _tile_coords


@triton.jit
def _tiled_kernel(
    a_ptr,
    b_ptr,
    c_ptr,
    M,
    N,
    K,
    stride_am,
    stride_bk,
    stride_cm,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid_m, pid_n = _tile_coords(tl.program_id(0), tl.cdiv(M, BLOCK_M), tl.cdiv(N, BLOCK_N), GROUP_M)
    rows = pid_m.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = pid_n.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    # A: rows past the edge re-read row 0 (always in bounds; never stored), so A needs a mask on K only
    # and stays contiguous along K. B: a mask on N rather than a clamp, which would break the contiguity
    # along N that vectorized loads rely on (with N a multiple of 16 the mask is constant per vector).
    rows_in = tl.where(rows < M, rows, 0)
    col_ok = cols < N
    ks = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + rows_in[:, None] * stride_am + ks[None, :]
    b_ptrs = b_ptr + ks[:, None] * stride_bk + cols[None, :]
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):  # K is a plain argument: the interpreter can range over it
        a = tl.load(a_ptrs, mask=ks[None, :] < K - k0, other=0.0)
        b = tl.load(b_ptrs, mask=(ks[:, None] < K - k0) & col_ok[None, :], other=0.0)
        acc = tl.dot(a, b, acc, input_precision=PRECISION)
        a_ptrs += BLOCK_K
        b_ptrs += BLOCK_K * stride_bk
    c_ptrs = c_ptr + rows[:, None] * stride_cm + cols[None, :]
    tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=(rows[:, None] < M) & col_ok[None, :])


@triton.jit
def _persistent_tma_kernel(
    a_desc,
    b_desc,
    c_desc,
    M,
    N,
    K,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
    NUM_PROGRAMS: tl.constexpr,
    PRECISION: tl.constexpr,
):
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    num_tiles = num_pid_m * num_pid_n
    k_tiles = tl.cdiv(K, BLOCK_K)
    # The epilogue recomputes its tile from a counter of its own instead of reusing pid_m/pid_n from the
    # top of the flattened loop: Triton's persistent-matmul tutorial does the same to sidestep a
    # pipelining bug with values used in both the prologue and the epilogue of a flattened loop.
    epilogue_tile = tl.program_id(0) - NUM_PROGRAMS
    for tile_id in tl.range(tl.program_id(0), num_tiles, NUM_PROGRAMS, flatten=True):
        pid_m, pid_n = _tile_coords(tile_id, num_pid_m, num_pid_n, GROUP_M)
        off_m = pid_m * BLOCK_M
        off_n = pid_n * BLOCK_N
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for ki in range(k_tiles):
            a = a_desc.load([off_m, ki * BLOCK_K])  # zero-filled past M and K
            b = b_desc.load([ki * BLOCK_K, off_n])  # zero-filled past K and N
            acc = tl.dot(a, b, acc, input_precision=PRECISION)
        epilogue_tile += NUM_PROGRAMS
        em, en = _tile_coords(epilogue_tile, num_pid_m, num_pid_n, GROUP_M)
        c_desc.store([em * BLOCK_M, en * BLOCK_N], acc.to(c_desc.dtype))  # clipped at M and N


# ---- launchers ----


def _dtype_class(a, allow_tf32: bool) -> tuple[str, str]:
    """(autotune list, dot input precision) for the inputs."""
    if a.dtype == torch.float32:
        return ("tf32", "tf32") if allow_tf32 else ("fp32", "ieee")
    return "half", "tf32"  # the precision argument only matters for fp32 inputs


_TUNED_ON = ("M", "N", "K", "PRECISION")


def matmul_tiled(a: torch.Tensor, b: torch.Tensor, allow_tf32: bool = False) -> torch.Tensor:
    """C = A @ B with the grouped, autotuned tiled kernel."""
    M, N, K = validate(a, b, allow_tf32)
    early = empty_result(a, M, N, K)
    if early is not None:
        return early
    c = torch.empty((M, N), dtype=a.dtype, device=a.device)
    dtype_class, precision = _dtype_class(a, allow_tf32)
    tiles = config.pick(config.triton_lists(a.device), dtype_class)
    args = (a, b, c, M, N, K, a.stride(0), b.stride(0), c.stride(0))
    if a.device.type != "cuda":  # the interpreter: one config, no autotuning (it would time on a GPU)
        t = tiles[0]
        grid = (triton.cdiv(M, t.block_m) * triton.cdiv(N, t.block_n),)
        _tiled_kernel[grid](*args, PRECISION=precision, **t.launch_kwargs())
        return c

    def grid(meta):
        return (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]),)

    with torch.cuda.device(a.device):
        autotuned(_tiled_kernel, tiles, _TUNED_ON)[grid](*args, PRECISION=precision)
    return c


def tma_alignment_problem(K: int, N: int, itemsize: int) -> str | None:
    """Why TMA descriptors cannot describe row-major A (M x K), B (K x N) and C (M x N), or None."""
    bad = [name for name, n in (("K", K), ("N", N)) if (n * itemsize) % 16]
    if bad:
        per = 16 // itemsize
        return (
            f"TMA needs 16-byte aligned row strides: {' and '.join(bad)} must be multiples of {per} "
            f"for {itemsize}-byte elements"
        )
    return None


def _set_block_shapes(nargs) -> None:
    """Autotune pre-hook: the descriptors' block shapes follow the config being run."""
    bm, bn, bk = nargs["BLOCK_M"], nargs["BLOCK_N"], nargs["BLOCK_K"]
    nargs["a_desc"].block_shape = [bm, bk]
    nargs["b_desc"].block_shape = [bk, bn]
    nargs["c_desc"].block_shape = [bm, bn]


def matmul_persistent_tma(a: torch.Tensor, b: torch.Tensor, allow_tf32: bool = False) -> torch.Tensor:
    """C = A @ B with the persistent TMA kernel (Hopper; also runs in the interpreter)."""
    if not HAS_TENSOR_DESCRIPTORS:
        raise RuntimeError(
            f"triton {triton.__version__} has no tensor descriptors (triton.tools.tensor_descriptor)"
        )
    M, N, K = validate(a, b, allow_tf32)
    problem = tma_alignment_problem(K, N, a.element_size())
    if problem:
        raise ValueError(problem)
    for name, t in (("a", a), ("b", b)):
        if t.data_ptr() % 16:
            raise ValueError(f"{name} must start at a 16-byte aligned address for TMA")
    early = empty_result(a, M, N, K)
    if early is not None:
        return early
    c = torch.empty((M, N), dtype=a.dtype, device=a.device)
    dtype_class, precision = _dtype_class(a, allow_tf32)
    tiles = config.pick(config.tma_lists(a.device), dtype_class)
    t0 = tiles[0]
    a_desc = TensorDescriptor.from_tensor(a, [t0.block_m, t0.block_k])
    b_desc = TensorDescriptor.from_tensor(b, [t0.block_k, t0.block_n])
    c_desc = TensorDescriptor.from_tensor(c, [t0.block_m, t0.block_n])
    if a.device.type != "cuda":
        programs = 4  # a few "SMs", so the interpreter exercises the persistent loop
        grid = (min(programs, triton.cdiv(M, t0.block_m) * triton.cdiv(N, t0.block_n)),)
        _persistent_tma_kernel[grid](
            a_desc, b_desc, c_desc, M, N, K, NUM_PROGRAMS=programs, PRECISION=precision, **t0.launch_kwargs()
        )
        return c
    programs = torch.cuda.get_device_properties(a.device).multi_processor_count

    def grid(meta):
        return (min(programs, triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"])),)

    with torch.cuda.device(a.device):
        autotuned(_persistent_tma_kernel, tiles, _TUNED_ON, _set_block_shapes)[grid](
            a_desc, b_desc, c_desc, M, N, K, NUM_PROGRAMS=programs, PRECISION=precision
        )
    return c
