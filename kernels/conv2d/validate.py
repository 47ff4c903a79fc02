"""Argument checks shared by every conv2d launcher: clear errors instead of wrong answers.

Layout (torch's channels_last): x is [N, C, H, W] stored as N, H, W, C; w is [K, C / groups, R, S] stored as
K, R, S, C / groups; the optional bias is [K]; all one dtype (fp32, fp16, bf16) on one device. The output is
[N, K, P, Q] channels_last.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gpubench.kernels.checks import require_dtype, require_int, require_ndim, require_same, require_tensor
from gpubench.kernels.workload import torch_dtypes
from gpubench.opcount import conv_out

DTYPES = torch_dtypes("fp32", "fp16", "bf16")
CHANNELS_LAST = torch.channels_last


@dataclass(frozen=True)
class Geometry:
    N: int
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    P: int
    Q: int
    stride: int
    padding: int
    dilation: int
    groups: int

    @property
    def Cg(self) -> int:  # input channels per group
        return self.C // self.groups

    @property
    def Kg(self) -> int:  # output channels per group
        return self.K // self.groups

    @property
    def M(self) -> int:  # output pixels: the implicit GEMM's rows
        return self.N * self.P * self.Q


def _channels_last(name: str, t) -> None:
    if not t.is_contiguous(memory_format=CHANNELS_LAST):
        raise ValueError(
            f"{name} must be channels_last (got strides {tuple(t.stride())}); "
            "call .contiguous(memory_format=torch.channels_last) first"
        )


def validate(x, w, bias, stride, padding, dilation, groups) -> Geometry:
    for name, t in (("x", x), ("w", w)):
        require_tensor(name, t)
        require_ndim(name, t, 4)
        require_dtype(name, t, DTYPES)
        _channels_last(name, t)
    require_same(("x", "w"), (x, w), shape=False)
    stride = require_int("stride", stride, minimum=1)
    padding = require_int("padding", padding, minimum=0)
    dilation = require_int("dilation", dilation, minimum=1)
    groups = require_int("groups", groups, minimum=1)
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    if C % groups or K % groups:
        raise ValueError(f"groups={groups} must divide in_channels={C} and out_channels={K}")
    if Cg != C // groups:
        raise ValueError(f"w is {tuple(w.shape)}: expected [K, C / groups = {C // groups}, R, S]")
    if bias is not None:
        require_tensor("bias", bias)
        require_same(("x", "bias"), (x, bias), shape=False)
        if tuple(bias.shape) != (K,) or not bias.is_contiguous():
            raise ValueError(f"bias must be a contiguous [{K}] tensor, got {tuple(bias.shape)}")
    P, Q = conv_out(H, R, stride, padding, dilation), conv_out(W, S, stride, padding, dilation)
    if P <= 0 or Q <= 0:
        raise ValueError(f"the filter ({R}x{S}, dilation {dilation}) does not fit the padded input "
                         f"({H}x{W} + 2 x {padding})")  # fmt: skip
    return Geometry(N, C, H, W, K, R, S, P, Q, stride, padding, dilation, groups)


def empty_output(x, g: Geometry) -> torch.Tensor:
    return torch.empty((g.N, g.K, g.P, g.Q), dtype=x.dtype, device=x.device, memory_format=CHANNELS_LAST)
