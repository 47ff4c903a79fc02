"""torch.autograd wrapper of the Triton LayerNorm (the kernel modules hold no autograd).

    y = TritonLayerNorm.apply(x, weight, bias, eps)

x may have any number of leading dimensions (normalised over the last one); it is viewed as
[rows, cols] for the kernels, which need it contiguous.
"""

from __future__ import annotations

import torch

from gpubench.kernels.checks import require_tensor
from gpubench.kernels.layernorm.triton_kernels import layernorm_backward, layernorm_forward


class TritonLayerNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps=1e-5):
        require_tensor("x", x)
        if x.dim() < 1:
            raise ValueError("x must have at least one dimension")
        shape = x.shape
        x2 = x.reshape(-1, shape[-1]) if x.dim() != 2 else x
        y, mean, rstd = layernorm_forward(x2, weight, bias, eps)
        ctx.save_for_backward(x2, weight, mean, rstd)
        ctx.shape = shape
        return y.view(shape)

    @staticmethod
    def backward(ctx, dy):
        x2, weight, mean, rstd = ctx.saved_tensors
        dx, dw, db = layernorm_backward(dy.reshape(x2.shape).contiguous(), x2, weight, mean, rstd)
        return dx.view(ctx.shape), dw, db, None


def triton_layer_norm(x, weight, bias, eps: float = 1e-5):
    """Functional form of TritonLayerNorm.apply."""
    return TritonLayerNorm.apply(x, weight, bias, eps)
