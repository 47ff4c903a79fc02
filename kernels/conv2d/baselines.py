"""torch's convolutions, the baselines: cuDNN through torch on channels_last tensors (F.conv2d; for Conv +
bias + ReLU, cuDNN's own fused kernel, torch.cudnn_convolution_relu), the unfused sequence (the convolution,
then the bias add, then the ReLU: three kernels, the intermediate written and read back twice), and what
torch.compile is given (kernels/compiled.py).

fp32 is IEEE fp32 on both sides of every comparison: cuDNN, and inductor's convolution templates, which read
the same switch, run with TF32 off for the call (torch allows TF32 in cuDNN by default).
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from gpubench.kernels.conv2d.validate import validate


@contextlib.contextmanager
def ieee_fp32():
    """cuDNN convolutions (and inductor's, compiled meanwhile) with TF32 off; the setting is restored.
    torch >= 2.9 refuses the legacy flag once its fp32_precision API has been used: then that API."""
    cudnn = torch.backends.cudnn
    try:
        previous, legacy = cudnn.allow_tf32, True
    except RuntimeError:
        previous, legacy = cudnn.conv.fp32_precision, False
    if legacy:
        cudnn.allow_tf32 = False
    else:
        cudnn.conv.fp32_precision = "ieee"
    try:
        yield
    finally:
        if legacy:
            cudnn.allow_tf32 = previous
        else:
            cudnn.conv.fp32_precision = previous


def conv(x, w, stride, padding, dilation, groups):
    """F.conv2d: cuDNN on a GPU, on channels_last tensors in and out."""
    validate(x, w, None, stride, padding, dilation, groups)
    with ieee_fp32():
        return F.conv2d(x, w, None, stride, padding, dilation, groups)


def cudnn_problem(device) -> str | None:
    if getattr(device, "type", "cpu") != "cuda":
        return "cuDNN's fused Conv + bias + ReLU (torch.cudnn_convolution_relu) runs on CUDA only"
    if not hasattr(torch, "cudnn_convolution_relu"):
        return f"torch {torch.__version__} has no torch.cudnn_convolution_relu"
    return None


def conv_bias_relu(x, w, bias, stride, padding, dilation, groups):
    """cuDNN's fused convolution + bias + activation (cudnnConvolutionBiasActivationForward)."""
    validate(x, w, bias, stride, padding, dilation, groups)
    with ieee_fp32():
        pairs = [(v, v) for v in (stride, padding, dilation)]
        return torch.cudnn_convolution_relu(x, w, bias, *pairs, groups)


def unfused(x, w, bias, stride, padding, dilation, groups):
    """The "before fusion" form: the convolution, the bias add and the ReLU as three kernels, each
    intermediate materialised in x's dtype (the op list kernels/fusion.py counts)."""
    validate(x, w, bias, stride, padding, dilation, groups)
    with ieee_fp32():
        y = F.conv2d(x, w, None, stride, padding, dilation, groups)
    y = y + bias.view(1, -1, 1, 1)
    return torch.relu(y)


# ---- what torch.compile compiles: plain torch, one function each (kernels/compiled.py) ----


def compiled_conv(x, w, stride, padding, dilation, groups):
    return F.conv2d(x, w, None, stride, padding, dilation, groups)


def compiled_conv_bias_relu(x, w, bias, stride, padding, dilation, groups):
    return torch.relu(F.conv2d(x, w, bias, stride, padding, dilation, groups))
