"""GPU correctness of the convolutions (run with `nox -s gpu`): every variant of conv2d and conv2d_bias_relu
(Triton, CUDA C via CuPy, cuDNN, torch.compile, unfused) with the harness's check on the test shapes and on
real layers (an AlexNet stem at stride 4, ResNet-50's 1x1 and 3x3, ESPCN's one-channel stem); what must run
on this GPU does; a wrong convolution is rejected on the GPU too; fp32 stays IEEE (a TF32 leak fails it)."""

import pytest
import torch
import torch.nn.functional as F

from gpubench import kernels
from gpubench.bench.measure.correctness import CorrectnessError, check_variant
from gpubench.kernels.conv2d import shapes
from gpubench.kernels.workload import Variant
from tests.support.gpu_cases import shapes_for

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

DEV = torch.device("cuda")
CONV, FUSED = kernels.get("conv2d"), kernels.get("conv2d_bias_relu")
# Real layers at a small batch: both reduction loops of the Triton kernel, every tile edge, a 1-channel stem.
LARGE = [
    {**shapes.LAYERS["alexnet.conv1"], "batch": 2},
    shapes.LAYERS["resnet50.conv3_x.1x1.b1"],
    shapes.LAYERS["resnet50.conv4_x.3x3.b1"],
    {**shapes.LAYERS["espcn.conv1"], "height": 90, "width": 160},
    shapes.conv(3, 96, 80, 33, 29, 3, 2, 1, 1, 2),  # grouped, ragged, stride 2
]


def _cases():
    """The variants of one shape and dtype in a row: they share one reference (`references`)."""
    for w in (CONV, FUSED):
        for shape in [*w.shapes["test"], *LARGE]:
            for dtype in w.dtypes:
                for vname, v in w.variants.items():
                    if shape in shapes_for(w, v, LARGE):
                        yield pytest.param(w.name, vname, shape, dtype, id=f"{w.name}-{vname}-{dtype}-"
                                           f"{kernels.shape_id(shape)}")  # fmt: skip


@pytest.mark.parametrize("name,vname,shape,dtype", list(_cases()))
def test_variant_matches_reference(name, vname, shape, dtype, references):
    w = kernels.get(name)
    v = w.variant(vname)
    reason = v.skip_reason(DEV, shape, dtype)
    if reason:
        pytest.skip(reason)
    check_variant(w, v, shape, dtype, DEV, references=references)


def test_what_should_run_here_runs():
    cap = torch.cuda.get_device_capability()
    if cap < (8, 0):
        pytest.skip("the suite's kernels target sm_80 and newer")
    shape = shapes.LAYERS["resnet50.conv4_x.3x3.b32"]
    for w in (CONV, FUSED):
        for vname, v in w.variants.items():
            for dtype in w.dtypes:
                assert v.skip_reason(DEV, shape, dtype) is None, (w.name, vname, dtype)


def test_a_wrong_convolution_is_rejected_on_the_gpu():
    from gpubench.kernels.conv2d import triton_kernels as tk

    def transposed(x, w, *params):
        return tk.conv2d(x, w.transpose(2, 3).contiguous(memory_format=torch.channels_last), *params)

    def no_bias(x, w, b, *params):
        return torch.relu(F.conv2d(x, w, None, *params))

    shape = shapes.LAYERS["resnet50.conv4_x.3x3.b1"]
    for w, fn in ((CONV, transposed), (FUSED, no_bias)):
        with pytest.raises(CorrectnessError):
            check_variant(w, Variant("wrong", "torch", fn), shape, "bf16", DEV)
