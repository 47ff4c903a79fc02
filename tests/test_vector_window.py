"""vector_add and window_sum specifics: accounting, bad input, empty input, negative tests."""

import pytest
import torch

from gpubench import kernels
from gpubench.bench.measure.correctness import CorrectnessError, check_variant
from gpubench.kernels.vector_add.triton_kernels import vector_add
from gpubench.kernels.window_sum.triton_kernels import window_sum_blocked, window_sum_naive
from gpubench.kernels.workload import Variant

CPU = torch.device("cpu")


def test_vector_add_bytes_and_flops():
    w = kernels.get("vector_add")
    assert w.bytes({"n": 1000}, "fp32") == 3 * 4 * 1000
    assert w.bytes({"n": 1000}, "bf16") == 3 * 2 * 1000
    assert w.flops({"n": 1000}) == 1000


def test_window_sum_flops_counts_clipped_windows():
    w = kernels.get("window_sum")
    # n=5, r=1: windows of sizes 2,3,3,3,2 -> adds 1+2+2+2+1 = 8
    assert w.flops({"n": 5, "radius": 1}) == 8
    # radius larger than n behaves like radius n-1: n=3 -> every window is the whole array: 2 adds each
    assert w.flops({"n": 3, "radius": 10}) == 6
    assert w.flops({"n": 1, "radius": 0}) == 0
    assert w.bytes({"n": 10, "radius": 3}, "fp32") == 80


@pytest.mark.parametrize("fn", [window_sum_naive, window_sum_blocked])
def test_window_sum_by_hand(fn):
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    torch.testing.assert_close(fn(x, 1), torch.tensor([3.0, 6.0, 9.0, 12.0, 9.0]))
    torch.testing.assert_close(fn(x, 0), x)
    # runs of 4 outputs: no middle at r = 2, a middle of 2 values at r = 3
    torch.testing.assert_close(fn(x, 2), torch.tensor([6.0, 10.0, 15.0, 14.0, 12.0]))
    torch.testing.assert_close(fn(x, 3), torch.tensor([10.0, 15.0, 15.0, 15.0, 14.0]))
    torch.testing.assert_close(fn(x, 99), torch.full((5,), 15.0))


def test_window_sum_shape_sets():
    w = kernels.get("window_sum")
    assert all(s in w.shapes["bench"] for s in w.shapes["quick"])
    assert {s["radius"] for s in w.shapes["quick"]} == {1, 8, 16, 64}
    # the warm L2 set must fit the L2 of the GPUs the suite runs on (50 MiB on an H100)
    assert all(w.bytes(s, "fp32") <= 16 << 20 for s in w.shapes["l2"])


def test_blocked_run_lengths():
    from gpubench.kernels.window_sum.config import config_for

    cfg = config_for(CPU)
    seg = {r: cfg.triton_seg(r) for r in (1, 2, 3, 4, 5, 8, 16, 63, 64, 65, 700)}
    assert seg == {1: 2, 2: 4, 3: 4, 4: 8, 5: 8, 8: 16, 16: 32, 63: 64, 64: 128, 65: 128, 700: 128}
    assert all(s <= 2 * r for r, s in seg.items()) and cfg.triton_tile % cfg.triton_max_seg == 0


def test_reference_by_hand():
    ref = kernels.get("window_sum").reference
    torch.testing.assert_close(ref(torch.tensor([1.0, 2.0, 3.0]), 1), torch.tensor([3.0, 6.0, 5.0]))


def test_empty_input_gives_empty_output():
    out = vector_add(torch.empty(0), torch.empty(0))
    assert out.shape == (0,)
    assert window_sum_naive(torch.empty(0), 4).shape == (0,)
    assert window_sum_blocked(torch.empty(0), 4).shape == (0,)


def test_bad_inputs_get_clear_errors():
    x = torch.randn(8)
    with pytest.raises(ValueError, match="shape"):
        vector_add(x, torch.randn(9))
    with pytest.raises(TypeError, match="dtype"):
        vector_add(x, torch.randn(8, dtype=torch.float64))
    with pytest.raises(TypeError, match="dtype"):
        vector_add(torch.arange(8), torch.arange(8))
    with pytest.raises(ValueError, match="contiguous"):
        vector_add(torch.randn(16)[::2], torch.randn(16)[::2])
    with pytest.raises(ValueError, match="radius must be >= 0"):
        window_sum_naive(x, -1)
    with pytest.raises(TypeError, match="radius must be an int"):
        window_sum_blocked(x, 1.5)
    with pytest.raises(ValueError, match="1-D"):
        window_sum_naive(torch.randn(2, 4), 1)
    with pytest.raises(TypeError, match="torch.Tensor"):
        vector_add([1.0], [2.0])


def test_cuda_variants_refuse_cpu_tensors_before_touching_cuda():
    from gpubench.kernels.vector_add import cupy_kernels as va
    from gpubench.kernels.window_sum import cupy_kernels as ws

    x = torch.randn(8)
    for call in (
        lambda: va.vector_add_simple(x, x),
        lambda: va.vector_add_vec(x, x),
        lambda: ws.window_sum_naive(x, 1),
        lambda: ws.window_sum_shared(x, 1),
    ):
        with pytest.raises(ValueError, match="needs a cuda tensor"):
            call()


def test_cupy_variants_skip_on_cpu_with_reason():
    v = kernels.get("vector_add").variant("cuda_vec")
    assert "CUDA device" in v.skip_reason(CPU, {"n": 4}, "fp32")


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_wrong_vector_add_is_rejected(dtype):
    """A kernel that is almost right (last element dropped) fails the correctness check."""
    w = kernels.get("vector_add")

    def off_by_one(x, y):
        out = vector_add(x, y)
        out[-1:] = 0
        return out

    with pytest.raises(CorrectnessError, match="differs from the reference"):
        check_variant(w, Variant("off_by_one", "triton", off_by_one), {"n": 1025}, dtype, CPU)


def test_wrong_window_sum_is_rejected():
    """A window one element too narrow on the right must be caught."""
    w = kernels.get("window_sum")

    def narrow(x, radius):
        return window_sum_naive(x, radius) - torch.roll(x, -radius) * (radius > 0)

    with pytest.raises(CorrectnessError):
        check_variant(w, Variant("narrow", "triton", narrow), {"n": 1283, "radius": 7}, "fp32", CPU)


def test_unknown_variant_and_workload_names():
    with pytest.raises(KeyError, match="known"):
        kernels.get("nope")
    with pytest.raises(KeyError, match="no variant"):
        kernels.get("vector_add").variant("nope")


def test_slow_config_knob_changes_the_config_and_stays_correct(monkeypatch):
    from gpubench.kernels.vector_add import config

    assert config.config_for(CPU).triton_block == 1024
    monkeypatch.setenv(config.SLOW_CONFIG_ENV, "1")
    assert config.config_for(CPU).triton_block == 128
    x, y = torch.randn(1000), torch.randn(1000)
    torch.testing.assert_close(vector_add(x, y), x + y)


@pytest.mark.slow
def test_selftest_workload_only_on_request():
    import subprocess
    import sys

    code = "import kernels; print(sorted(kernels.names()))"
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    asked = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "GPUBENCH_SELFTEST": "1"},
    ).stdout
    assert "selftest" not in plain and "selftest" in asked
