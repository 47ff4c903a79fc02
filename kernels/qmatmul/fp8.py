"""qmatmul_fp8: out = (a * sa) @ (b * sb).T with fp8 e4m3 operands and one fp32 scale per tensor
(axes M, N, K; dtype: the fp16/bf16 the inputs are quantised from and the output is written in).
`build("row")` gives qmatmul_fp8_rowwise, with one scale per row of a (per token) and of b (per output
column).

Inputs (every variant and the reference take them): a [M, K] e4m3, a_scale, b [N, K] e4m3, b_scale, and
the dequantised a and b rounded to the dtype (the dense baseline's operands). The reference is the float64
product of the dequantised operands, rounded once: the kernels' own arithmetic is what it checks.
fp8 tensor cores need sm_89 or newer (tuned for sm_90); elsewhere the fp8 variants skip with that reason.
"""

from __future__ import annotations

from gpubench.kernels import compiled
from gpubench.kernels.qmatmul import common as c
from gpubench.kernels.qmatmul import inductor
from gpubench.kernels.workload import Variant, Workload
from gpubench.opcount import activation_bytes, weight_bytes
from gpubench.roles import BASELINE

SHAPES = {
    # Small and ragged, cheap for the interpreter (32x32x32 tiles there): one row, ragged tiles, K not a
    # multiple of 16 (no TMA, no torch._scaled_mm), N not a multiple of 16 (no torch._scaled_mm).
    "test": [c.mnk(1, 16, 32), c.mnk(5, 24, 48), c.mnk(33, 40, 80), c.mnk(17, 32, 20)],
    # The real layers at M = 1 .. 4096, and the square the fp8 target is stated at (M = N = 8192, K = 4096).
    "bench": [*c.bench_shapes(), c.mnk(8192, 8192, 4096)],
    # The quick profile's share of a few minutes: the shape the fp8 target is stated at.
    "quick": [c.mnk(8192, 8192, 4096)],
}
FORMATS = {
    "tensor": {
        "name": "fp8_e4m3",
        "activations": "fp8 e4m3, one fp32 scale per tensor",
        "weights": "fp8 e4m3, one fp32 scale per tensor",
        "compute_dtype": "fp8",
    },
    "row": {
        "name": "fp8_e4m3",
        "activations": "fp8 e4m3, one fp32 scale per row (token)",
        "weights": "fp8 e4m3, one fp32 scale per output column",
        "compute_dtype": "fp8",
    },
}


def _quantise(granularity: str):
    def quantise(x, w):
        from gpubench.kernels.qmatmul import quant

        return quant.quantize_fp8(x, granularity) + quant.quantize_fp8(w, granularity)

    return quantise


QUANTISE = {g: _quantise(g) for g in FORMATS}
_PRODUCTS = {g: c.scaled_product(QUANTISE[g]) for g in FORMATS}  # one function each: the error cache key


def _bytes(granularity: str):
    per_tensor = granularity == "tensor"

    def nbytes(shape, dtype):
        M, N, K = shape["M"], shape["N"], shape["K"]
        return (
            activation_bytes(M, K, "fp8", per_tensor=per_tensor)  # read a and its scale(s) once
            + weight_bytes(K, N, "fp8", per_tensor=per_tensor)  # read b and its scale(s) once
            + c.out_bytes(shape, dtype)  # write out once
        )

    return nbytes


def _details(granularity: str):
    def details(shape, dtype):
        return c.record_details(FORMATS[granularity], shape, dtype, _PRODUCTS[granularity])

    return details


# ---- the variants: launchers on the workload's inputs, and where each runs ----

TILED = c.scaled_launcher("triton_scaled", "scaled_matmul")
TMA = c.scaled_launcher("triton_scaled", "scaled_matmul_tma")
SCALED_MM = c.scaled_launcher("baselines", "scaled_mm")
MMA = c.scaled_launcher("cupy_scaled", "fp8_mma")


def fp8_problem(device) -> str | None:
    cap = c.capability(device)
    if cap is not None and cap < (8, 9):
        return f"fp8 e4m3 tensor cores need sm_89 or newer (tuned for sm_90); this GPU is sm_{cap[0]}{cap[1]}"
    return None


def _triton_supported(device, shape, dtype):
    return fp8_problem(device)


def _mma_supported(device, shape, dtype):
    from gpubench.kernels.qmatmul import cupy_scaled

    return cupy_scaled.fp8_problem(device) or cupy_scaled.mma_problem(shape["K"])


def _scaled_mm_supported(granularity: str):
    def supported(device, shape, dtype):
        from gpubench.kernels.qmatmul import baselines

        M, N, K = shape["M"], shape["N"], shape["K"]
        return baselines.scaled_mm_problem(device, M, N, K, dtype, rowwise=granularity == "row")

    return supported


def _dense_supported(device, shape, dtype):
    return c.needs_sm80_for_bf16(device, dtype)


def _variants(granularity: str):
    scales = "per-tensor" if granularity == "tensor" else "per-row"
    wise = "tensor-wise" if granularity == "tensor" else "row-wise"
    return {
        "torch_dense": Variant(
            "torch_dense", "torch", c.scaled_dense, supported=_dense_supported, role=BASELINE,
            description="torch.matmul of the dequantised operands in fp16/bf16 (cuBLAS on a GPU)",
            nbytes=c.dense_bytes,  # it moves the unquantised operands: placed where dense runs
        ),
        "triton": Variant(
            "triton", "triton", TILED, supported=_triton_supported, compute_dtype="fp8",
            description=f"Triton, tiled fp8 dots, {scales} scales in the epilogue, autotuned per arch",
        ),
        "triton_persistent_tma": Variant(
            "triton_persistent_tma", "triton", TMA, supported=c.tma_supported, compute_dtype="fp8",
            description=f"Triton, persistent (one program per SM), TMA descriptors, {scales} scales (Hopper)",
        ),
        "cuda_mma": Variant(
            "cuda_mma", "cupy", MMA, supported=_mma_supported, compute_dtype="fp8",
            description=f"CUDA C, mma.sync m16n8k32 e4m3 (sm_89+), 128x128 tiles, 3-stage cp.async, {scales} "
            "scales",
        ),
        "torch_scaled_mm": Variant(
            "torch_scaled_mm", "torch", SCALED_MM, supported=_scaled_mm_supported(granularity),
            compute_dtype="fp8", role=BASELINE,
            description=f"torch._scaled_mm, {wise} scales",
        ),
        compiled.NAME: inductor.variant(
            inductor.fp8, _scaled_mm_supported(granularity), f"torch._scaled_mm, {wise} scales"
        ),
    }  # fmt: skip


def build(granularity: str) -> Workload:
    name = "qmatmul_fp8" if granularity == "tensor" else "qmatmul_fp8_rowwise"
    return Workload(
        name=name,
        axes=("M", "N", "K"),
        shapes=SHAPES,
        dtypes=c.DTYPES,
        tolerances=c.TOLERANCES,
        make_inputs=c.scaled_inputs(QUANTISE[granularity]),
        reference=c.scaled_reference,
        flops=c.flops,
        bytes=_bytes(granularity),
        variants=_variants(granularity),
        description=f"fp8 e4m3 GEMM with one fp32 scale per {'tensor' if granularity == 'tensor' else 'row'}",
        uses_tensor_cores=True,
        details=_details(granularity),
    )


WORKLOAD = build("tensor")
