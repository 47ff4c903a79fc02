"""qmatmul_int8: W8A8, out = (a * sa) @ (b * sb).T with int8 a [M, K] (one fp32 scale per row: per
token), int8 b [N, K] (one fp32 scale per row of b: per output column), int32 accumulation (axes M, N, K;
dtype: the fp16/bf16 the inputs are quantised from and the output is written in).

Inputs: a, a_scale, b, b_scale, and the dequantised a and b rounded to the dtype (the dense baseline's
operands). The reference is the float64 product of the dequantised operands (the int32 sums are exact in
float64), rounded once.
"""

from __future__ import annotations

from gpubench.kernels import compiled
from gpubench.kernels.qmatmul import common as c
from gpubench.kernels.qmatmul import inductor
from gpubench.kernels.workload import Variant, Workload
from gpubench.opcount import activation_bytes, weight_bytes
from gpubench.roles import BASELINE

SHAPES = {
    # As qmatmul_fp8's: one row, ragged tiles, K not a multiple of 16 (no mma.sync, no TMA), and M > 16
    # with K and N multiples of 8 (torch._int_mm's CUDA constraints) for 33 x 40 x 80.
    "test": [c.mnk(1, 16, 32), c.mnk(5, 24, 48), c.mnk(33, 40, 80), c.mnk(17, 32, 20)],
    "bench": c.bench_shapes(),
    "quick": [c.mnk(4096, 4096, 14336)],  # the int8 target's regime: M >= 4096
}
FORMAT = {
    "name": "int8_w8a8",
    "activations": "int8, one fp32 scale per row (token)",
    "weights": "int8, one fp32 scale per output column",
    "compute_dtype": "int8",
}
# dp4a at the largest bench shapes would take tens of milliseconds a call: checked at the smaller ones.
DP4A_LIMIT = 2**38


def quantise(x, w):
    from gpubench.kernels.qmatmul import quant

    return quant.quantize_int8(x, "row") + quant.quantize_int8(w, "row")


def nbytes(shape, dtype):
    M, N, K = shape["M"], shape["N"], shape["K"]
    return (
        activation_bytes(M, K, "int8")  # read a and its M row scales once
        + weight_bytes(K, N, "int8")  # read b and its N column scales once
        + c.out_bytes(shape, dtype)  # write out once
    )


product = c.scaled_product(quantise)


def details(shape, dtype):
    return c.record_details(FORMAT, shape, dtype, product)


# ---- the variants: launchers on the workload's inputs, and where each runs ----

TILED = c.scaled_launcher("triton_scaled", "scaled_matmul")
TMA = c.scaled_launcher("triton_scaled", "scaled_matmul_tma")
MMA = c.scaled_launcher("cupy_scaled", "int8_mma")
DP4A = c.scaled_launcher("cupy_scaled", "int8_dp4a")
INT_MM = c.scaled_launcher("baselines", "int_mm_scaled")


def _sm80(device) -> str | None:
    cap = c.capability(device)
    if cap is not None and cap < (8, 0):
        return f"int8 tensor-core kernels here target sm_80 and newer; this GPU is sm_{cap[0]}{cap[1]}"
    return None


def _mma_supported(device, shape, dtype):
    from gpubench.kernels.qmatmul import cupy_scaled

    return _sm80(device) or cupy_scaled.mma_problem(shape["K"])


def _dp4a_supported(device, shape, dtype):
    if shape["M"] * shape["N"] * shape["K"] > DP4A_LIMIT:
        return "too slow to be worth timing at this size (M*N*K > 2^38); checked at the smaller shapes"
    return c.needs_sm80_for_bf16(device, dtype)


def _int_mm_supported(device, shape, dtype):
    from gpubench.kernels.qmatmul import baselines

    return baselines.int_mm_problem(device, shape["M"], shape["N"], shape["K"])


def _variants():
    return {
        "torch_dense": Variant(
            "torch_dense", "torch", c.scaled_dense, supported=lambda d, s, t: c.needs_sm80_for_bf16(d, t),
            role=BASELINE,
            description="torch.matmul of the dequantised operands in fp16/bf16 (cuBLAS on a GPU)",
            nbytes=c.dense_bytes,  # it moves the unquantised operands: placed where dense runs
        ),
        "triton": Variant(
            "triton", "triton", TILED, supported=lambda d, s, t: _sm80(d), compute_dtype="int8",
            description="Triton, tiled int8 dots (int32 accumulation), scales in the epilogue, autotuned",
        ),
        "triton_persistent_tma": Variant(
            "triton_persistent_tma", "triton", TMA, supported=c.tma_supported, compute_dtype="int8",
            description="Triton, persistent (one program per SM), TMA descriptors (Hopper)",
        ),
        "cuda_mma": Variant(
            "cuda_mma", "cupy", MMA, supported=_mma_supported, compute_dtype="int8",
            description="CUDA C, mma.sync m16n8k32 s8, 128x128 tiles, 3-stage cp.async",
        ),
        "cuda_dp4a": Variant(
            "cuda_dp4a", "cupy", DP4A, supported=_dp4a_supported, compute_dtype="int8",
            description="CUDA C, dp4a on 64x64 shared-memory tiles (the simple version)",
        ),
        "torch_int_mm": Variant(
            "torch_int_mm", "torch", INT_MM, supported=_int_mm_supported, compute_dtype="int8",
            role=BASELINE,
            description="torch._int_mm (int32 out), then the scaling epilogue as torch ops",
        ),
        compiled.NAME: inductor.variant(
            inductor.int8, _int_mm_supported, "torch._int_mm and the scaling epilogue"
        ),
    }  # fmt: skip


WORKLOAD = Workload(
    name="qmatmul_int8",
    axes=("M", "N", "K"),
    shapes=SHAPES,
    dtypes=c.DTYPES,
    tolerances=c.TOLERANCES,
    make_inputs=c.scaled_inputs(quantise),
    reference=c.scaled_reference,
    flops=c.flops,
    bytes=nbytes,
    variants=_variants(),
    description="int8 W8A8 GEMM: per-token activation scales, per-column weight scales, int32 accumulation",
    uses_tensor_cores=True,
    details=details,
)
