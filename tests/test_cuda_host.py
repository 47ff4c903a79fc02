"""The CUDA C window-sum kernels, compiled for the CPU with a thread-per-CUDA-thread emulator
(tests/cuda_host/emu.h), against the float64 reference: checks their indexing, zero padding, halo and
the multi-chunk path of the shared-memory kernel (a tiny chunk forces many chunks per block).
Real execution on a GPU is covered by tests/gpu."""

import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from gpubench import kernels

HERE = Path(__file__).with_name("cuda_host")
SRC = Path(kernels.__file__).parent / "window_sum"
CXX = shutil.which("g++")
pytestmark = pytest.mark.skipif(CXX is None, reason="needs g++ (C++20) to build the host emulation")


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    exe = tmp_path_factory.mktemp("emu") / "window_sum_main"
    cmd = [
        CXX,
        "-std=c++20",
        "-O1",
        "-pthread",
        f"-I{HERE}",
        f"-I{SRC}",
        str(HERE / "window_sum_main.cpp"),
        "-o",
        str(exe),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"host build failed:\n{proc.stderr[-3000:]}")
    return exe


def _run(binary, kernel, x, radius, threads, chunk):
    proc = subprocess.run(
        [str(binary), kernel, str(x.numel()), str(radius), str(threads), str(chunk)],
        input=x.numpy().tobytes(),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return torch.frombuffer(bytearray(proc.stdout), dtype=torch.float32)


CASES = [
    # n, radius, threads, chunk
    (1, 0, 32, 1000),
    (5, 9, 32, 1000),  # radius > n
    (200, 1, 32, 1000),  # one chunk per block
    (333, 3, 32, 24),  # many chunks per block, radius smaller than a chunk
    (500, 40, 32, 16),  # radius much larger than a chunk: windows span several chunks
    (1000, 0, 64, 7),
    (777, 100, 16, 1 << 12),
]


@pytest.mark.parametrize("n,radius,threads,chunk", CASES)
@pytest.mark.parametrize("kernel", ["naive", "shared"])
def test_matches_reference(binary, kernel, n, radius, threads, chunk):
    w = kernels.get("window_sum")
    x, r = w.make_inputs({"n": n, "radius": radius}, "fp32", torch.device("cpu"), seed=n + radius)
    r = min(r, max(n - 1, 0))  # what the launcher passes
    got = _run(binary, kernel, x, r, threads, chunk)
    torch.testing.assert_close(got, w.reference(x, radius), atol=1e-4, rtol=1e-5)
