"""What the qmatmul workloads share: shapes, inputs, tolerances, the dense byte count, the error record.

A record's dtype is the unquantised dtype the format stands in for: the activations' and the output's
(fp16 or bf16); the format is the workload (qmatmul_fp8, qmatmul_fp8_rowwise, qmatmul_int8,
qmatmul_int4), so every variant of a workload, the fp16/bf16 baseline included, shares one reference,
one byte count and one key per (shape, dtype) (docs/qmatmul.md). Imports neither torch nor triton at
import time.
"""

from __future__ import annotations

import functools
import math

from gpubench import dtypes
from gpubench.kernels.lazy import Lazy
from gpubench.kernels.workload import Tolerance, torch_dtype
from gpubench.opcount import activation_bytes, weight_bytes

DTYPES = ("bf16", "fp16")  # bf16 first: the inference dtype, and what the quick profile picks
ERROR_SEED = 0  # the inputs the recorded quantisation error is measured on

# Inputs are N(0, 1) x K^-1/4 on both sides, so out ~ N(0, 1) for any K (gemm's convention). Two tables:
# KERNEL_TOLERANCES: the suite's kernels read the quantised operands exactly and accumulate exactly (int8:
#   int32) or in fp32 (products of e4m3 values, and of int4 values with fp16/bf16 activations, are exact
#   in fp32); the output is rounded once, and the Triton interpreter truncates to bf16 instead of rounding.
#   So two ulps: rtol 2e-3 (fp16) and 1.6e-2 (bf16); atol covers outputs near zero.
# TOLERANCES (the workloads', so every variant, the dense baseline too): the dense baseline multiplies the
#   dequantised operands rounded to fp16/bf16, each off by up to half an ulp. Measured on 256 x 2048 x
#   4096 (CPU, float64 products of the rounded operands): the output error has a spread of 3e-4 (fp16)
#   and 2.4e-3 (bf16) whatever the format; the largest of 33M outputs (the bench shapes) is near 5.8
#   sigma, 1.7e-3 and 1.4e-2. atol 5e-3 and 3e-2 leave 3x and 2x. A wrong kernel (scales on the wrong
#   axis, a swapped nibble, a missed K tile) is off by 10 % or more of an O(1) output: far outside both.
#   fp8 dots are the exception: see kernel_tolerance.
# TOLERANCES' atol also covers fp8's accumulation (kernel_tolerance's 6 sigma at K 28672, the bench's
# largest, is 4.2e-3 with 256-deep K tiles: under fp16's 5e-3; tests/test_qmatmul.py checks it).
KERNEL_TOLERANCES = {"fp16": Tolerance(atol=1e-3, rtol=2e-3), "bf16": Tolerance(atol=1e-2, rtol=1.6e-2)}
TOLERANCES = {"fp16": Tolerance(atol=5e-3, rtol=2e-3), "bf16": Tolerance(atol=3e-2, rtol=1.6e-2)}

# fp8 tensor cores add each instruction's products to the accumulator at reduced precision: about 14
# significant bits are kept and the rest truncated (measured on Hopper: DeepSeek-V3 technical report,
# 2024, section 3.3.2). The Triton kernels promote into a full fp32 accumulator every BLOCK_K
# (triton_scaled._dot), so the truncation acts within one BLOCK_K window. The model: instruction j of a
# window (32-deep fp8 MMAs, J = BLOCK_K / 32 of them) loses at most one unit of the 14th bit of the
# running partial sum S_j, 2^-13 |S_j|; windows are independent, so the output's error has a standard
# deviation of at most 2^-13 sqrt(K / BLOCK_K) sum_j RMS(S_j), with RMS(S_j) = sqrt(32 j) x the RMS of one
# product (Minkowski's inequality over the J terms). The workload's inputs (N(0, 1) K^-1/4 both sides)
# make a product's RMS K^-1/2: K cancels, and the bound is 3.8e-4 (BLOCK_K 128) or 7.0e-4 (256) at every
# K, so six sigma (2.3e-3 at K = 14336, BLOCK_K 128) exceeds fp16's 1e-3 kernel atol.
FP8_KEPT_BITS = 14
FP8_INSTR_K = 32
FP8_SIGMAS = 6  # the GPU tests compare up to ~1e7 outputs; a normal deviate passes 6 sigma w.p. 2e-9


def launcher(module: str, attr: str) -> Lazy:
    """`attr` of this family's `module`, imported on its first call."""
    return Lazy(__package__, module, attr)


def fp8_accumulation_sigma(K: int, block_k: int, product_rms: float | None = None) -> float:
    """The model's bound on the standard deviation of an fp8 dot's accumulation error (see above) for a
    K-long dot promoted every block_k; product_rms defaults to the workload's K^-1/2."""
    rms = K**-0.5 if product_rms is None else product_rms
    steps = max(1, block_k // FP8_INSTR_K)
    window = sum(math.sqrt(FP8_INSTR_K * j) for j in range(1, steps + 1)) * rms
    return 2.0 ** (1 - FP8_KEPT_BITS) * math.sqrt(max(K, 1) / block_k) * window


def kernel_tolerance(dtype: str, K: int, compute_dtype: str | None = None) -> Tolerance:
    """The suite's kernels' own tolerance: KERNEL_TOLERANCES, plus FP8_SIGMAS of the accumulation model
    for fp8 dots, at the deepest K tile the fp8 tables use (the most truncations per window)."""
    from gpubench.kernels.qmatmul import config

    tol = KERNEL_TOLERANCES[dtype]
    if compute_dtype != "fp8":
        return tol
    sigma = fp8_accumulation_sigma(K, config.deepest_block_k("fp8"))
    return Tolerance(atol=tol.atol + FP8_SIGMAS * sigma, rtol=tol.rtol)

BF16_INTERPRETER = (
    "bf16 tl.dot is not supported by the Triton interpreter (triton issue 11584); runs on GPU only"
)
# The layers the bench sweeps (N x K): a 4096-wide projection, a 7B-class MLP down-projection, and a
# 70B-class one. M: one token, a small decode batch, a prefill chunk, a long prefill.
LAYERS = ((4096, 4096), (4096, 14336), (8192, 28672))
BENCH_M = (1, 16, 128, 4096)


def mnk(M: int, N: int, K: int) -> dict[str, int]:
    return {"M": M, "N": N, "K": K}


def bench_shapes() -> list[dict[str, int]]:
    return [mnk(M, N, K) for N, K in LAYERS for M in BENCH_M]


def unquantised(shape, dtype: str, device, seed: int):
    """The fp16/bf16 operands a format quantises: x [M, K] and w [N, K], N(0, 1) x K^-1/4 each."""
    from gpubench.kernels.inputs import generator, randn

    M, N, K = shape["M"], shape["N"], shape["K"]
    g = generator(device, seed)
    scale = 1.0 / math.sqrt(math.sqrt(max(K, 1)))
    return randn((M, K), dtype, device, g, scale), randn((N, K), dtype, device, g, scale)


def flops(shape) -> int:
    return 2 * shape["M"] * shape["N"] * shape["K"]  # one multiply-add per (m, n, k)


def dense_bytes(shape, dtype: str) -> int:
    """The same GEMM unquantised: x and w in fp16/bf16, read once; out written once."""
    M, N, K = shape["M"], shape["N"], shape["K"]
    return activation_bytes(M, K, dtype) + weight_bytes(K, N, dtype) + out_bytes(shape, dtype)


def out_bytes(shape, dtype: str) -> int:
    """The output, M x N in the dtype, written once."""
    return shape["M"] * shape["N"] * int(dtypes.itemsize(dtype))


def matmul64(x64, w64, out_dtype):
    """float64 x @ w.T, rounded once to the output dtype: the reference of every format."""
    return (x64 @ w64.t()).to(out_dtype)


def error_device():
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


@functools.lru_cache(maxsize=256)
def _error(quantised_product, shape_items: tuple, dtype: str) -> dict:
    from gpubench.kernels.qmatmul import quant

    shape = dict(shape_items)
    x, w = unquantised(shape, dtype, error_device(), ERROR_SEED)
    exact = x.double() @ w.double().t()
    stats = quant.error_stats(quantised_product(x, w), exact)
    del exact
    return {
        **stats,
        "seed": ERROR_SEED,
        "against": "float64 GEMM of the unquantised fp16/bf16 inputs",
    }


def quant_error(quantised_product, shape, dtype: str) -> dict:
    """The error the format costs on this shape: rel. Frobenius and SQNR of the float64 product of the
    dequantised operands (`quantised_product(x, w)`) against the float64 product of x and w, measured on
    the inputs of seed ERROR_SEED (on the current GPU when there is one); cached per shape and dtype."""
    return dict(_error(quantised_product, tuple(sorted(shape.items())), dtype))


def record_details(fmt: dict, shape, dtype: str, quantised_product) -> dict:
    return {
        "format": dict(fmt),
        "dense_bytes": dense_bytes(shape, dtype),
        "quant_error": quant_error(quantised_product, shape, dtype),
    }




def capability(device) -> tuple[int, int] | None:
    if getattr(device, "type", "cpu") != "cuda":
        return None
    import torch

    return torch.cuda.get_device_capability(device)


def needs_sm80_for_bf16(device, dtype: str) -> str | None:
    cap = capability(device)
    if dtype == "bf16" and cap is not None and cap < (8, 0):
        return "bf16 needs compute capability 8.0 or newer"
    return None


def tma_supported(device, shape, dtype) -> str | None:
    """Why the persistent TMA kernel cannot run here (None when it can)."""
    from gpubench.kernels.qmatmul import triton_scaled

    if not triton_scaled.HAS_TENSOR_DESCRIPTORS:
        import triton

        return f"triton {triton.__version__} has no tensor descriptors (triton.tools.tensor_descriptor)"
    cap = capability(device)
    if cap is not None and cap[0] != 9:
        return f"needs Hopper (sm_90) TMA and is tuned for it; this GPU is sm_{cap[0]}{cap[1]}"
    return triton_scaled.tma_problem(shape["K"])


# ---- the scaled formats (fp8, int8): inputs (a, a_scale, b, b_scale, a_deq, b_deq) ----


def scaled_inputs(quantise):
    """make_inputs for a scaled format: `quantise(x, w)` gives (a, a_scale, b, b_scale); the dequantised
    operands rounded to the dtype come along for the dense baseline."""

    def make_inputs(shape, dtype, device, seed=0):
        from gpubench.kernels.qmatmul import quant

        x, w = unquantised(shape, dtype, device, seed)
        a, sa, b, sb = quantise(x, w)
        out = torch_dtype(dtype)
        return a, sa, b, sb, quant.dequantize(a, sa).to(out), quant.dequantize(b, sb).to(out)

    return make_inputs


def scaled_reference(a, a_scale, b, b_scale, a_deq, b_deq):
    """float64 product of the dequantised operands, rounded once to the output dtype."""
    from gpubench.kernels.qmatmul import quant

    return matmul64(quant.dequantize(a, a_scale), quant.dequantize(b, b_scale), a_deq.dtype)


def scaled_product(quantise):
    """The float64 product of the dequantised operands of x and w (for the recorded error)."""

    def product(x, w):
        from gpubench.kernels.qmatmul import quant

        a, sa, b, sb = quantise(x, w)
        return quant.dequantize(a, sa) @ quant.dequantize(b, sb).t()

    return product


def scaled_launcher(module: str, attr: str):
    """A variant's fn: the launcher `module.attr(a, a_scale, b, b_scale, out_dtype)` on the inputs."""
    run = launcher(module, attr)

    def fn(a, a_scale, b, b_scale, a_deq, b_deq):
        return run(a, a_scale, b, b_scale, a_deq.dtype)

    fn.__name__ = attr
    return fn


_dense = launcher("baselines", "dense")


def scaled_dense(a, a_scale, b, b_scale, a_deq, b_deq):
    """The dense fp16/bf16 baseline on the dequantised operands."""
    return _dense(a_deq, b_deq)
