"""pytest-benchmark's statistics, storage and comparison are about device time: the samples of a real
record handed to it through the device clock come back, each one in order, in its own saved JSON."""

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import realdata

pytestmark = pytest.mark.slow  # pytest in a subprocess

REPO = Path(__file__).resolve().parent.parent

TEST_FILE = """
from gpubench.bench.run.plan import PlanItem
from gpubench.bench.run.worker import feed_pytest_benchmark
from tests.support import realdata

def test_device_time(benchmark):
    rec = realdata.record(realdata.h100(), "softmax", "triton", "fp32", rows=4096, cols=4096)
    item = PlanItem(rec.workload, rec.variant, rec.backend, rec.shape, rec.dtype, rec.mode)
    feed_pytest_benchmark(benchmark, item, rec)
"""


def test_samples_reach_pytest_benchmark_storage(tmp_path):
    rec = realdata.record(realdata.h100(), "softmax", "triton", "fp32", rows=4096, cols=4096)
    samples = list(rec.timing.samples)
    assert len(set(samples)) > 50  # distinct samples (events tick in 32 ns): a clock repeating one would show
    (tmp_path / "test_adapter_case.py").write_text(TEST_FILE)
    storage, out = tmp_path / "storage", tmp_path / "bench.json"
    args = [
        sys.executable, "-m", "pytest", str(tmp_path / "test_adapter_case.py"), "-q", "-o", "addopts=",
        "-p", "no:cacheprovider", "--benchmark-enable", f"--benchmark-json={out}", "--benchmark-save-data",
        f"--benchmark-storage=file://{storage}", "--benchmark-autosave", f"--rootdir={tmp_path}",
    ]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bench = json.loads(out.read_text())["benchmarks"][0]
    # Every sample, in the order it was measured (the clock's running sum costs a few ulps).
    assert bench["stats"]["data"] == pytest.approx(samples, rel=1e-9, abs=0)
    stats = bench["stats"]
    assert stats["rounds"] == len(samples)
    assert stats["median"] == pytest.approx(statistics.median(samples), rel=1e-9)
    assert stats["min"] == pytest.approx(min(samples), rel=1e-9)
    assert bench["group"] == "softmax rows=4096,cols=4096 fp32 cold"
    assert bench["extra_info"]["clock"] == "device (CUDA events)"
    assert bench["extra_info"]["gbs"] == rec.achieved_gbs
    saved = list(storage.rglob("*.json"))
    assert saved, "pytest-benchmark autosave wrote nothing"
    assert json.loads(saved[0].read_text())["benchmarks"][0]["stats"]["rounds"] == len(samples)
