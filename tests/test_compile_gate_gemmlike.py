"""The compile gate (tests/test_compile_gate.py) for the tensor-core families: attention (forward, TMA
forward, decode, backward), the quantised matmuls (fp8, fp8 row-wise, int8, int4) and the convolution.

Attention compiles causal (the masked and the unmasked loops both present), in the cases
`_attention_cases` names. The quantised matmuls compile every tile at every BLOCK_K and split count their
launchers derive from the bench shapes, with bf16 and fp16 outputs."""

from __future__ import annotations

import os

import pytest

from tests.support import aot
from tests.test_compile_gate import tensor_cores

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.path.exists(aot.cuobjdump()), reason=aot.NO_TOOLS)]

HALF = ("bf16", "fp16")
ALL = os.environ.get("GPUBENCH_AOT_ALL") == "1"


def _attention_cases():
    """(arch, config, head_dim, dtype): the bench's head_dim 128 in both dtypes on both architectures,
    every other head_dim of the Hopper tables in bf16; with GPUBENCH_AOT_ALL=1 every head_dim in both
    dtypes on both (fp16 and bf16 dots differ in conversions only, and the Ampere tables are the Hopper
    tables' smaller cousins: the bounded set keeps the gate to a few minutes on two cores)."""
    from gpubench.kernels.attention import config

    for arch in (90, 80):
        cfg = config.for_arch(arch // 10)
        for hd in config.TRITON_HEAD_DIMS:
            for dt in HALF:
                if ALL or hd == 128 or (arch == 90 and dt == "bf16"):
                    yield arch, cfg, hd, dt


def _attn_consts(hd, bm, bn, tma=None):
    const = {
        "CAUSAL": True,
        "BLOCK_M": bm,
        "BLOCK_N": bn,
        "HEAD_DIM": hd,
        "DOT_F32": False,
        "PRECISION": "ieee",
    }
    return const if tma is None else {**const, "TMA": tma}


def _attention_fwd():
    from gpubench.kernels.attention import triton_fwd as tk

    for arch, cfg, hd, dt in _attention_cases():
        for t in cfg.fwd.get(hd, ()):
            types = {**{n: f"*{dt}" for n in ("Qs", "Ks", "Vs", "Os")}, "LSE": "*fp32", "qk_scale": "fp32"}
            yield aot.build(
                tk._fwd_kernel,
                arch,
                types,
                _attn_consts(hd, t.block_m, t.block_n, False),
                t.num_warps,
                t.num_stages,
                expect=tensor_cores(arch, t.block_m),
            )
        for t in cfg.fwd_tma.get(hd, ()):
            rows = {"Qs": t.block_m, "Ks": t.block_n, "Vs": t.block_n, "Os": t.block_m}
            types = {n: f"tensordesc<{dt}[1, {r}, {hd}]>" for n, r in rows.items()}
            types.update({"LSE": "*fp32", "qk_scale": "fp32"})
            yield aot.build(
                tk._fwd_kernel,
                arch,
                types,
                _attn_consts(hd, t.block_m, t.block_n, True),
                t.num_warps,
                t.num_stages,
                expect=("tma", *tensor_cores(arch, t.block_m)),
            )


def _attention_decode():
    from gpubench.kernels.attention import triton_decode as tk

    for arch, cfg, hd, dt in _attention_cases():
        dc = cfg.decode
        if hd not in dc.head_dims:
            continue
        for bm in tk.BLOCK_MS:
            types = {
                **{n: f"*{dt}" for n in ("Q", "K", "V")},
                "PART_O": "*fp32",
                "PART_LSE": "*fp32",
                "qk_scale": "fp32",
            }
            yield aot.build(
                tk._split_kernel,
                arch,
                types,
                _attn_consts(hd, bm, dc.block_n),
                dc.num_warps,
                dc.num_stages,
                unaligned=("seq_q", "rows"),
                expect=tensor_cores(arch, bm),
            )
            types = {"PART_O": "*fp32", "PART_LSE": "*fp32", "Os": f"*{dt}", "LSE": "*fp32"}
            yield aot.build(
                tk._combine_kernel,
                arch,
                types,
                {"BLOCK_M": bm, "HEAD_DIM": hd},
                dc.combine_warps,
                unaligned=("rows", "n_splits"),
            )


def _attention_bwd():
    from gpubench.kernels.attention import triton_bwd as tk

    for arch, cfg, hd, dt in _attention_cases():
        if hd not in cfg.bwd:
            continue
        p, kv, q = f"*{dt}", cfg.bwd[hd].kv, cfg.bwd[hd].q
        scales = {"qk_scale": "fp32", "sm_scale": "fp32", "LSE": "*fp32", "DELTA": "*fp32"}
        types = {**{n: p for n in ("Q", "K", "V", "DO", "DK", "DV")}, **scales}
        # dK = dS^T Q and dV = P^T dO: the dots' rows are the BLOCK_N keys
        yield aot.build(
            tk._dkdv_kernel,
            arch,
            types,
            _attn_consts(hd, kv.block_m, kv.block_n),
            kv.num_warps,
            kv.num_stages,
            expect=tensor_cores(arch, kv.block_n),
        )
        types = {**{n: p for n in ("Q", "K", "V", "DO", "DQ")}, **scales}
        yield aot.build(
            tk._dq_kernel,
            arch,
            types,
            _attn_consts(hd, q.block_m, q.block_n),
            q.num_warps,
            q.num_stages,
            expect=tensor_cores(arch, q.block_m),
        )
        yield aot.build(
            tk._delta_kernel,
            arch,
            {"Os": p, "DO": p, "DELTA": "*fp32"},
            {"BLOCK": tk.DELTA_BLOCK, "HEAD_DIM": hd},
            4,
            unaligned=("n_rows",),
        )


# ---- quantised matmuls ----

# (format, operand dtype, A_ROWS, B_ROWS, architectures): fp8 needs sm_89 (Ada, with the sm_80 table).
SCALED = {
    "fp8": ("fp8e4nv", False, False, (90, 89)),
    "fp8_rowwise": ("fp8e4nv", True, True, (90, 89)),
    "int8": ("i8", True, True, (90, 80)),
}


def _scaled(fmt: str):
    from gpubench.kernels.qmatmul import config
    from gpubench.kernels.qmatmul import triton_scaled as tk

    op, a_rows, b_rows, archs = SCALED[fmt]
    flags = {"A_ROWS": a_rows, "B_ROWS": b_rows, "RAW": False, "ACC_INT": op == "i8"}
    operands = {"a_ptr": f"*{op}", "b_ptr": f"*{op}", "sa_ptr": "*fp32", "sb_ptr": "*fp32"}
    for arch in archs:
        operand = "int8" if op == "i8" else "fp8"
        for t in config.scaled_splitk_tiles_for(arch // 10, operand):  # raw partial sums, any output dtype
            part = {**operands, "c_ptr": "*i32" if op == "i8" else "*fp32"}
            for m in ({}, {"M": 1}):  # Triton specialises M == 1 (one token) as a constant: its own build
                const = {**t.meta(), **flags, "SPLIT": True, **m}
                yield aot.build(
                    tk._tiled_kernel,
                    arch,
                    part,
                    const,
                    t.num_warps,
                    t.num_stages,
                    expect=tensor_cores(arch, t.block_m),
                )
        for out in HALF:
            for t in config.scaled_tiles_for(arch // 10, operand):
                const = {**t.meta(), **flags, "SPLIT": False}
                yield aot.build(
                    tk._tiled_kernel,
                    arch,
                    {**operands, "c_ptr": f"*{out}"},
                    const,
                    t.num_warps,
                    t.num_stages,
                    expect=tensor_cores(arch, t.block_m),
                )
            for splits in sorted(
                {
                    tk.split_plan(t, s["K"])[1]
                    for t in config.scaled_splitk_tiles_for(arch // 10, operand)
                    for s in _bench_shapes(fmt)
                }
            ):
                types = {
                    "part_ptr": "*i32" if op == "i8" else "*fp32",
                    "c_ptr": f"*{out}",
                    "sa_ptr": "*fp32",
                    "sb_ptr": "*fp32",
                }
                const = {
                    "SPLITS": splits,
                    "BLOCK_N": tk.SUM_BLOCK_N,
                    "A_ROWS": a_rows,
                    "B_ROWS": b_rows,
                    "RAW": False,
                }
                yield aot.build(tk._sum_splits_kernel, arch, types, const, 4, unaligned=("M",))
            if arch == 90:
                yield from _scaled_tma(tk, config, op, operand, flags, out)


def _bench_shapes(fmt: str):
    from gpubench import kernels

    return kernels.get("qmatmul_int8" if fmt == "int8" else "qmatmul_fp8").shapes["bench"]


def _scaled_tma(tk, config, op, operand, flags, out):
    for t in config.scaled_tma_tiles_for(9, operand):
        types = {
            "a_desc": f"tensordesc<{op}[{t.block_m}, {t.block_k}]>",
            "b_desc": f"tensordesc<{op}[{t.block_n}, {t.block_k}]>",
            "c_ptr": f"*{out}",
            "sa_ptr": "*fp32",
            "sb_ptr": "*fp32",
        }
        const = {**t.meta(), "NUM_PROGRAMS": 132, **flags}
        yield aot.build(
            tk._persistent_tma_kernel, 90, types, const, t.num_warps, t.num_stages, expect=("tma", "wgmma")
        )


def _int4():
    from gpubench import kernels
    from gpubench.kernels.qmatmul import config
    from gpubench.kernels.qmatmul import triton_int4 as tk

    shapes = kernels.get("qmatmul_int4").shapes["bench"]
    for arch in (90, 80):
        for dt in HALF:
            types = {"x_ptr": f"*{dt}", "w_ptr": "*u8", "s_ptr": f"*{dt}"}
            launches = set()
            for tiles in (config.int4_tiled_tiles_for(arch // 10), config.int4_splitk_tiles_for(arch // 10)):
                for t in tiles:
                    for s in shapes:
                        bk, _, splits = tk.split_plan(t, s["K"], s["group"])
                        launches.add((t, bk, splits))
            for t, bk, splits in sorted(launches, key=repr):
                out = f"*{dt}" if splits == 1 else "*fp32"
                const = {"BLOCK_M": t.block_m, "BLOCK_N": t.block_n, "BLOCK_K": bk, "GROUP_M": t.group_m}
                yield aot.build(
                    tk._int4_kernel,
                    arch,
                    {**types, "out_ptr": out},
                    const,
                    t.num_warps,
                    t.num_stages,
                    expect=tensor_cores(arch, t.block_m),
                )
            for splits in sorted({s for _, _, s in launches if s > 1}):
                yield aot.build(
                    tk._sum_splits_kernel,
                    arch,
                    {"part_ptr": "*fp32", "out_ptr": f"*{dt}"},
                    {"SPLIT_K": splits, "BLOCK": tk.SUM_BLOCK},
                    4,
                )


def _conv2d():
    """Every tile of both dtype classes, both reduction loops (FLAT: the stems' flat loop, else tap by tap),
    with the fused epilogue (bias and ReLU): the plain convolution is the same kernel with two operations
    fewer after its loop, as attention compiles causal for both its loops."""
    from gpubench.kernels.conv2d import config
    from gpubench.kernels.conv2d import triton_kernels as tk

    # Triton specialises a size that is a multiple of 16: the layers that loop tap by tap have channel
    # counts that are (64 to 2048), the stems that take the flat loop have 1 or 3 input channels (and ESPCN's
    # last layer 9 filters); pixel counts and the geometry are whatever the layer has.
    anything = ("H", "W", "P", "Q", "R", "S", "M", "stride", "padding", "dilation")
    channels = {False: (), True: ("C", "Cg", "K", "Kg")}
    for arch in (90, 80):
        lists = config.lists_for(arch // 10)
        for tiles, dts, precision in ((lists.half, HALF, "tf32"), (lists.fp32, ("fp32",), "ieee")):
            for t in tiles:
                tc = precision == "tf32"  # fp16/bf16 dots on tensor cores; IEEE fp32 on the FMA units
                on, off = (tensor_cores(arch, t.block_m), ()) if tc else ((), ("wgmma", "mma"))
                for dt, flat in ((dt, flat) for dt in dts for flat in (False, True)):
                    const = {**t.meta(), "FLAT": flat, "HAS_BIAS": True, "RELU": True, "PRECISION": precision}
                    types = {n: f"*{dt}" for n in ("x_ptr", "w_ptr", "b_ptr", "out_ptr")}
                    yield aot.build(tk._conv_kernel, arch, types, const, t.num_warps, t.num_stages,
                                    unaligned=anything + channels[flat], expect=on, forbid=off)  # fmt: skip


FAMILIES = {
    "attention_fwd": _attention_fwd,
    "attention_decode": _attention_decode,
    "attention_bwd": _attention_bwd,
    "qmatmul_fp8": lambda: _scaled("fp8"),
    "qmatmul_fp8_rowwise": lambda: _scaled("fp8_rowwise"),
    "qmatmul_int8": lambda: _scaled("int8"),
    "qmatmul_int4": _int4,
    "conv2d": _conv2d,
}


@pytest.mark.parametrize("family", FAMILIES)
def test_family_compiles_fits_and_does_not_spill(family):
    aot.check(FAMILIES[family]())
