"""The compile gate: every Triton kernel of the suite, with every config its per-architecture table or
autotune list holds and every operand dtype its launcher takes, compiled ahead of time for sm_90 and
sm_80 with this machine's Triton (tests/support/aot.py): it compiles, does not spill, fits shared memory, and
uses the instructions it is meant to (wgmma and TMA on Hopper where the config says so, mma.sync on
Ampere, vector loads where the data is aligned). The interpreter checks numerics; this checks that the
GPU can run the kernel. Each family declares its builds below; equal builds compile once."""

from __future__ import annotations

import os

import pytest

from gpubench import dtypes
from tests.support import aot

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.path.exists(aot.cuobjdump()), reason=aot.NO_TOOLS)]

ARCHS = ((90, 9), (80, 8))  # (GPUTarget arch, compute-capability major of the config table)
ELEMENTWISE_DTYPES = ("fp32", "fp16", "bf16")


def tensor_cores(arch: int, block_m: int) -> tuple[str, ...]:
    """The MMA instructions a dot of BLOCK_M rows compiles to: Hopper's wgmma works on 64-row warpgroup
    tiles, so 16- and 32-row dots take mma.sync there as on Ampere and Ada."""
    return ("wgmma",) if arch == 90 and block_m >= 64 else ("mma",)


def _vector_add():
    from gpubench.kernels.vector_add import config
    from gpubench.kernels.vector_add import triton_kernels as tk

    for arch, major in ARCHS:
        for cfg in (config.for_arch(major), config.slow_config()):
            for dt in ELEMENTWISE_DTYPES:
                types = {n: f"*{dt}" for n in ("x_ptr", "y_ptr", "out_ptr")}
                yield aot.build(
                    tk._add_kernel,
                    arch,
                    types,
                    {"BLOCK": cfg.triton_block},
                    cfg.triton_warps,
                    expect=("vector_load",),
                    forbid=("scalar_load",),
                )


def _window_sum():
    from gpubench.kernels.window_sum import config
    from gpubench.kernels.window_sum import triton_kernels as tk

    for arch, major in ARCHS:
        cfg = config.for_arch(major)
        for dt in ELEMENTWISE_DTYPES:
            types = {"x_ptr": f"*{dt}", "out_ptr": f"*{dt}"}
            # radius and window are any integers: the naive kernel's shifted loads cannot be aligned.
            yield aot.build(
                tk._naive_kernel,
                arch,
                types,
                {"BLOCK": cfg.triton_naive_block},
                cfg.triton_warps,
                unaligned=("radius", "window"),
            )
            # Every offset and remainder is any integer; the loads must be 16-byte vectors all the same.
            for launch in tk.blocked_launches(cfg, int(dtypes.itemsize(dt))):
                yield aot.build(
                    tk._blocked_kernel,
                    arch,
                    types,
                    launch,
                    cfg.triton_warps,
                    unaligned=("a_vecs", "a_shift", "b_vecs", "b_shift", "m_vecs", "m_shift", "middle"),
                    expect=("vector_load",),
                    forbid=("scalar_load",),
                )


def _gemm():
    from gpubench.kernels.gemm import config
    from gpubench.kernels.gemm import triton_kernels as tk

    # (autotune list, operand dtype, input precision, whether the dots run on tensor cores)
    classes = (
        ("half", "bf16", "tf32", True),
        ("half", "fp16", "tf32", True),
        ("tf32", "fp32", "tf32", True),
        ("fp32", "fp32", "ieee", False),
    )
    for arch, major in ARCHS:
        for cls, dt, prec, tc in classes:
            for t in config.pick(config.triton_lists_for(major), cls):
                on, off = (tensor_cores(arch, t.block_m), ()) if tc else ((), ("wgmma", "mma"))
                const = {
                    "BLOCK_M": t.block_m,
                    "BLOCK_N": t.block_n,
                    "BLOCK_K": t.block_k,
                    "GROUP_M": t.group_m,
                    "PRECISION": prec,
                }
                types = {n: f"*{dt}" for n in ("a_ptr", "b_ptr", "c_ptr")}
                yield aot.build(
                    tk._tiled_kernel, arch, types, const, t.num_warps, t.num_stages, expect=on, forbid=off
                )
            if arch != 90:
                continue
            for t in config.pick(config.tma_lists_for(major), cls):
                on, off = (tensor_cores(arch, t.block_m), ()) if tc else ((), ("wgmma", "mma"))
                bm, bn, bk = t.block_m, t.block_n, t.block_k
                types = {
                    "a_desc": f"tensordesc<{dt}[{bm}, {bk}]>",
                    "b_desc": f"tensordesc<{dt}[{bk}, {bn}]>",
                    "c_desc": f"tensordesc<{dt}[{bm}, {bn}]>",
                }
                const = {
                    "BLOCK_M": bm,
                    "BLOCK_N": bn,
                    "BLOCK_K": bk,
                    "GROUP_M": t.group_m,
                    "NUM_PROGRAMS": 132,
                    "PRECISION": prec,
                }
                yield aot.build(
                    tk._persistent_tma_kernel,
                    arch,
                    types,
                    const,
                    t.num_warps,
                    t.num_stages,
                    expect=("tma", *on),
                    forbid=off,
                )


def _softmax_spill_allowed(arch: int, dtype: str, block: int) -> int:
    """The allow-list. One-column rows (BLOCK 1, 8192 rows a program, 16 warps) in fp16 on sm_90: Triton
    3.6's ptxas holds the kernel to 64 registers and spills one 8-byte value (one STL and one LDL in the
    SASS, outside the row loop). A softmax over one column is all ones: not a shape worth a config of
    its own."""
    return 8 if (arch, dtype, block) == (90, "fp16", 1) else 0


def _softmax():
    from gpubench.kernels.softmax import config
    from gpubench.kernels.softmax import triton_kernels as tk

    cols = [2**k for k in range(0, 17)] + [70000]  # every BLOCK the single pass can take, and the online form
    for arch, major in ARCHS:
        cfg = config.for_arch(major)
        plans = {tuple(sorted(tk.plan(c, cfg).items())) for c in cols}
        for p in map(dict, sorted(plans)):
            for dt in ELEMENTWISE_DTYPES:
                types = {"x_ptr": f"*{dt}", "out_ptr": f"*{dt}"}
                if p["path"] == "single":
                    yield aot.build(
                        tk._softmax_single_kernel,
                        arch,
                        types,
                        {"ROWS": p["ROWS"], "BLOCK": p["BLOCK"]},
                        p["num_warps"],
                        unaligned=("n_rows", "n_cols"),
                        spill_allowed=_softmax_spill_allowed(arch, dt, p["BLOCK"]),
                    )
                else:
                    yield aot.build(
                        tk._softmax_online_kernel,
                        arch,
                        types,
                        {"CHUNK": p["CHUNK"]},
                        p["num_warps"],
                        unaligned=("n_cols", "n_chunks"),
                    )


NORM_BLOCKS = [1, 16] + [1 << k for k in range(8, 17)]  # every power of two where the warp tables change


def _layernorm_fwd():
    from gpubench.kernels.layernorm import config
    from gpubench.kernels.layernorm import triton_kernels as tk

    for arch, major in ARCHS:
        cfg = config.for_arch(major)
        for dt in ELEMENTWISE_DTYPES:
            p = f"*{dt}"
            types = {
                "x_ptr": p,
                "w_ptr": p,
                "b_ptr": p,
                "y_ptr": p,
                "mean_ptr": "*fp32",
                "rstd_ptr": "*fp32",
                "eps": "fp32",
            }
            for block in (b for b in NORM_BLOCKS if b <= cfg.single_pass_max_cols):
                const = {"BLOCK": block, "SAVE_STATS": True}
                yield aot.build(
                    tk._fwd_single_kernel, arch, types, const, cfg.warps_for(block), unaligned=("n_cols",)
                )
            const = {"CHUNK": cfg.chunk, "SAVE_STATS": True}
            yield aot.build(
                tk._fwd_chunked_kernel, arch, types, const, cfg.warps_for(cfg.chunk), unaligned=("n_cols",)
            )


def _layernorm_bwd():
    from gpubench.kernels.layernorm import config
    from gpubench.kernels.layernorm import triton_kernels as tk

    for arch, major in ARCHS:
        cfg = config.for_arch(major)
        for dt in ELEMENTWISE_DTYPES:
            p = f"*{dt}"
            types = {
                "dy_ptr": p,
                "x_ptr": p,
                "w_ptr": p,
                "mean_ptr": "*fp32",
                "rstd_ptr": "*fp32",
                "dx_ptr": p,
                "pw_ptr": "*fp32",
                "pb_ptr": "*fp32",
            }
            rows = ("n_rows", "n_cols")
            for block in (b for b in NORM_BLOCKS if b <= cfg.bwd_single_pass_max_cols):
                yield aot.build(
                    tk._bwd_single_kernel,
                    arch,
                    types,
                    {"BLOCK": block},
                    cfg.bwd_warps_for(block),
                    unaligned=rows,
                )
            yield aot.build(
                tk._bwd_chunked_kernel,
                arch,
                types,
                {"CHUNK": cfg.bwd_chunk},
                cfg.bwd_warps_for(cfg.bwd_chunk),
                unaligned=rows,
            )
            part = {"pw_ptr": "*fp32", "pb_ptr": "*fp32", "dw_ptr": p, "db_ptr": p}
            const = {"BLOCK_P": cfg.reduce_rows, "BLOCK_N": cfg.reduce_cols}
            yield aot.build(tk._sum_partials_kernel, arch, part, const, 4, unaligned=("n_parts", "n_cols"))


def _rmsnorm():
    from gpubench.kernels.rmsnorm import config
    from gpubench.kernels.rmsnorm import triton_kernels as tk

    for arch, major in ARCHS:
        cfg = config.for_arch(major)
        for dt in ELEMENTWISE_DTYPES:
            types = {"x_ptr": f"*{dt}", "w_ptr": f"*{dt}", "y_ptr": f"*{dt}", "eps": "fp32"}
            for block in NORM_BLOCKS:
                if block <= cfg.single_pass_max_cols:
                    yield aot.build(
                        tk._rms_single_kernel,
                        arch,
                        types,
                        {"BLOCK": block},
                        cfg.warps_for(block),
                        unaligned=("n_cols",),
                    )
            yield aot.build(
                tk._rms_chunked_kernel,
                arch,
                types,
                {"CHUNK": cfg.chunk},
                cfg.warps_for(cfg.chunk),
                unaligned=("n_cols",),
            )


FAMILIES = {
    "vector_add": _vector_add,
    "window_sum": _window_sum,
    "gemm": _gemm,
    "softmax": _softmax,
    "layernorm_fwd": _layernorm_fwd,
    "layernorm_bwd": _layernorm_bwd,
    "rmsnorm": _rmsnorm,
}


@pytest.mark.parametrize("family", FAMILIES)
def test_family_compiles_fits_and_does_not_spill(family):
    aot.check(FAMILIES[family]())


def test_the_gate_flags_each_kind_of_problem():
    """problems() on made-up reports, and the instruction patterns on PTX lines: a spill over the allowance,
    shared memory over the limit, a missing or a forbidden instruction, a compile error."""
    from gpubench.kernels.vector_add import triton_kernels as tk

    b = aot.build(
        tk._add_kernel,
        80,
        {n: "*fp32" for n in ("x_ptr", "y_ptr", "out_ptr")},
        {"BLOCK": 1024},
        4,
        expect=("vector_load",),
        forbid=("scalar_load",),
        spill_allowed=8,
    )
    clean = {"error": None, "registers": 30, "spills": 8, "shared": 0, "uses": ["vector_load"]}
    assert aot.problems(b, clean) == []
    bad = {**clean, "spills": 16, "shared": aot.SMEM_LIMIT[80] + 1, "uses": ["scalar_load"]}
    assert len(aot.problems(b, bad)) == 4
    assert aot.problems(b, {"error": "CompilationError: boom"}) == [
        "does not compile: CompilationError: boom"
    ]
    ptx = {
        "vector_load": "ld.global.v4.b32 { %r1, %r2, %r3, %r4 }, [ %rd1 + 0 ];",
        "scalar_load": "@%p1 ld.global.b32 { %r5 }, [ %rd2 + 0 ];",
        "wgmma": "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
        "tma": "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes",
    }
    for kind, line in ptx.items():
        assert {k for k, p in aot.INSTRUCTIONS.items() if p.search(line)} == {kind}, kind
    assert not aot.INSTRUCTIONS["scalar_load"].search(
        "ld.global.L1::evict_last.v2.f32 { %f1, %f2 }, [ %rd3 ];"
    )
