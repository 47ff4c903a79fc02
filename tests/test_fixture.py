"""The pytest plug-in for users' own tests (fixture), loaded through the pytest11 entry point as an
installed suite declares it (a dist-info made from pyproject.toml's table, on sys.path): gpu_benchmark
skips without a GPU, saying why; with a stand-in timer (tests/test_measure.py's), its samples are
pytest-benchmark's statistics, autosaved per GPU model, compared (--benchmark-compare-fail, `pytest-benchmark
compare`), and written as a gpubench results file that the gate reads."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

from gpubench import cli, fixture, results
from gpubench.kernels import plugins

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "tests" / "data" / "plugin_example"
SAMPLES = [1.0e-4, 1.02e-4, 0.98e-4, 1.01e-4, 0.99e-4]

STAND_IN = """
import os

import pytest

from gpubench import fixture
from gpubench.bench.measure.stopping import StoppingRule
from tests.test_measure import FakeTelemetry, FakeTimer

pytestmark = pytest.mark.slow  # each test runs pytest in a subprocess

fixture._gpu_model = lambda: "Fake GPU 80GB"  # the model the storage is kept under
SAMPLES = [s * float(os.environ.get("FAKE_SLOWDOWN", "1")) for s in SAMPLES_HERE]


@pytest.fixture
def gpu_benchmark_options():
    rule = StoppingRule(min_samples=20, max_samples=20, min_time_s=0.0, rel_noise=1e-9, timeout_s=5.0)
    return {"timer_factory": lambda d, m: FakeTimer(SAMPLES, m), "telemetry": FakeTelemetry(), "rule": rule}
""".replace("SAMPLES_HERE", repr(SAMPLES))

TESTS = """
import torch


def double(x):
    return x * 2


def test_double(gpu_benchmark):
    x = torch.randn(1000)
    r = gpu_benchmark(double, x, flops=1000, bytes=8000, reference=lambda x: 2 * x, shape={"n": 1000})
    assert r.record.ok
"""

BROKEN_TESTS = """
import torch


def test_wrong(gpu_benchmark):
    gpu_benchmark(lambda x: x * 3, torch.randn(100), reference=lambda x: x * 2, name="tripled")


def test_twice(gpu_benchmark):
    gpu_benchmark(torch.neg, torch.randn(100))
    gpu_benchmark(torch.neg, torch.randn(100))


def test_not_a_benchmark():
    pass
"""


def _entry_point_site(root: Path) -> Path:
    """A dist-info declaring the suite's pytest11 entry points, as `pip install` of the suite leaves it."""
    table = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["pytest11"]
    info = root / "site" / "gpubench_pytest_probe-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gpubench-pytest-probe\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[pytest11]\n" + "".join(f"{k} = {v}\n" for k, v in table.items()))
    return root / "site"


def _own_session_env() -> dict:
    """This process's environment for a pytest session of its own: without the plug-in path variable and
    PYTEST_ADDOPTS, and without pytest-xdist's worker variables (pytest-benchmark reads them as xdist being
    on and turns itself off) when these tests run under xdist."""
    drop = (plugins.ENV_VAR, "PYTEST_ADDOPTS")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST_XDIST")}


def _pytest(project: Path, *args, env=None, module="pytest", pythonpath=()):
    environ = _own_session_env()
    path = [_entry_point_site(project), *pythonpath, REPO] if module == "pytest" else [REPO]
    environ["PYTHONPATH"] = os.pathsep.join(map(str, path))
    cmd = [sys.executable, "-m", module, *args]
    if module == "pytest":
        cmd += ["-p", "no:cacheprovider", "-o", "addopts=", f"--rootdir={project}"]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=project, env={**environ, **(env or {})},
                          timeout=300)  # fmt: skip


@pytest.fixture
def project(tmp_path) -> Path:
    return tmp_path


def test_per_gpu_storage():
    assert fixture.per_gpu_storage("file://./.benchmarks", "NVIDIA H200") == "file://.benchmarks/NVIDIA-H200"
    assert (
        fixture.per_gpu_storage("/data/bench", "NVIDIA H100 80GB HBM3")
        == "file:///data/bench/NVIDIA-H100-80GB-HBM3"
    )
    assert fixture.per_gpu_storage("file://.benchmarks/NVIDIA-H200", "NVIDIA H200") is None  # already there
    assert fixture.per_gpu_storage("elasticsearch+https://host/index", "NVIDIA H200") is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_without_a_gpu_the_fixture_skips_saying_why(project):
    (project / "test_user.py").write_text(TESTS)
    p = _pytest(project, "-rs", "test_user.py")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 skipped" in p.stdout and fixture.SKIP_REASON in p.stdout


def test_device_time_is_saved_per_gpu_compared_and_gated(project):
    (project / "conftest.py").write_text(STAND_IN)
    (project / "test_user.py").write_text(TESTS)
    first = _pytest(project, "--benchmark-autosave", "--gpubench-results=first.json", "-q")
    assert first.returncode == 0, first.stdout + first.stderr
    storage = project / ".benchmarks" / "Fake-GPU-80GB"
    assert "`pytest-benchmark --storage file://.benchmarks/Fake-GPU-80GB compare`" in first.stdout
    (saved,) = storage.rglob("0001_*.json")
    bench = json.loads(saved.read_text())["benchmarks"][0]
    assert bench["extra_info"]["clock"] == "device (CUDA events)" and bench["stats"]["rounds"] == 20
    assert bench["stats"]["min"] == pytest.approx(min(SAMPLES)) and bench["stats"]["max"] == pytest.approx(
        max(SAMPLES)
    )

    compare_fail = ["--benchmark-compare", "--benchmark-compare-fail=median:10%"]
    second = _pytest(project, "--benchmark-autosave", *compare_fail, "--gpubench-results=second.json", "-q",
                     env={"FAKE_SLOWDOWN": "2"})  # fmt: skip
    assert second.returncode == 1 and "Performance has regressed" in second.stdout + second.stderr
    assert len(list(storage.rglob("000*_*.json"))) == 2

    compare = _pytest(project, "--storage", f"file://{storage}", "compare", module="pytest_benchmark")
    assert compare.returncode == 0, compare.stdout + compare.stderr
    assert "Name (time in us)" in compare.stdout  # device times: medians of 100 and 200 µs
    rows = [line.split() for line in compare.stdout.splitlines() if line.startswith("test_double (000")]
    assert [(row[2], row[10]) for row in rows] == [("98.0000", "100.0000"), ("196.0000", "200.0000")]

    for name in ("first.json", "second.json"):
        (rec,) = results.read(project / name).records
        assert rec.label == "test_double/double[n=1000|fp32|cold]" and rec.ok
    assert cli.main(["gate", str(project / "first.json"), str(project / "second.json")]) == 1


def test_a_wrong_kernel_fails_its_test_and_is_a_failed_record(project):
    (project / "conftest.py").write_text(STAND_IN)
    (project / "test_broken.py").write_text(BROKEN_TESTS)
    p = _pytest(project, "--benchmark-only", "--gpubench-results=run.json", "-rA")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "FAILED test_broken.py::test_wrong - gpubench.api.IncorrectOutput: tripled/" in p.stdout
    assert "gpu_benchmark can be called once per test" in p.stdout
    assert "SKIPPED [1] test_broken.py: Skipping non-benchmark (--benchmark-only active)" in p.stdout
    recs = {r.workload: r for r in results.read(project / "run.json").records}
    assert recs["tripled"].status == "failed" and recs["tripled"].reason.startswith("incorrect:")
    assert recs["test_twice"].ok  # the first call of test_twice was measured


def test_an_unwritable_results_file_is_a_usage_error(project):
    p = _pytest(project, f"--gpubench-results={project}")
    assert p.returncode == 4 and f"--gpubench-results: {project}" in p.stderr


def test_the_suites_own_addopts_allow_benchmark_only():
    args = ["--benchmark-only", "--co", "-q", "-p", "no:cacheprovider", "tests/test_stats.py"]
    p = subprocess.run([sys.executable, "-m", "pytest", *args], capture_output=True, text=True, cwd=REPO,
                       env={**_own_session_env(), "PYTEST_ADDOPTS": os.environ.get("PYTEST_ADDOPTS", "")},
                       timeout=120)  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr


# ------------------------------------------------------------------------------- on a GPU (nox -s gpu)


@pytest.mark.gpu
@pytest.mark.skipif(
    not torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") != "0",
    reason="needs a CUDA GPU and compiled Triton (TRITON_INTERPRET=0)",
)
def test_the_documented_fixture_example_runs_twice_and_compares(tmp_path):
    import shutil

    project = Path(
        shutil.copytree(EXAMPLE, tmp_path / "example", ignore=shutil.ignore_patterns("__pycache__"))
    )
    for _ in range(2):
        p = _pytest(project, "--benchmark-autosave", "--gpubench-results=scale.json", pythonpath=[project])
        assert p.returncode == 0, p.stdout + p.stderr
    gpu = fixture.per_gpu_storage(".benchmarks", torch.cuda.get_device_name()).removeprefix("file://")
    compare = _pytest(project, "--storage", f"file://{project / gpu}", "compare", module="pytest_benchmark")
    assert compare.returncode == 0 and compare.stdout.count("test_scale[") == 4, compare.stdout
    assert len(results.read(project / "scale.json").ok_records()) == 2
