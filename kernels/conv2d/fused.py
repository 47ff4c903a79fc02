"""conv2d_bias_relu: out = relu(conv(x, w) + bias) (conv2d's axes, shapes.FUSED_SHAPES): the fusion the
HPC-for-ML courses teach with cuDNN. The Triton and CUDA C kernels add the bias and clamp in their epilogue,
so the output is written once; `unfused` runs the convolution, the bias add and the ReLU as three kernels
(role `unfused`: the report sets every other variant against it, beside the byte ratio kernels/fusion.py
counts, which every record carries under extra.fusion); cuDNN's own fused kernel and torch.compile (which
fuses the epilogue itself) are the baselines.

Inputs: x, w and bias [out_channels] (N(0, 1), so about half the outputs are clamped), then stride,
padding, dilation, groups. FLOPs are the convolution's (the bias add and the clamp are a pass over the
output, memory work: the same convention as the quantised matmuls' scaling epilogue).
"""

from __future__ import annotations

from gpubench.kernels import compiled
from gpubench.kernels import conv2d as base
from gpubench.kernels.conv2d import shapes as _shapes
from gpubench.kernels.fusion import fused_bytes, fusion_bytes
from gpubench.kernels.workload import Variant, Workload
from gpubench.roles import BASELINE, UNFUSED

NAME = "conv2d_bias_relu"


def make_inputs(shape, dtype, device, seed=0):
    return (*base.tensors(shape, dtype, device, seed, bias=True), *base.params(shape))


def reference(x, w, bias, stride, padding, dilation, groups):
    """relu(float64 convolution + bias), rounded once to x's dtype, channels_last."""
    import torch

    conv = base.reference_f64(x, w, stride, padding, dilation, groups)
    out = torch.relu(conv + bias.to(torch.float64).view(1, -1, 1, 1))
    return out.to(x.dtype).contiguous(memory_format=torch.channels_last)


def nbytes(shape, dtype):
    # Read x (the pixels the windows touch), w and the bias once, write out once (kernels/fusion.py counts
    # it beside the unfused sequence's).
    return fused_bytes(NAME, shape, dtype)


def details(shape, dtype):
    return {**base.details(shape, dtype), "fusion": fusion_bytes(NAME, shape, dtype)}


def _cudnn_supported(device, shape, dtype):
    from gpubench.kernels.conv2d.baselines import cudnn_problem

    return cudnn_problem(device)


def _variants():
    from gpubench.kernels.conv2d import baselines

    core = compiled.Compiled(baselines.compiled_conv_bias_relu, compiled.MAX_AUTOTUNE)
    return {
        "triton": Variant("triton", "triton", base.launcher("triton_kernels", "conv2d_bias_relu"),
                          supported=base.triton_supported,
                          description="Triton implicit GEMM with the bias add and ReLU in its epilogue"),
        "cuda": Variant("cuda", "cupy", base.launcher("cupy_kernels", "conv2d_bias_relu"),
                        supported=base.cuda_supported,
                        description="CUDA C implicit GEMM with the bias add and ReLU in its epilogue"),
        "torch": Variant("torch", "torch", baselines.conv_bias_relu, supported=_cudnn_supported,
                         role=BASELINE, description="torch.cudnn_convolution_relu: cuDNN's fused "
                         "convolution + bias + activation, channels_last"),
        "unfused": Variant("unfused", "torch", baselines.unfused, role=UNFUSED,
                           description="torch ops as separate kernels: conv2d (cuDNN), add bias, relu"),
        compiled.NAME: compiled.variant(core, "relu(conv2d(x, w, bias))",
                                        launcher=base.compiled_launcher(core)),
    }  # fmt: skip


WORKLOAD = Workload(
    name=NAME,
    axes=_shapes.AXES,
    shapes=_shapes.FUSED_SHAPES,
    dtypes=base.DTYPES,
    tolerances=base.TOLERANCES,
    make_inputs=make_inputs,
    reference=reference,
    flops=base.flops,
    bytes=nbytes,
    variants=_variants(),
    description="Conv + bias + ReLU: the fused epilogue (Triton, CUDA C, cuDNN, torch.compile) against the "
    "unfused sequence.",
    uses_tensor_cores=True,
    details=details,
)
