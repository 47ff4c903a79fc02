"""The CUDA C window-sum kernels, compiled for the CPU with a thread-per-CUDA-thread emulator
(tests/support/cuda_host/emu.h), against the float64 reference: their indexing, zero padding, halo, the run
lengths picked per radius, partial and misaligned tiles (the scalar paths), 16-bit storage, and the
global-memory path of the shared-memory kernel (a tiny shared-memory budget forces it). The launch
geometry is the launcher's own (`plan_shared`). Special values (NaN, inf, 1e20) are in
tests/test_window_sum_exact.py; real execution on a GPU is covered by tests/gpu."""

import dataclasses

import pytest
import torch

from gpubench import kernels
from gpubench.kernels.window_sum.cupy_kernels import plan_shared
from tests.support.cuda_host import window_sum_emu as emu

pytestmark = pytest.mark.skipif(emu.CXX is None, reason="needs g++ (C++20) to build the host emulation")
W = kernels.get("window_sum")
TINY_SMEM = dataclasses.replace(emu.SUITE, smem_floats=64)


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    return emu.build(tmp_path_factory.mktemp("emu"))


def _inputs(n, radius, dtype="fp32"):
    x, _ = W.make_inputs({"n": n, "radius": radius}, dtype, torch.device("cpu"), seed=n + radius)
    return x


def _check(got, x, radius, dtype="fp32"):
    W.check(got, W.reference(x, radius), dtype, {"n": x.numel(), "radius": radius})


CASES = [
    # n, radius: every run length of the suite's config, radius > n, a tile and a bit, ragged tails
    (1, 0),
    (5, 9),
    (200, 1),
    (333, 2),
    (1283, 7),
    (4099, 64),
    (3001, 700),
    (4097, 3),
    (5000, 15),
    (4000, 16),
]


@pytest.mark.slow
@pytest.mark.parametrize("n,radius", CASES)
@pytest.mark.parametrize(
    "cfg", [emu.SUITE, emu.SMALL, TINY_SMEM], ids=["suite", "small-tiles", "global-path"]
)
def test_shared_matches_reference(binary, cfg, n, radius):
    x = _inputs(n, radius)
    _check(emu.shared(binary, x, radius, cfg), x, radius)


@pytest.mark.slow
@pytest.mark.parametrize("n,radius", [(1, 0), (5, 9), (777, 100), (1000, 0), (1283, 7)])
def test_naive_matches_reference(binary, n, radius):
    x = _inputs(n, radius)
    _check(emu.naive(binary, x, radius, threads=64), x, radius)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("radius", [1, 8, 40])
def test_16_bit_storage(binary, dtype, radius):
    x = _inputs(1000, radius, dtype)
    for cfg in (emu.SUITE, emu.SMALL):
        _check(emu.shared(binary, x, radius, cfg), x, radius, dtype)
    _check(emu.naive(binary, x, radius), x, radius, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_misaligned_arrays_take_the_scalar_path(binary, dtype):
    x = _inputs(900, 5, dtype)
    _check(emu.shared(binary, x, 5, emu.SMALL, offset=1), x, 5, dtype)


def test_plan_picks_the_longest_run_that_fits_and_falls_back_to_global_memory():
    cfg = emu.SUITE
    assert [plan_shared(10**6, r, cfg).seg.seg for r in (0, 1, 2, 3, 4, 7, 8, 15, 16, 64)] == [
        1, 1, 3, 3, 7, 7, 15, 15, 31, 31,
    ]  # fmt: skip
    for r in (1, 8, 16, 64, 2000):
        p = plan_shared(1 << 26, r, cfg)
        assert p.seg.seg <= 2 * r and p.halo >= r and p.halo % 4 == 0 and p.obuf % 4 == 0
        assert p.obuf >= p.halo + p.tile + r and p.floats == p.obuf + p.tile <= cfg.smem_floats
        assert p.grid * p.tile >= 1 << 26 > (p.grid - 1) * p.tile
    assert 3500 <= min(plan_shared(1 << 26, r, cfg).tile for r in (1, 4, 8, 16, 64))
    far = plan_shared(1 << 26, 5000, cfg)
    assert far.halo == -1 and far.floats == far.tile
