"""conv2d: out = conv(x, w) on channels_last (NHWC) tensors (axes batch, in_channels, out_channels, height,
width, kernel, stride, padding, dilation, groups; shapes.py names the layers). `conv2d_bias_relu`
(fused.py) is the same convolution with a bias and a ReLU, fused against the unfused sequence.

Inputs (every variant and the reference take them): x [N, C, H, W] and w [K, C / groups, R, S], both
channels_last, then stride, padding, dilation and groups as ints. x ~ N(0, 1) and w ~ N(0, 1) / sqrt(C/g R S),
so every output is O(1) whatever the layer. The reference is the float64 convolution, rounded once.

FLOPs: 2 N K (C / groups) R S P Q, a multiply-add per filter tap per output (torch's FlopCounterMode counts
the same; the padding's zeros are multiplied too, as every kernel here does). Bytes: the compulsory traffic,
each once: the input pixels some window reads (a stride-2 1x1 reads a quarter), the weights, the output
(gpubench.opcount.conv_bytes). See docs/conv2d.md.
"""

from __future__ import annotations

from gpubench import dtypes
from gpubench.kernels import compiled
from gpubench.kernels.conv2d import shapes as _shapes
from gpubench.kernels.lazy import Lazy
from gpubench.kernels.qmatmul.common import BF16_INTERPRETER
from gpubench.kernels.workload import Tolerance, Variant, Workload
from gpubench.opcount import conv_bytes, conv_out
from gpubench.roles import BASELINE

DTYPES = ("fp32", "fp16", "bf16")
# Outputs are N(0, 1) for any layer (see above); the reduction is C/g R S long (up to 4608 in ResNet-50).
#   fp32: IEEE on every side. A direct fp32 sum's rounding error grows like sqrt(4608) x 2^-24 ~ 4e-6; cuDNN
#         may choose Winograd or FFT algorithms for fp32, whose transforms amplify rounding by one to two
#         orders of magnitude (F(4x4, 3x3) interpolates at 0, +-1, +-2, +-1/2): 1e-3 absolute covers them
#         with room (not measured on a GPU yet: the first GPU run's records carry each variant's largest
#         error, correctness.max_abs_err).
#   fp16, bf16: exact inputs, fp32 accumulation, one rounding of the output: two ulps relative (2e-3,
#         1.6e-2); atol as GEMM's for outputs near zero, doubled for cuDNN's 16-bit Winograd, which rounds
#         its transformed tiles to the storage dtype.
TOLERANCES = {
    "fp32": Tolerance(atol=1e-3, rtol=1e-4),
    "fp16": Tolerance(atol=1e-2, rtol=2e-3),
    "bf16": Tolerance(atol=4e-2, rtol=1.6e-2),
}


def launcher(module: str, attr: str) -> Lazy:
    """`attr` of this family's `module`, imported on its first call."""
    return Lazy(__package__, module, attr)


def params(shape) -> tuple[int, int, int, int]:
    """(stride, padding, dilation, groups) of a shape: the inputs after the tensors."""
    return shape["stride"], shape["padding"], shape["dilation"], shape["groups"]


def out_size(shape) -> tuple[int, int]:
    """(P, Q): the output's height and width."""
    geo = (shape["kernel"], shape["stride"], shape["padding"], shape["dilation"])
    return conv_out(shape["height"], *geo), conv_out(shape["width"], *geo)


def tensors(shape, dtype, device, seed, bias: bool = False):
    """x, w (and a N(0, 1) bias of out_channels) for `shape`, channels_last, seeded."""
    import math

    import torch

    from gpubench.kernels.inputs import generator, randn

    g = generator(device, seed)
    n, c, k, r, groups = (shape[a] for a in ("batch", "in_channels", "out_channels", "kernel", "groups"))
    cl = torch.channels_last
    x = randn((n, c, shape["height"], shape["width"]), dtype, device, g).contiguous(memory_format=cl)
    fan_in = max(c // groups * r * r, 1)
    w = randn((k, c // groups, r, r), dtype, device, g, 1 / math.sqrt(fan_in)).contiguous(memory_format=cl)
    return (x, w, randn((k,), dtype, device, g)) if bias else (x, w)


def make_inputs(shape, dtype, device, seed=0):
    return (*tensors(shape, dtype, device, seed), *params(shape))


def reference_f64(x, w, stride, padding, dilation, groups):
    """The convolution in float64 (on x's device)."""
    import torch
    import torch.nn.functional as F

    return F.conv2d(x.to(torch.float64), w.to(torch.float64), None, stride, padding, dilation, groups)


def reference(x, w, stride, padding, dilation, groups):
    """The float64 convolution, rounded once to x's dtype, channels_last."""
    import torch

    out = reference_f64(x, w, stride, padding, dilation, groups)
    return out.to(x.dtype).contiguous(memory_format=torch.channels_last)


def flops(shape) -> int:
    P, Q = out_size(shape)
    cg = shape["in_channels"] // shape["groups"]
    return 2 * shape["batch"] * shape["out_channels"] * cg * shape["kernel"] ** 2 * P * Q


def nbytes(shape, dtype) -> int:
    # Read each input pixel a window touches once, the weights once; write the output once
    # (gpubench.opcount.conv_bytes, tensor by tensor).
    return sum(conv_bytes(shape, dtypes.itemsize(dtype)).values())


def details(shape, dtype) -> dict:
    """The layer the shape is, and the implicit GEMM it is (M x N x K per group)."""
    P, Q = out_size(shape)
    groups = shape["groups"]
    gemm = {"M": shape["batch"] * P * Q, "N": shape["out_channels"] // groups,
            "K": shape["in_channels"] // groups * shape["kernel"] ** 2, "groups": groups}  # fmt: skip
    return {"conv": {"layer": _shapes.layer_name(shape), "out_height": P, "out_width": Q, "gemm": gemm}}




def on_gpu(device) -> bool:
    return getattr(device, "type", "cpu") == "cuda"


def triton_supported(device, shape, dtype):
    if not on_gpu(device) and dtype == "bf16":
        return BF16_INTERPRETER
    return needs_sm80_for_bf16(device, dtype)


def needs_sm80_for_bf16(device, dtype):
    import torch

    if dtype == "bf16" and on_gpu(device) and torch.cuda.get_device_capability(device)[0] < 8:
        return "bf16 needs compute capability 8.0 or newer"
    return None


def cuda_supported(device, shape, dtype):
    from gpubench.kernels.conv2d import cupy_kernels

    return needs_sm80_for_bf16(device, dtype) or cupy_kernels.too_slow(shape)


def compiled_launcher(core):
    """torch.compile's launcher of `core`: TF32 off while inductor compiles and runs it (fp32 is IEEE)."""

    def launch(*inputs):
        from gpubench.kernels.conv2d.baselines import ieee_fp32

        with ieee_fp32():
            return core(*inputs)

    launch.__name__ = core.__name__
    return launch


def _variants():
    from gpubench.kernels.conv2d import baselines

    core = compiled.Compiled(baselines.compiled_conv, compiled.MAX_AUTOTUNE)
    return {
        "triton": Variant("triton", "triton", launcher("triton_kernels", "conv2d"),
                          supported=triton_supported,
                          description="Triton implicit GEMM on NHWC: taps x channel tiles (a flat "
                          "reduction for the stems), tensor cores for fp16/bf16, autotuned per arch"),
        "cuda": Variant("cuda", "cupy", launcher("cupy_kernels", "conv2d"), supported=cuda_supported,
                        description="CUDA C implicit GEMM on NHWC: 64x64 tiles of pixels x filters, "
                        "im2col gathered into shared memory, fp32 FMA"),
        "torch": Variant("torch", "torch", baselines.conv, role=BASELINE,
                         description="torch.nn.functional.conv2d, channels_last (cuDNN on a GPU)"),
        compiled.NAME: compiled.variant(core, "torch.nn.functional.conv2d", launcher=compiled_launcher(core)),
    }  # fmt: skip


WORKLOAD = Workload(
    name="conv2d",
    axes=_shapes.AXES,
    shapes=_shapes.SHAPES,
    dtypes=DTYPES,
    tolerances=TOLERANCES,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes=nbytes,
    variants=_variants(),
    description="2-D convolution, NHWC: implicit GEMM (Triton, CUDA C) against cuDNN and torch.compile.",
    uses_tensor_cores=True,
    details=details,
)
