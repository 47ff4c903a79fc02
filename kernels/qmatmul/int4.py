"""qmatmul_int4: weight-only int4, out = x @ dequantise(w).T with fp16/bf16 x [M, K] and w [N, K] packed
two values a byte with one fp16/bf16 scale per `group` consecutive k of each output column (axes M, N,
K, group; group == K is per-channel; dtype: the activations', the scales' and the output's).

Inputs: x, w_packed [N, K/2], w_scales [K/group, N], group, the dequantised w in the dtype (the dense
baseline's operand), and torch's int4 kernel's own packing of the same weights (None where that kernel
cannot run). The reference is the float64 product of x and the dequantised w, rounded once.
"""

from __future__ import annotations

from gpubench.kernels import compiled
from gpubench.kernels.qmatmul import common as c
from gpubench.kernels.qmatmul import inductor
from gpubench.kernels.workload import Variant, Workload
from gpubench.opcount import activation_bytes, weight_bytes
from gpubench.roles import BASELINE


def _s(M: int, N: int, K: int, group: int) -> dict[str, int]:
    return {**c.mnk(M, N, K), "group": group}


SHAPES = {
    # Small and ragged: one row; per-channel (group == K) with M > 16 and a ragged N; group 64, two groups
    # per row; group 16, too short for the Triton kernels and for torch's (only the dense baseline runs).
    "test": [_s(1, 16, 64, 32), _s(17, 40, 96, 96), _s(33, 16, 128, 64), _s(2, 8, 32, 16)],
    "bench": [
        *(_s(**shape, group=128) for shape in c.bench_shapes()),
        # group 64 and per-channel where the int4 target is stated (M <= 16 on 8192 x 28672)
        *(_s(M, 8192, 28672, g) for M in (1, 16) for g in (64, 28672)),
    ],
    "quick": [_s(1, 8192, 28672, 128), _s(16, 8192, 28672, 128)],  # where the int4 target is stated
}


def _format(group: int, K: int, dtype: str) -> dict:
    per = "per output column" if group >= K else f"per {group} k per output column"
    return {
        "name": "int4_weight_only",
        "activations": "fp16/bf16 as they are",
        "weights": f"int4, two a byte, one fp16/bf16 scale {per}",
        "compute_dtype": dtype,  # dequantised to the activations' dtype: fp16/bf16 tensor cores
    }


def make_inputs(shape, dtype, device, seed=0):
    from gpubench.kernels.qmatmul import baselines, quant

    x, w = c.unquantised(shape, dtype, device, seed)
    group = shape["group"]
    w_packed, w_scales = quant.quantize_int4(w, group)
    w_deq = quant.dequantize_int4(w_packed, w_scales, group).to(x.dtype)
    M, N, K = shape["M"], shape["N"], shape["K"]
    tiny = None, None
    if baselines.tinygemm_problem(device, M, N, K, group, dtype) is None:
        tiny = baselines.tinygemm_operands(w_packed, w_scales, group)
    return x, w_packed, w_scales, group, w_deq, *tiny


def reference(x, w_packed, w_scales, group, w_deq, tiny_w, tiny_sz):
    """float64 product of x and the dequantised weights, rounded once to x's dtype."""
    import torch

    from gpubench.kernels.qmatmul import quant

    return c.matmul64(x.to(torch.float64), quant.dequantize_int4(w_packed, w_scales, group), x.dtype)


def nbytes(shape, dtype):
    M, N, K, group = shape["M"], shape["N"], shape["K"], shape["group"]
    return (
        activation_bytes(M, K, dtype)  # read x once
        + weight_bytes(K, N, "int4", group)  # read the packed weights and the group scales once
        + c.out_bytes(shape, dtype)  # write out once
    )


def _product(group: int):
    def product(x, w):
        from gpubench.kernels.qmatmul import quant

        return x.double() @ quant.dequantize_int4(*quant.quantize_int4(w, group), group).t()

    return product


_PRODUCTS: dict = {}


def details(shape, dtype):
    group = shape["group"]
    product = _PRODUCTS.setdefault(group, _product(group))  # one function per group: the error cache's key
    return c.record_details(_format(group, shape["K"], dtype), shape, dtype, product)


# ---- adapters: each variant takes the workload's inputs ----

_tiled = c.launcher("triton_int4", "int4_matmul")
_mma = c.launcher("cupy_int4", "int4_mma")
_splitk = c.launcher("triton_int4", "int4_matmul_splitk")
_tinygemm = c.launcher("baselines", "tinygemm")
_dense = c.launcher("baselines", "dense")


def triton_tiled(x, w_packed, w_scales, group, w_deq, tiny_w, tiny_sz):
    return _tiled(x, w_packed, w_scales, group)


def triton_splitk(x, w_packed, w_scales, group, w_deq, tiny_w, tiny_sz):
    return _splitk(x, w_packed, w_scales, group)


def cuda_mma(x, w_packed, w_scales, group, w_deq, tiny_w, tiny_sz):
    return _mma(x, w_packed, w_scales, group)


def torch_int4pack(x, w_packed, w_scales, group, w_deq, tiny_w, tiny_sz):
    if tiny_w is None:
        raise ValueError("no tinygemm operands were prepared for this case (see the variant's skip reason)")
    return _tinygemm(x, tiny_w, tiny_sz, group)


def torch_dense(x, w_packed, w_scales, group, w_deq, tiny_w, tiny_sz):
    return _dense(x, w_deq)


# ---- which variant runs where ----


def _triton_supported(device, shape, dtype):
    from gpubench.kernels.qmatmul import triton_int4

    if getattr(device, "type", "cpu") != "cuda" and dtype == "bf16":
        return c.BF16_INTERPRETER
    return c.needs_sm80_for_bf16(device, dtype) or triton_int4.group_problem(shape["group"], shape["K"])


def _splitk_supported(device, shape, dtype):
    from gpubench.kernels.qmatmul import config

    if shape["M"] > config.SPLITK_MAX_M:
        return (
            f"the split-K schedule is for small batches (M <= {config.SPLITK_MAX_M}); "
            "the tiled variant is the one to read here"
        )
    return _triton_supported(device, shape, dtype)


def _mma_supported(device, shape, dtype):
    from gpubench.kernels.qmatmul import cupy_int4

    cap = c.capability(device)
    if cap is not None and cap < (8, 0):
        return f"mma.sync m16n8k16 on fp16/bf16 needs sm_80 or newer; this GPU is sm_{cap[0]}{cap[1]}"
    return cupy_int4.problem(shape["K"], shape["group"])


def _tinygemm_supported(device, shape, dtype):
    from gpubench.kernels.qmatmul import baselines

    cap = c.capability(device)
    if cap is not None and cap < (8, 0):
        return "torch's int4 kernel needs sm_80 or newer"
    return baselines.tinygemm_problem(device, shape["M"], shape["N"], shape["K"], shape["group"], dtype)


def _variants():
    return {
        "torch_dense": Variant(
            "torch_dense", "torch", torch_dense, supported=lambda d, s, t: c.needs_sm80_for_bf16(d, t),
            role=BASELINE,
            description="torch.matmul of x and the dequantised weights in fp16/bf16 (cuBLAS on a GPU)",
            nbytes=c.dense_bytes,  # it moves the unquantised operands: placed where dense runs
        ),
        "triton": Variant(
            "triton", "triton", triton_tiled, supported=_triton_supported,
            description="Triton, tiled (large M): int4 unpacked in registers, fp16/bf16 dots, group scales",
        ),
        "triton_splitk": Variant(
            "triton_splitk", "triton", triton_splitk, supported=_splitk_supported,
            description="Triton, split-K for small M: 16-row tiles, K split over programs, fp32 partials",
        ),
        "cuda_mma": Variant(
            "cuda_mma", "cupy", cuda_mma, supported=_mma_supported,
            description="CUDA C, mma.sync m16n8k16: int4 dequantised in registers, group scales per K step",
        ),
        "torch_int4pack": Variant(
            "torch_int4pack", "torch", torch_int4pack, supported=_tinygemm_supported, role=BASELINE,
            description="torch._weight_int4pack_mm (tinygemm), our weights in its packing, zero points 0",
        ),
        compiled.NAME: inductor.variant(
            inductor.int4, lambda d, s, t: c.needs_sm80_for_bf16(d, t),
            "the weights dequantised in torch ops (nibbles, minus 8, times the group scale), then matmul",
        ),
    }  # fmt: skip


WORKLOAD = Workload(
    name="qmatmul_int4",
    axes=("M", "N", "K", "group"),
    shapes=SHAPES,
    dtypes=c.DTYPES,
    tolerances=c.TOLERANCES,
    make_inputs=make_inputs,
    reference=reference,
    flops=c.flops,
    bytes=nbytes,
    variants=_variants(),
    description="int4 weight-only GEMM: two values a byte, group scales, dequantised inside the kernel",
    uses_tensor_cores=True,
    details=details,
)
