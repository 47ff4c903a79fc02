"""GPU correctness of vector_add and window_sum: every variant, CuPy included (run with `nox -s gpu`)."""

import pytest
import torch

from gpubench import kernels
from gpubench.bench.measure.correctness import CorrectnessError, check_variant
from tests.support.gpu_cases import shapes_for

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

LARGE = {
    "vector_add": [{"n": (1 << 24) + 3}, {"n": 1 << 26}],
    "window_sum": [{"n": (1 << 22) + 5, "radius": r} for r in (1, 8, 64, 5000, 20000)],
}


def _cases():
    for name in ("vector_add", "window_sum"):
        w = kernels.get(name)
        for vname, v in w.variants.items():
            for dtype in w.dtypes:
                for shape in shapes_for(w, v, LARGE[name]):
                    yield pytest.param(
                        name, vname, shape, dtype, id=f"{name}-{vname}-{dtype}-{kernels.shape_id(shape)}"
                    )


@pytest.mark.parametrize("name,vname,shape,dtype", list(_cases()))
def test_variant_matches_reference(name, vname, shape, dtype):
    w = kernels.get(name)
    v = w.variant(vname)
    device = torch.device("cuda")
    reason = v.skip_reason(device, shape, dtype)
    if reason:
        pytest.skip(reason)
    check_variant(w, v, shape, dtype, device)


def test_misaligned_view_uses_fallback():
    from gpubench.kernels.vector_add.cupy_kernels import vector_add_vec

    base = torch.randn(1 << 20, device="cuda")
    x, y = base[1:], base[:-1].clone()
    torch.testing.assert_close(vector_add_vec(x, y), x + y)


def test_cpu_tensor_rejected_by_cuda_variant():
    from gpubench.kernels.vector_add.cupy_kernels import vector_add_simple

    with pytest.raises(ValueError, match="cuda"):
        vector_add_simple(torch.randn(4), torch.randn(4))


def test_wrong_cuda_kernel_is_caught():
    """A CUDA variant that drops its last element must be rejected by the correctness check."""
    from gpubench.kernels.vector_add.cupy_kernels import vector_add_simple
    from gpubench.kernels.workload import Variant

    def broken(x, y):
        out = vector_add_simple(x, y)
        out[-1] = 0
        return out

    w = kernels.get("vector_add")
    with pytest.raises(CorrectnessError):
        check_variant(w, Variant("broken", "cupy", broken), {"n": 4099}, "fp32", torch.device("cuda"))


def test_device_timer_measures_kernel_time():
    """A spin kernel of known length measures within 10% of its length; cold mode is not faster than warm."""
    from gpubench.bench.measure.timing import DeviceTimer

    timer = DeviceTimer(torch.device("cuda"), "warm")
    cycles = int(timer._clock_hz * 200e-6)
    samples, info = timer.events_batch(lambda: torch.cuda._sleep(cycles), 20)
    med = sorted(samples)[10]
    assert 100e-6 < med < 400e-6, med  # the clock the sleep counts in may differ from the max clock
    assert not info.launch_gaps


def test_faulting_kernel_costs_only_its_own_record(tmp_path):
    """A kernel that poisons the CUDA context fails its record; the items after it still run."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "selftest.json"
    env = {**os.environ, "GPUBENCH_SELFTEST": "1", "PYTHONPATH": str(repo)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gpubench.cli",
            "run",
            "--workload",
            "selftest",
            "--out",
            str(out),
            "--storage",
            str(tmp_path / "bm"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=repo,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # failures present
    from gpubench import results

    recs = {r.variant: r for r in results.read(out).records}
    assert recs["torch"].ok and recs["torch"].gpu_uuid
    assert recs["wrong"].status == "failed" and "incorrect" in recs["wrong"].reason
    assert recs["illegal_address"].status == "failed"
    assert recs["torch_after"].ok, recs["torch_after"]
