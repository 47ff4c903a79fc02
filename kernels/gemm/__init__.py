"""gemm: C = A @ B with A MxK and B KxN, row-major and contiguous (axes `M`, `N`, `K`).

dtypes:
  fp32  IEEE fp32 data and math: no TF32 anywhere (the reference and the torch baseline run with
        TF32 switched off for the call); on tensor-core GPUs this is the SIMT (FMA-unit) roofline.
  tf32  fp32 data, TF32 tensor-core math allowed on both sides of every comparison (on CPU: fp32).
  fp16, bf16  16-bit data, fp32 accumulation, C rounded to the input dtype.
C comes back in the input dtype (fp32 for fp32/tf32).

Every variant and the reference take (a, b, allow_tf32): the flag is how "tf32" differs from "fp32"
when the data are the same float32 tensors. Importing this package needs neither torch nor triton
(the launchers load on first call), so `gpubench tiling` runs without them.
"""

from __future__ import annotations

import math

from gpubench import dtypes
from gpubench.kernels import compiled
from gpubench.kernels.lazy import Lazy
from gpubench.kernels.workload import Tolerance, Variant, Workload
from gpubench.roles import BASELINE

AXES = ("M", "N", "K")
DTYPES = ("fp32", "tf32", "fp16", "bf16")

# Inputs are N(0, 1) scaled by K^-1/4 each, so every product has variance 1/K and C ~ N(0, 1) for any K
# (the largest |C| over 8192^2 outputs is about 5.5). Error budgets, for K up to 8192:
#   fp32: fp32 accumulation against a float64 reference. The rounding error of a length-K sum of O(1)
#         partial sums grows like sqrt(K) * 2^-24 ~ 5e-6 at K = 8192, a few 1e-5 in the worst of
#         67M outputs, whatever the summation order (split-K, tree): 1e-4 leaves a 5x margin.
#   tf32: both inputs are rounded to a 10-bit mantissa (relative error up to 2^-11 when rounded, 2^-10
#         when truncated), so each product is off by up to ~2^-10 relative; summed with random signs
#         over K products of size K^-1/2 the error has a K-independent spread of ~5e-4, ~3e-3 at the
#         tails (more if truncated): 1e-2 absolute and relative.
#   fp16: the inputs are exact on both sides; C is rounded once to fp16 (the reference rounds the exact
#         value, a kernel its fp32 sum), so the two may differ by one fp16 ulp: 2^-10 relative at worst,
#         rtol 2e-3 = 2 ulps. atol covers near-zero outputs and cuBLAS's reduced-precision split-K
#         reductions (fp16 partial sums).
#   bf16: as fp16 with an 8-bit mantissa: one ulp is up to 2^-7 = 7.8e-3 relative; rtol 1.6e-2 = 2 ulps.
TOLERANCES = {
    "fp32": Tolerance(atol=1e-4, rtol=1e-4),
    "tf32": Tolerance(atol=1e-2, rtol=1e-2),
    "fp16": Tolerance(atol=5e-3, rtol=2e-3),
    "bf16": Tolerance(atol=2e-2, rtol=1.6e-2),
}


def launcher(module: str, attr: str) -> Lazy:
    """`attr` of this family's `module`, imported on its first call."""
    return Lazy(__package__, module, attr)


def _s(M, N, K):
    return {"M": M, "N": N, "K": K}


SHAPES = {
    # Small and ragged (none a multiple of the tiles), cheap for the Triton interpreter. The TMA variant
    # needs K and N multiples of 16 bytes: 64^3, 33x72x40, 1x200x136 and 16x64x200 are its cases.
    "test": [
        _s(1, 1, 1),
        _s(7, 13, 5),
        _s(33, 65, 17),
        _s(64, 64, 64),
        _s(100, 37, 129),
        _s(33, 72, 40),  # ragged tiles with aligned strides (TMA zero-fill and store clipping)
        _s(1, 200, 136),  # skinny: one row
        _s(16, 64, 200),  # skinny: 16 rows
    ],
    "bench": [
        *(_s(n, n, n) for n in (256, 512, 1024, 2048, 4096, 8192)),
        _s(4096, 11008, 4096),  # LLM MLP up-projection (7B-class)
        _s(4096, 4096, 11008),  # and down-projection
        _s(1, 8192, 8192),  # skinny: a single token (GEMV-like, memory bound)
        _s(16, 8192, 8192),  # skinny: a small decode batch
        _s(4095, 4097, 4093),  # ragged: no size is a multiple of any tile or vector width
    ],
    # The two squares the GEMM targets are stated at, one LLM projection, one skinny (decode-like) shape.
    "quick": [_s(4096, 4096, 4096), _s(8192, 8192, 8192), _s(4096, 11008, 4096), _s(16, 8192, 8192)],
}


def make_inputs(shape, dtype, device, seed=0):
    from gpubench.kernels.inputs import generator, randn

    M, N, K = shape["M"], shape["N"], shape["K"]
    g = generator(device, seed)
    scale = 1.0 / math.sqrt(math.sqrt(max(K, 1)))  # K^-1/4 on each input: C is O(1) for any K
    a = randn((M, K), dtype, device, g, scale)
    b = randn((K, N), dtype, device, g, scale)
    return a, b, dtype == "tf32"


def reference(a, b, allow_tf32=False):
    """float64 matmul of the (already rounded) inputs, then one rounding to the inputs' dtype."""
    import torch

    from gpubench.kernels.gemm.validate import matmul_tf32

    with matmul_tf32(False):  # float64 ignores the flag; kept so no reference ever runs with TF32 on
        out = torch.matmul(a.to(torch.float64), b.to(torch.float64))
    return out.to(a.dtype)


def flops(shape):
    # One multiply and one add per (m, n, k) triple.
    return 2 * shape["M"] * shape["N"] * shape["K"]


def nbytes(shape, dtype):
    size = dtypes.itemsize(dtype)  # C has the inputs' itemsize for every dtype (fp32 for tf32)
    M, N, K = shape["M"], shape["N"], shape["K"]
    return (
        M * K * size  # read A once
        + K * N * size  # read B once
        + M * N * size  # write C once
    )




def _torch_matmul(a, b, allow_tf32=False):
    """torch.matmul (cuBLAS on GPU) with TF32 allowed exactly when the dtype says so."""
    import torch

    from gpubench.kernels.gemm.validate import matmul_tf32, validate

    validate(a, b, allow_tf32)
    with matmul_tf32(allow_tf32):
        return torch.matmul(a, b)


def _matmul(a, b, allow_tf32):  # compiled by torch_compile; the flag keys a compile of its own
    import torch

    return torch.matmul(a, b)


_COMPILED = compiled.Compiled(_matmul, compiled.MAX_AUTOTUNE)


def _compiled_matmul(a, b, allow_tf32=False):
    """The compiled matmul with TF32 allowed exactly when the dtype says so, while inductor compiles (its
    templates read the flag) and while it runs."""
    from gpubench.kernels.gemm.validate import matmul_tf32, validate

    validate(a, b, allow_tf32)
    with matmul_tf32(allow_tf32):
        return _COMPILED(a, b, allow_tf32)


# ---- which variant runs where ----

_BF16_INTERPRETER = (
    "bf16 tl.dot is not supported by the Triton interpreter (triton issue 11584); runs on GPU only"
)
# naive and smem at 4096^3 would take seconds per call: not worth minutes of GPU time.
_SLOW_LIMIT = 2**33


def _capability(device):
    import torch

    return torch.cuda.get_device_capability(device)


def _needs_sm80_for_bf16(device, dtype) -> str | None:
    if dtype == "bf16" and getattr(device, "type", "cpu") == "cuda" and _capability(device)[0] < 8:
        return "bf16 needs compute capability 8.0 or newer"
    return None


def _triton_supported(device, shape, dtype):
    if getattr(device, "type", "cpu") != "cuda" and dtype == "bf16":
        return _BF16_INTERPRETER
    return _needs_sm80_for_bf16(device, dtype)


def _tma_supported(device, shape, dtype):
    from gpubench.kernels.gemm import triton_kernels

    if not triton_kernels.HAS_TENSOR_DESCRIPTORS:
        import triton

        return f"triton {triton.__version__} has no tensor descriptors (triton.tools.tensor_descriptor)"
    if getattr(device, "type", "cpu") == "cuda":
        major, minor = _capability(device)
        if major != 9:
            return f"needs Hopper (sm_90) TMA and is tuned for it; this GPU is sm_{major}{minor}"
    elif dtype == "bf16":
        return _BF16_INTERPRETER
    return triton_kernels.tma_alignment_problem(shape["K"], shape["N"], dtypes.itemsize(dtype))


def _too_slow(shape) -> str | None:
    if shape["M"] * shape["N"] * shape["K"] > _SLOW_LIMIT:
        return "too slow to be worth timing at this size (M*N*K > 2^33); checked at the smaller shapes"
    return None


def _simple_supported(device, shape, dtype):
    return _too_slow(shape) or _needs_sm80_for_bf16(device, dtype)


def _simt_supported(device, shape, dtype):
    if dtype == "tf32":
        return "the SIMT kernel computes in IEEE fp32 only; its fp32 record is the one to read"
    if dtype != "fp32":
        return "fp32 only (the SIMT kernel is the no-tensor-core SGEMM)"
    return None


def _mma_supported(device, shape, dtype):
    if dtype not in ("fp16", "bf16"):
        return "mma.sync m16n8k16 kernel for fp16/bf16 only"
    if getattr(device, "type", "cpu") == "cuda" and _capability(device)[0] < 8:
        return "needs compute capability 8.0+ (mma.sync m16n8k16, cp.async, ldmatrix)"
    return None


def _variants():
    return {
        "triton": Variant(
            "triton",
            "triton",
            launcher("triton_kernels", "matmul_tiled"),
            supported=_triton_supported,
            description="Triton, tiled with grouped launch order, autotuned per architecture",
        ),
        "triton_persistent_tma": Variant(
            "triton_persistent_tma",
            "triton",
            launcher("triton_kernels", "matmul_persistent_tma"),
            supported=_tma_supported,
            description="Triton, persistent (one program per SM) with TMA tensor descriptors (Hopper)",
        ),
        "cuda_naive": Variant(
            "cuda_naive",
            "cupy",
            launcher("cupy_kernels", "gemm_naive"),
            supported=_simple_supported,
            description="CUDA C, one thread per output, operands from global memory",
        ),
        "cuda_smem": Variant(
            "cuda_smem",
            "cupy",
            launcher("cupy_kernels", "gemm_smem"),
            supported=_simple_supported,
            description="CUDA C, 32x32 shared-memory tiles, one output per thread",
        ),
        "cuda_simt": Variant(
            "cuda_simt",
            "cupy",
            launcher("cupy_kernels", "gemm_simt"),
            supported=_simt_supported,
            description="CUDA C SGEMM (FMA units): 128x128 tile, 8x8 per thread, cp.async double buffer",
        ),
        "cuda_mma": Variant(
            "cuda_mma",
            "cupy",
            launcher("cupy_kernels", "gemm_mma"),
            supported=_mma_supported,
            description="CUDA C, tensor cores via mma.sync m16n8k16 + ldmatrix, 3-stage cp.async",
        ),
        "torch": Variant("torch", "torch", _torch_matmul, description="torch.matmul (cuBLAS on GPU)",
                         role=BASELINE),
        compiled.NAME: compiled.variant(_COMPILED, "torch.matmul", launcher=_compiled_matmul),
    }


WORKLOAD = Workload(
    name="gemm",
    axes=AXES,
    shapes=SHAPES,
    dtypes=DTYPES,
    tolerances=TOLERANCES,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes=nbytes,
    variants=_variants(),
    description="Dense matrix multiply C = A @ B: tiling, data reuse and tensor cores.",
    # Selects the tensor-core peaks for fp16/bf16/tf32. fp32 is IEEE fp32 and runs on the SIMT (FMA)
    # units, so its roofline is the SIMT fp32 peak even though this flag is set.
    uses_tensor_cores=True,
)
