"""pytest-benchmark's statistics, storage and comparison are about device time: the samples handed to
it through the device clock come back exactly in its own saved JSON (real pytest-benchmark run)."""

import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

TEST_FILE = """
import random
from gpubench.bench.worker import _feed_pytest_benchmark

SAMPLES = [random.Random(4).uniform(1e-4, 2e-4) for _ in range(40)]

def test_device_time(benchmark):
    rec = {"timing": {"samples": SAMPLES, "method": "events+spin", "stop_reason": "converged"},
           "achieved": {"gbs": 1.0, "tflops": 2.0}, "flags": []}
    item = {"workload": "vector_add", "shape": {"n": 4}, "dtype": "fp32", "mode": "cold"}
    _feed_pytest_benchmark(benchmark, item, rec)
"""


def test_samples_reach_pytest_benchmark_storage(tmp_path):
    (tmp_path / "test_adapter_case.py").write_text(TEST_FILE)
    storage = tmp_path / "storage"
    out = tmp_path / "gpubench.bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tmp_path / "test_adapter_case.py"),
            "-q",
            "-o",
            "addopts=",
            "-p",
            "no:cacheprovider",
            "--benchmark-enable",
            f"--benchmark-json={out}",
            f"--benchmark-storage=file://{storage}",
            "--benchmark-autosave",
            f"--rootdir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import random

    samples = [random.Random(4).uniform(1e-4, 2e-4) for _ in range(40)]
    bench = json.loads(out.read_text())["benchmarks"][0]
    stats = bench["stats"]
    assert stats["rounds"] == 40
    assert abs(stats["median"] - statistics.median(samples)) < 1e-12
    assert abs(stats["min"] - min(samples)) < 1e-12
    assert abs(stats["max"] - max(samples)) < 1e-12
    assert bench["group"] == "vector_add n=4 fp32 cold"
    assert bench["extra_info"]["clock"] == "device (CUDA events)"
    saved = list(storage.rglob("*.json"))
    assert saved, "pytest-benchmark autosave wrote nothing"
    assert json.loads(saved[0].read_text())["benchmarks"][0]["stats"]["rounds"] == 40
