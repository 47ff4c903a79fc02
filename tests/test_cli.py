"""The gpubench command on a machine without a GPU: it says so plainly, runs the CPU checks, and writes
no timings; bad names get a clear message and exit code 2."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def gpubench(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "gpubench.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        env=env,
        timeout=600,
    )


def test_list_names_workloads_variants_axes_and_shapes():
    p = gpubench("list")
    assert p.returncode == 0, p.stderr
    for text in (
        "vector_add",
        "window_sum",
        "cuda_shared",
        "triton_blocked",
        "axes: n, radius",
        "shapes[test]",
    ):
        assert text in p.stdout


def test_help_lists_subcommands():
    p = gpubench("--help")
    assert p.returncode == 0
    for sub in ("list", "device", "run"):
        assert sub in p.stdout


@pytest.fixture
def no_gpu():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")


def test_device_without_gpu(no_gpu):
    p = gpubench("device")
    assert p.returncode == 0, p.stderr
    assert "GPU: none" in p.stdout and "torch" in p.stdout


def test_run_without_gpu_checks_and_writes_no_timings(no_gpu, tmp_path):
    p = gpubench("run", "--workload", "vector_add", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "no CUDA GPU visible" in p.stdout
    assert "nothing is timed" in p.stdout
    assert "ok   vector_add/triton" in p.stdout
    assert "interpreter pass" in p.stdout and "0 wrong" in p.stdout
    assert not (tmp_path / "results").exists()


def test_unknown_workload_is_a_usage_error():
    p = gpubench("run", "--workload", "vector_ad")
    assert p.returncode == 2
    assert "unknown workload(s) vector_ad" in p.stderr and "known: vector_add" in p.stderr


def test_unknown_profile_is_a_usage_error():
    p = gpubench("run", "--profile", "slow")
    assert p.returncode == 2 and "unknown profile" in p.stderr


def test_dry_run_prints_the_plan():
    p = gpubench("run", "--dry-run", "--workload", "window_sum", "--dtype", "fp32", "--mode", "cold", "warm")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "window_sum/cuda_shared/n=67108864,radius=64/fp32/warm" in lines
    # quick shapes (3) x variants (5) x dtypes (1) x modes (2)
    assert lines[-1].startswith("30 items")
