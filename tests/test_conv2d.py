"""conv2d and conv2d_bias_relu on the CPU: the Triton implicit GEMM in the interpreter against the float64
reference on every test shape (both reduction loops, both epilogues), the negative tests the correctness
check must reject (a transposed filter, padding off by one, a missing bias), the layers by name and size,
the FLOP and byte accounting line by line, the fusion's byte analysis, and clear errors for bad input.
torch.compile's conv baselines are in tests/test_torch_compile.py, the CUDA C kernel in
tests/test_conv2d_cuda_host.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gpubench.bench.measure.correctness import CorrectnessError, check_variant
from gpubench.kernels import REGISTRY, Variant
from gpubench.kernels.conv2d import shapes
from gpubench.kernels.conv2d import triton_kernels as tk
from gpubench.kernels.fusion import fusion_bytes
from gpubench.opcount import conv_bytes, conv_out, conv_touched

CPU = torch.device("cpu")
CONV, FUSED = REGISTRY["conv2d"], REGISTRY["conv2d_bias_relu"]
CL = torch.channels_last


@pytest.mark.slow
@pytest.mark.parametrize("w", [CONV, FUSED], ids=lambda w: w.name)
@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_the_triton_kernel_matches_the_reference_in_the_interpreter(w, dtype):
    for shape in w.shapes["test"]:
        check_variant(w, w.variants["triton"], shape, dtype, CPU)


def test_both_reduction_loops_are_tested():
    t = tk.config.INTERPRETER
    from gpubench.kernels.conv2d.validate import validate

    loops = set()
    for shape in CONV.shapes["test"]:
        x, w, *params = CONV.make_inputs(shape, "fp32", CPU)
        loops.add(tk.flat(t, validate(x, w, None, *params)))
    assert loops == {True, False}


def test_bf16_dots_skip_in_the_interpreter_with_the_reason():
    reason = CONV.variants["triton"].skip_reason(CPU, CONV.shapes["test"][0], "bf16")
    assert "issue 11584" in reason


# ---- negative tests: wrong kernels the correctness check must reject ----


def _transposed_filter(x, w, stride, padding, dilation, groups):
    return F.conv2d(x, w.transpose(2, 3), None, stride, padding, dilation, groups)


def _padding_off_by_one(x, w, stride, padding, dilation, groups):
    """One row and column too few on the top-left, one too many on the bottom-right: same output size."""
    xp = F.pad(x, (padding - 1, padding + 1, padding - 1, padding + 1))
    return F.conv2d(xp, w, None, stride, 0, dilation, groups)


def _triton_transposed_filter(x, w, *params):
    return tk.conv2d(x, w.transpose(2, 3).contiguous(memory_format=CL), *params)


def _missing_bias(x, w, bias, *params):
    return torch.relu(F.conv2d(x, w, None, *params))


def _triton_missing_bias(x, w, bias, *params):
    return torch.relu(tk.conv2d(x, w, *params))


@pytest.mark.parametrize("workload, fn", [
    (CONV, _transposed_filter), (CONV, _padding_off_by_one), (CONV, _triton_transposed_filter),
    (FUSED, _missing_bias), (FUSED, _triton_missing_bias),
], ids=["transposed-filter", "padding-off-by-one", "triton-transposed-filter", "missing-bias",
        "triton-missing-bias"])  # fmt: skip
def test_a_wrong_convolution_is_rejected(workload, fn):
    shape = shapes.conv(2, 5, 7, 9, 11, 3, 1, 1)  # 3x3, padding 1: every one of the bugs shows
    with pytest.raises(CorrectnessError):
        check_variant(workload, Variant("wrong", "torch", fn), shape, "fp32", CPU)


# ---- the layers, the counts ----


def test_the_layers_have_the_sizes_of_their_networks():
    out = {n: conv_out(s["height"], s["kernel"], s["stride"], s["padding"]) for n, s in shapes.LAYERS.items()}
    assert [out[f"alexnet.conv{i}"] for i in range(1, 6)] == [55, 27, 13, 13, 13]
    assert {out[f"resnet50.conv{i}_x.{k}.b32"] for i, n in ((2, 56), (3, 28), (4, 14), (5, 7))
            for k in ("3x3", "1x1") if out[f"resnet50.conv{i}_x.{k}.b32"] != n} == set()  # fmt: skip
    assert {s["batch"] for n, s in shapes.RESNET50.items()} == {1, 32, 128}
    assert out["espcn.conv1"] == 360 and shapes.ESPCN["espcn.conv3"]["out_channels"] == 9
    assert CONV.record_details(shapes.LAYERS["alexnet.conv2"], "bf16")["conv"]["layer"] == "alexnet.conv2"
    assert CONV.record_details(shapes.TEST[0], "bf16")["conv"]["layer"] is None


def test_flops_are_two_n_k_c_r_s_p_q():
    s = shapes.LAYERS["alexnet.conv1"]
    assert CONV.flops(s) == 2 * 128 * 64 * 3 * 11 * 11 * 55 * 55
    grouped = shapes.conv(1, 8, 6, 7, 7, 3, 1, 1, 1, 2)  # two groups: each filter sees 4 channels
    assert CONV.flops(grouped) == 2 * 1 * 6 * 4 * 9 * 7 * 7


def test_bytes_count_each_tensor_once_and_only_the_pixels_a_window_reads():
    s = shapes.conv(2, 4, 8, 10, 10, 1, 2)  # a 1x1 at stride 2 reads every other row and column
    assert conv_touched(10, 1, 2) == 5 and conv_touched(10, 3, 1, 1) == 10
    assert conv_touched(7, 3, 3) == 6  # two windows of 3 at stride 3: the last input is never read
    t = conv_bytes(s, 2)
    assert t == {"input": 2 * 5 * 5 * 4 * 2, "weights": 8 * 4 * 2, "output": 2 * 8 * 5 * 5 * 2}
    assert CONV.bytes(s, "fp16") == sum(t.values())


def test_the_fusion_saves_two_writes_and_two_reads_of_the_output():
    s = shapes.LAYERS["resnet50.conv4_x.3x3.b32"]
    f = fusion_bytes("conv2d_bias_relu", s, "bf16")
    y = conv_bytes(s, 2)["output"]
    assert f["unfused_bytes"] - f["fused_bytes"] == 4 * y  # the bias is read once in both forms
    assert FUSED.bytes(s, "bf16") == f["fused_bytes"] and 1 < f["ratio"] < 5
    assert FUSED.record_details(s, "bf16")["fusion"] == f


# ---- bad input ----


def test_bad_input_is_a_clear_error():
    x, w, *params = CONV.make_inputs(shapes.TEST[0], "fp32", CPU)
    with pytest.raises(ValueError, match="x must be channels_last"):
        tk.conv2d(x.contiguous(), w, *params)
    with pytest.raises(ValueError, match="groups=2 must divide in_channels=3"):
        tk.conv2d(x, w, 1, 1, 1, 2)
    with pytest.raises(TypeError, match="stride must be an int"):
        tk.conv2d(x, w, 1.0, 1, 1, 1)
    with pytest.raises(ValueError, match="does not fit the padded input"):
        tk.conv2d(x, w, 1, 0, 4, 1)
    with pytest.raises(ValueError, match=r"bias must be a contiguous \[5\] tensor"):
        tk.conv2d_bias_relu(x, w, torch.zeros(4), *params)
