"""Triton scaled GEMMs for fp8 e4m3 and int8: out = (a * a_scale) @ (b * b_scale).T.

a is [M, K] and b is [N, K], both row-major (K-contiguous: the layout fp8 wgmma wants for both operands);
scales are fp32, one for the tensor or one per row of a (per token) / of b (per output column). The dot
accumulates in int32 (int8: exact) or fp32 (fp8: e4m3 products are exact in fp32; see _dot for Hopper);
the epilogue converts to fp32, applies both scales and rounds once to fp16/bf16. int8 may also return
the raw int32 accumulator (out_dtype=torch.int32, scales not applied), which the tests compare exactly.

tiled:           one program per BLOCK_M x BLOCK_N tile, grouped launch order (kernels/gemm's scheme);
                 rows past M and columns past N re-read row 0 (never stored), K is masked. For M <= 16
                 (memory-bound: a few output tiles would leave most SMs idle) the K range of each tile
                 is split over SPLIT_K programs that store their raw accumulators (int32: still exact),
                 and _sum_splits_kernel adds them, applies the scales and rounds once.
persistent_tma:  Hopper: one program per SM looping over tiles; a and b through TMA descriptors (zero
                 fill past the edges), which need 16-byte aligned rows (K a multiple of 16). The scales
                 are loaded with masked pointers and the output stored the same way.
"""

from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl

from gpubench.kernels.checks import require_tensor
from gpubench.kernels.qmatmul import config
from gpubench.kernels.qmatmul import validate as _validate
from gpubench.kernels.qmatmul.choose import best
from gpubench.kernels.tiles import Tile
from gpubench.kernels.triton_tiles import HAS_TENSOR_DESCRIPTORS, TensorDescriptor, autotuned
from gpubench.kernels.triton_tiles import tile_coords as _tile_coords


@triton.jit
def _dot(a, b, acc, ACC_INT: tl.constexpr, BLOCK_K: tl.constexpr):
    """acc += a @ b: int32 for int8 (exact); fp32 for fp8, promoted once per K tile. Hopper's tensor cores
    sum fp8 products at reduced precision, and Triton's sm_90 default never promotes
    (max_num_imprecise_acc 2^30); one fp32 add per BLOCK_K keeps the sum within an output ulp."""
    # One return after an if/else: Triton compiles every statement after an early return inside an
    # `if` on a constexpr as well, so the fp8 dot below would be built for int8 operands and fail.
    if ACC_INT:
        acc = tl.dot(a, b, acc, out_dtype=tl.int32)
    else:
        acc = tl.dot(a, b, acc, max_num_imprecise_acc=BLOCK_K, out_dtype=tl.float32)
    return acc


@triton.jit
def _epilogue(acc, sa_ptr, sb_ptr, rows, cols, M, N, A_ROWS: tl.constexpr, B_ROWS: tl.constexpr):
    """fp32 accumulator times the row scale of a and the column scale of b."""
    out = acc.to(tl.float32)
    if A_ROWS:
        sa = tl.load(sa_ptr + rows, mask=rows < M, other=1.0)
        out = out * sa[:, None]
    else:
        out = out * tl.load(sa_ptr)
    if B_ROWS:
        sb = tl.load(sb_ptr + cols, mask=cols < N, other=1.0)
        out = out * sb[None, :]
    else:
        out = out * tl.load(sb_ptr)
    return out


@triton.jit
def _tiled_kernel(
    a_ptr, b_ptr, c_ptr, sa_ptr, sb_ptr, M, N, K, stride_am, stride_bn, stride_cm, k_per_split,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
    A_ROWS: tl.constexpr, B_ROWS: tl.constexpr, RAW: tl.constexpr, ACC_INT: tl.constexpr,
    SPLIT: tl.constexpr,
):  # fmt: skip
    """Output tile program_id(0) over the K range program_id(1) (k_per_split wide, a multiple of
    BLOCK_K); SPLIT: the raw accumulator goes to slice program_id(1) of c [splits, M, N]."""
    pid_m, pid_n = _tile_coords(tl.program_id(0), tl.cdiv(M, BLOCK_M), tl.cdiv(N, BLOCK_N), GROUP_M)
    rows = pid_m.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = pid_n.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    rows_in = tl.where(rows < M, rows, 0)
    cols_in = tl.where(cols < N, cols, 0)
    k_start = tl.program_id(1) * k_per_split
    k_end = tl.minimum(k_start + k_per_split, K)
    ks = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + rows_in[:, None] * stride_am + (k_start + ks)[None, :]
    b_ptrs = b_ptr + cols_in[None, :] * stride_bn + (k_start + ks)[:, None]  # [BLOCK_K, BLOCK_N] of b [N, K]
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.int32 if ACC_INT else tl.float32)
    for k0 in range(k_start, k_end, BLOCK_K):
        a = tl.load(a_ptrs, mask=ks[None, :] < k_end - k0, other=0.0)
        b = tl.load(b_ptrs, mask=ks[:, None] < k_end - k0, other=0.0)
        acc = _dot(a, b, acc, ACC_INT, BLOCK_K)
        a_ptrs += BLOCK_K
        b_ptrs += BLOCK_K
    c_ptrs = c_ptr + rows[:, None] * stride_cm + cols[None, :]
    mask = (rows[:, None] < M) & (cols[None, :] < N)
    if SPLIT:
        tl.store(c_ptrs + tl.program_id(1).to(tl.int64) * M * N, acc, mask=mask)
    elif RAW:
        tl.store(c_ptrs, acc, mask=mask)
    else:
        out = _epilogue(acc, sa_ptr, sb_ptr, rows, cols, M, N, A_ROWS, B_ROWS)
        tl.store(c_ptrs, out.to(c_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _sum_splits_kernel(
    part_ptr, c_ptr, sa_ptr, sb_ptr, M, N, SPLITS: tl.constexpr, BLOCK_N: tl.constexpr,
    A_ROWS: tl.constexpr, B_ROWS: tl.constexpr, RAW: tl.constexpr,
):  # fmt: skip
    """Row program_id(0), columns block program_id(1): the sum of the SPLITS raw partial accumulators
    [SPLITS, M, N] (int32 or fp32), then the scaling epilogue (not for RAW) and one rounding."""
    rows = tl.program_id(0).to(tl.int64) + tl.arange(0, 1)
    cols = tl.program_id(1).to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    offs = rows[:, None] * N + cols[None, :]
    mask = cols[None, :] < N
    acc = tl.load(part_ptr + offs, mask=mask, other=0)
    for s in range(1, SPLITS):
        acc += tl.load(part_ptr + s * M * N + offs, mask=mask, other=0)
    if RAW:
        tl.store(c_ptr + offs, acc, mask=mask)
    else:
        out = _epilogue(acc, sa_ptr, sb_ptr, rows, cols, M, N, A_ROWS, B_ROWS)
        tl.store(c_ptr + offs, out.to(c_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _persistent_tma_kernel(
    a_desc, b_desc, c_ptr, sa_ptr, sb_ptr, M, N, K, stride_cm,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
    NUM_PROGRAMS: tl.constexpr, A_ROWS: tl.constexpr, B_ROWS: tl.constexpr, RAW: tl.constexpr,
    ACC_INT: tl.constexpr,
):  # fmt: skip
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    k_tiles = tl.cdiv(K, BLOCK_K)
    # The epilogue recomputes its tile from its own counter (Triton's persistent-matmul tutorial does
    # the same to sidestep a pipelining issue with values shared by a flattened loop's prologue/epilogue).
    epilogue_tile = tl.program_id(0) - NUM_PROGRAMS
    for tile_id in tl.range(tl.program_id(0), num_pid_m * num_pid_n, NUM_PROGRAMS, flatten=True):
        pid_m, pid_n = _tile_coords(tile_id, num_pid_m, num_pid_n, GROUP_M)
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.int32 if ACC_INT else tl.float32)
        for ki in range(k_tiles):
            a = a_desc.load([pid_m * BLOCK_M, ki * BLOCK_K])  # zero-filled past M and K
            b = b_desc.load([pid_n * BLOCK_N, ki * BLOCK_K])  # [BLOCK_N, BLOCK_K], zero-filled past N, K
            acc = _dot(a, b.T, acc, ACC_INT, BLOCK_K)
        epilogue_tile += NUM_PROGRAMS
        em, en = _tile_coords(epilogue_tile, num_pid_m, num_pid_n, GROUP_M)
        rows = em.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
        cols = en.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
        c_ptrs = c_ptr + rows[:, None] * stride_cm + cols[None, :]
        mask = (rows[:, None] < M) & (cols[None, :] < N)
        if RAW:
            tl.store(c_ptrs, acc, mask=mask)
        else:
            out = _epilogue(acc, sa_ptr, sb_ptr, rows, cols, M, N, A_ROWS, B_ROWS)
            tl.store(c_ptrs, out.to(c_ptr.dtype.element_ty), mask=mask)


# ---- launchers ----


# What an autotuned launch is tuned on: the sizes and the constexprs that change the compiled kernel.
_TUNED_ON = ("M", "N", "K", "A_ROWS", "B_ROWS", "RAW", "ACC_INT", "SPLIT")


def _operand(a) -> str:
    """The config's name of the operand format (after _prepare has checked the dtype)."""
    return "int8" if a.dtype == torch.int8 else "fp8"


def _prepare(a, a_scale, b, b_scale, out_dtype):
    require_tensor("a", a)
    operand_dtype = a.dtype
    if operand_dtype not in (torch.int8, torch.float8_e4m3fn):
        name = str(operand_dtype).replace("torch.", "")
        raise TypeError(f"a has dtype {name}; supported: int8, float8_e4m3fn")
    s = _validate.scaled(a, a_scale, b, b_scale, out_dtype, operand_dtype)
    early = _validate.empty_result(s.M, s.N, s.K, out_dtype, a.device)
    flags = {
        "A_ROWS": s.a_rows,
        "B_ROWS": s.b_rows,
        "RAW": out_dtype == torch.int32,
        "ACC_INT": operand_dtype == torch.int8,
    }
    return s, early, flags


SUM_BLOCK_N = 1024  # output columns per program of the split-K sum


def split_plan(t: Tile, K: int) -> tuple[int, int]:
    """(K per split, splits) of tile `t`: whole K tiles per split, no empty splits."""
    k_per_split = triton.cdiv(triton.cdiv(K, t.block_k), t.split_k) * t.block_k
    return k_per_split, triton.cdiv(K, k_per_split)


def _launch_splitk(a, a_scale, b, b_scale, s, flags, out_dtype, t: Tile):
    """One split-K launch of tile `t` and the sum of its partial accumulators."""
    k_per_split, splits = split_plan(t, s.K)
    acc_dtype = torch.int32 if flags["ACC_INT"] else torch.float32
    part = torch.empty((splits, s.M, s.N), dtype=acc_dtype, device=a.device)
    grid = (triton.cdiv(s.M, t.block_m) * triton.cdiv(s.N, t.block_n), splits)
    _tiled_kernel[grid](
        a, b, part, a_scale, b_scale, s.M, s.N, s.K, a.stride(0), b.stride(0), s.N, k_per_split, **flags,
        **t.meta(), SPLIT=True, num_warps=t.num_warps, num_stages=t.num_stages,
    )  # fmt: skip
    c = torch.empty((s.M, s.N), dtype=out_dtype, device=a.device)
    _sum_splits_kernel[(s.M, triton.cdiv(s.N, SUM_BLOCK_N))](
        part, c, a_scale, b_scale, s.M, s.N, SPLITS=splits, BLOCK_N=SUM_BLOCK_N, A_ROWS=flags["A_ROWS"],
        B_ROWS=flags["B_ROWS"], RAW=flags["RAW"],
    )  # fmt: skip
    return c


def scaled_matmul(a, a_scale, b, b_scale, out_dtype=torch.bfloat16):
    """(a * a_scale) @ (b * b_scale).T with the tiled kernel; operands int8 or float8_e4m3fn. For
    M <= config.SCALED_SPLITK_MAX_M the split-K schedule, timed once per shape among its tiles."""
    s, early, flags = _prepare(a, a_scale, b, b_scale, out_dtype)
    if early is not None:
        return early
    on_gpu = a.device.type == "cuda"
    if s.M <= config.SCALED_SPLITK_MAX_M:
        tiles = config.scaled_splitk_tiles(a.device, _operand(a))
        key = ("scaled", s.M, s.N, s.K, a.dtype, out_dtype, s.a_rows, s.b_rows, a.device)
        with torch.cuda.device(a.device) if on_gpu else contextlib.nullcontext():
            launch = lambda t: _launch_splitk(a, a_scale, b, b_scale, s, flags, out_dtype, t)  # noqa: E731
            return best(launch, tiles, key, on_gpu)
    c = torch.empty((s.M, s.N), dtype=out_dtype, device=a.device)
    args = (a, b, c, a_scale, b_scale, s.M, s.N, s.K, a.stride(0), b.stride(0), c.stride(0), s.K)
    tiles = config.scaled_tiles(a.device, _operand(a))
    if not on_gpu:  # the interpreter: one config, no autotuning
        t = tiles[0]
        grid = (triton.cdiv(s.M, t.block_m) * triton.cdiv(s.N, t.block_n), 1)
        _tiled_kernel[grid](*args, **flags, **t.launch_kwargs(), SPLIT=False)
        return c

    def grid(meta):
        return (triton.cdiv(s.M, meta["BLOCK_M"]) * triton.cdiv(s.N, meta["BLOCK_N"]), 1)

    with torch.cuda.device(a.device):
        autotuned(_tiled_kernel, tiles, _TUNED_ON)[grid](*args, **flags, SPLIT=False)
    return c


def tma_problem(K: int, a=None, b=None) -> str | None:
    """Why TMA descriptors cannot describe 1-byte a [M, K] and b [N, K] (or None)."""
    if K % 16:
        return f"TMA needs 16-byte aligned rows: K must be a multiple of 16 for 1-byte operands, got K={K}"
    for name, t in (("a", a), ("b", b)):
        if t is not None and t.data_ptr() % 16:
            return f"{name} must start at a 16-byte aligned address for TMA"
    return None


def _set_block_shapes(nargs) -> None:
    """Autotune pre-hook: the descriptors' block shapes follow the config being run."""
    nargs["a_desc"].block_shape = [nargs["BLOCK_M"], nargs["BLOCK_K"]]
    nargs["b_desc"].block_shape = [nargs["BLOCK_N"], nargs["BLOCK_K"]]


def scaled_matmul_tma(a, a_scale, b, b_scale, out_dtype=torch.bfloat16):
    """As scaled_matmul, with the persistent TMA kernel (Hopper; also runs in the interpreter)."""
    if not HAS_TENSOR_DESCRIPTORS:
        raise RuntimeError(f"triton {triton.__version__} has no tensor descriptors")
    s, early, flags = _prepare(a, a_scale, b, b_scale, out_dtype)
    problem = tma_problem(s.K, a, b)
    if problem:
        raise ValueError(problem)
    if early is not None:
        return early
    c = torch.empty((s.M, s.N), dtype=out_dtype, device=a.device)
    tiles = config.scaled_tma_tiles(a.device, _operand(a))
    t0 = tiles[0]
    a_desc = TensorDescriptor.from_tensor(a, [t0.block_m, t0.block_k])
    b_desc = TensorDescriptor.from_tensor(b, [t0.block_n, t0.block_k])
    args = (a_desc, b_desc, c, a_scale, b_scale, s.M, s.N, s.K, c.stride(0))
    tiles_total = triton.cdiv(s.M, t0.block_m) * triton.cdiv(s.N, t0.block_n)
    if a.device.type != "cuda":
        programs = 4  # a few "SMs", so the interpreter exercises the persistent loop
        _persistent_tma_kernel[(min(programs, tiles_total),)](
            *args, NUM_PROGRAMS=programs, **flags, **t0.meta(), num_warps=t0.num_warps, num_stages=1
        )
        return c
    programs = torch.cuda.get_device_properties(a.device).multi_processor_count

    def grid(meta):
        return (min(programs, triton.cdiv(s.M, meta["BLOCK_M"]) * triton.cdiv(s.N, meta["BLOCK_N"])),)

    with torch.cuda.device(a.device):
        autotuned(_persistent_tma_kernel, tiles, _TUNED_ON, _set_block_shapes)[grid](
            *args, NUM_PROGRAMS=programs, **flags
        )
    return c
