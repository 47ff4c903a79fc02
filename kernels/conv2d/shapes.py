"""The convolution layers users recognise, as the conv2d workloads' shapes, each under its layer's name.

AlexNet conv1-5 (torchvision's single-GPU form: 64, 192, 384, 256, 256 filters) at batch 128, the paper's
batch; ResNet-50's bottleneck stages conv2_x..conv5_x (torchvision's v1.5: the stride-2 sits in the 3x3),
one 3x3 and the expanding 1x1 of each, at batch 1 (latency), 32 and 128 (throughput); ESPCN's three layers
for x3 super-resolution of a 640x360 luma frame to 1920x1080 (Shi et al., 2016: 5x5 with 64 filters, 3x3 with
32, 3x3 with r^2 = 9), batch 1. Axes: batch, in_channels, out_channels, height, width (of the input),
kernel (square), stride, padding, dilation, groups. Imports neither torch nor triton.
"""

from __future__ import annotations

AXES = ("batch", "in_channels", "out_channels", "height", "width", "kernel", "stride", "padding",
        "dilation", "groups")  # fmt: skip


def conv(batch, cin, cout, h, w, k, stride=1, padding=0, dilation=1, groups=1) -> dict[str, int]:
    return dict(zip(AXES, (batch, cin, cout, h, w, k, stride, padding, dilation, groups)))


def _alexnet(batch: int) -> dict[str, dict]:
    return {
        "alexnet.conv1": conv(batch, 3, 64, 224, 224, 11, 4, 2),
        "alexnet.conv2": conv(batch, 64, 192, 27, 27, 5, 1, 2),
        "alexnet.conv3": conv(batch, 192, 384, 13, 13, 3, 1, 1),
        "alexnet.conv4": conv(batch, 384, 256, 13, 13, 3, 1, 1),
        "alexnet.conv5": conv(batch, 256, 256, 13, 13, 3, 1, 1),
    }


# (stage, input size of its 3x3, width): the 3x3 of each stage's later blocks (stride 1), and the 1x1 that
# expands the width four times.
_RESNET_STAGES = (("conv2_x", 56, 64), ("conv3_x", 28, 128), ("conv4_x", 14, 256), ("conv5_x", 7, 512))


def _resnet50(batch: int) -> dict[str, dict]:
    out = {}
    for stage, size, width in _RESNET_STAGES:
        out[f"resnet50.{stage}.3x3.b{batch}"] = conv(batch, width, width, size, size, 3, 1, 1)
        out[f"resnet50.{stage}.1x1.b{batch}"] = conv(batch, width, 4 * width, size, size, 1)
    return out


ESPCN = {
    "espcn.conv1": conv(1, 1, 64, 360, 640, 5, 1, 2),
    "espcn.conv2": conv(1, 64, 32, 360, 640, 3, 1, 1),
    "espcn.conv3": conv(1, 32, 9, 360, 640, 3, 1, 1),
}
ALEXNET = _alexnet(128)
RESNET50 = {name: s for batch in (1, 32, 128) for name, s in _resnet50(batch).items()}
LAYERS = {**ALEXNET, **RESNET50, **ESPCN}  # name -> shape, every bench layer

# Small and ragged for the Triton interpreter and the host emulation (tiles of 32 there): padding on
# ragged sizes, stride 2 with height != width, 1x1, a 7x7 stem at stride 2, dilation 2, two groups, and
# more channels than one K tile (40) with an output channel count past one N tile (33).
TEST = [
    conv(1, 3, 5, 7, 7, 3, 1, 1),
    conv(2, 5, 7, 9, 11, 3, 2, 1),
    conv(1, 16, 24, 6, 6, 1),
    conv(1, 3, 8, 15, 15, 7, 2, 3),
    conv(2, 6, 4, 8, 8, 3, 1, 2, 2),
    conv(1, 8, 6, 7, 7, 3, 1, 1, 1, 2),
    conv(1, 40, 33, 5, 6, 3),
]
# The quick profile's: a ResNet-50 3x3 and 1x1 at batch 32, where the conv target is stated.
QUICK = [RESNET50["resnet50.conv4_x.3x3.b32"], RESNET50["resnet50.conv3_x.1x1.b32"]]

SHAPES = {"test": TEST, "bench": list(LAYERS.values()), "quick": QUICK}
# Conv + bias + ReLU: the layers that carry a bias in their networks (AlexNet, ESPCN), and ResNet-50's at
# batch 32 (its convolution followed by a folded batch norm is a bias, then ReLU, at inference).
FUSED_SHAPES = {
    "test": TEST,
    "bench": [*ALEXNET.values(), *ESPCN.values(), *_resnet50(32).values()],
    "quick": [RESNET50["resnet50.conv4_x.3x3.b32"]],
}


def layer_name(shape) -> str | None:
    """The name of the network layer `shape` is (None for a test shape)."""
    items = dict(shape)
    return next((name for name, s in LAYERS.items() if s == items), None)
