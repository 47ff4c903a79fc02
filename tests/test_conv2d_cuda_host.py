"""The CUDA C convolution (kernels/conv2d/conv2d.cu) compiled for the CPU with the thread-per-CUDA-thread
emulator (tests/support/cuda_host/emu.h), launched with the geometry the CuPy launcher plans, against the
workloads' float64 references on every test shape (padding, stride 2, 1x1, 7x7, dilation, groups, a channel
count past one K step), in fp32 and the 16-bit types, the plain and the fused epilogue; a transposed filter
is caught; the tile constants the launcher sizes its grid with are the ones compiled in; NVRTC compiles it
for sm_80 and sm_90 without spills. Real execution is covered by tests/gpu."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from gpubench import kernels
from gpubench.bench.cpucheck import nvrtc
from gpubench.dtypes import kernel_suffix
from gpubench.kernels.conv2d import config, cupy_kernels
from gpubench.kernels.conv2d.validate import validate

HERE = Path(__file__).parent / "support" / "cuda_host"
SRC = Path(kernels.__file__).parent / "conv2d"
CXX = shutil.which("g++")
needs_cxx = pytest.mark.skipif(CXX is None, reason="needs g++ (C++20) to build the host emulation")
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    exe = tmp_path_factory.mktemp("emu") / "conv2d_main"
    cmd = [CXX, "-std=c++20", "-O1", "-pthread", f"-I{HERE}", f"-I{SRC}", str(HERE / "conv2d_main.cpp"),
           "-o", str(exe)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"host build failed:\n{proc.stderr[-3000:]}")
    return exe


def emulated(binary, x, w, bias, stride, padding, dilation, groups):
    """The kernel's output as the launcher would launch it: [N, K, P, Q] channels_last."""
    g = validate(x, w, bias, stride, padding, dilation, groups)
    p = cupy_kernels.plan(g, kernel_suffix(x.dtype), bias is not None)
    tensors = [x.permute(0, 2, 3, 1), w.permute(0, 2, 3, 1), *([bias] if bias is not None else [])]
    data = b"".join(t.contiguous().view(torch.uint8).numpy().tobytes() for t in tensors)
    cmd = [str(binary), p.kernel, str(p.grid[0]), str(p.block[0]), *map(str, p.args)]
    proc = subprocess.run(cmd, input=data, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = torch.frombuffer(bytearray(proc.stdout), dtype=torch.uint8).view(x.dtype)
    return out.view(g.N, g.P, g.Q, g.K).permute(0, 3, 1, 2)


@needs_cxx
@pytest.mark.slow
@pytest.mark.parametrize("name", ["conv2d", "conv2d_bias_relu"])
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_the_emulated_kernel_matches_the_reference(binary, name, dtype):
    w = kernels.get(name)
    for shape in w.shapes["test"]:
        inputs = w.make_inputs(shape, dtype, CPU, seed=7)
        tensors = inputs[:3] if name == "conv2d_bias_relu" else (*inputs[:2], None)
        got = emulated(binary, *tensors, *inputs[-4:])
        w.check(got, w.reference(*inputs), dtype, shape)


@needs_cxx
@pytest.mark.slow
def test_a_transposed_filter_is_caught(binary):
    w = kernels.get("conv2d")
    shape = w.shapes["test"][1]  # 3x3 at stride 2 on a 9x11 input
    x, f, *params = w.make_inputs(shape, "fp32", CPU, seed=3)
    flipped = f.transpose(2, 3).contiguous(memory_format=torch.channels_last)
    wrong = emulated(binary, x, flipped, None, *params)
    with pytest.raises(AssertionError):
        w.check(wrong, w.reference(x, f, *params), "fp32", shape)


def test_the_tile_constants_are_the_ones_compiled_in():
    text = cupy_kernels.SOURCE.read_text()
    found = {n: int(v) for n, v in re.findall(r"constexpr int (kConv\w+) = (\d+);", text)}
    assert (found["kConvBM"], found["kConvBN"], found["kConvBK"]) == config.CUDA_TILE
    assert found["kConvThreads"] == config.CUDA_THREADS


@pytest.mark.slow
def test_nvrtc_compiles_it_without_spills():
    try:
        nvrtc.load_library()
    except nvrtc.NvrtcUnavailable as exc:
        pytest.skip(str(exc))
    for arch in nvrtc.ARCHS:
        result = nvrtc.compile_file(cupy_kernels.SOURCE, arch)
        assert len(result.kernels) == 6 and not result.spills, (arch, result.log[-2000:])
        assert all(k.registers <= 255 for k in result.kernels)
