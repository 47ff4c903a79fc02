"""The pytest plug-in for your own kernels (registered as `gpubench` through the pytest11 entry point):
the `gpu_benchmark` fixture, pytest-benchmark storage kept per GPU model, and `--gpubench-results=FILE`.

    def test_scale(gpu_benchmark):
        x = torch.randn(1 << 24, device="cuda")
        gpu_benchmark(scale, x, 2.0, flops=x.numel(), bytes=8 * x.numel())

`gpu_benchmark(fn, *args, **options)` is `gpubench.benchmark` (the same options and result) and hands the
device-time samples to pytest-benchmark, so its table, --benchmark-autosave, --benchmark-compare(-fail),
histograms and `pytest-benchmark compare` are about GPU time. Without a CUDA GPU such tests skip, saying
why. Loading this plug-in costs nothing for sessions that do not use it: torch is imported only by a
test that asks for the fixture, or when pytest-benchmark storage is to be read or written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The GPU model in the machine info of pytest-benchmark's saved files (as the suite's worker writes it).
from gpubench.bench.run.pytest_plugin import pytest_benchmark_update_machine_info  # noqa: F401

SKIP_REASON = "no CUDA GPU: gpu_benchmark times on the device (torch.cuda.is_available() is False)"
_SESSION = pytest.StashKey["_Session"]()
_STORAGE_OPTIONS = ("benchmark_autosave", "benchmark_save", "benchmark_compare", "benchmark_compare_fail")


def pytest_addoption(parser):
    group = parser.getgroup("gpubench")
    group.addoption(
        "--gpubench-results",
        metavar="FILE",
        help="write the session's gpu_benchmark records to FILE as a gpubench results file "
        "(for gpubench report, gate and export)",
    )


def _gpu_model() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(torch.cuda.current_device())


def per_gpu_storage(storage: str, gpu: str) -> str | None:
    """pytest-benchmark's storage URI with the GPU model's folder appended, as `gpubench run` keeps it;
    None where it already ends there or is not a file storage."""
    from gpubench.fmt import file_slug

    if "://" in storage and not storage.startswith("file://"):
        return None  # elasticsearch: its documents carry the machine info
    base = Path(storage.removeprefix("file://"))
    return None if base.name == file_slug(gpu) else f"file://{base / file_slug(gpu)}"


def _keep_storage_per_gpu(config) -> None:
    if config.getoption("gpubench_journal", default=None):
        return  # the suite's own worker, whose storage `gpubench run` chose
    if not any(config.getoption(name, default=None) for name in _STORAGE_OPTIONS):
        return
    gpu = _gpu_model()
    storage = config.getoption("benchmark_storage", default=None)
    if gpu and storage and (moved := per_gpu_storage(storage, gpu)):
        config.option.benchmark_storage = moved
        config.stash[_SESSION].storage = moved


class _Session:
    """The records of one pytest session, for --gpubench-results."""

    def __init__(self, path: str | None):
        self.path = path
        self.run = None
        self.storage: str | None = None
        self.written: Path | None = None

    def add(self, rec, run) -> None:
        from gpubench.results import Run, RunInfo, utc_now

        if self.run is None:
            info = RunInfo(profile="pytest", argv=list(sys.argv), started=utc_now(), notes=["gpu_benchmark"])
            self.run = Run(run.device, run.software, info)
        if run.device.uuid not in {g.uuid for g in [self.run.device, *self.run.gpus]}:
            self.run.gpus = [*(self.run.gpus or [self.run.device]), run.device]  # tests on several GPUs
        if rec.key in self.run.index():
            raise ValueError(
                f"gpu_benchmark: another test of this session already recorded {rec.label}; "
                "pass name= or variant= to tell them apart"
            )
        self.run.add(rec)

    def finish(self, interrupted: bool) -> None:
        if not self.path or self.run is None:
            return
        from gpubench.bench.run.runner import finish

        self.run.run.items = len(self.run.records)
        finish(self.run, "interrupted" if interrupted else "complete", Path(self.path))
        self.written = Path(self.path)


def pytest_configure(config):
    path = config.getoption("gpubench_results", default=None)
    if path:
        from gpubench.outpath import unwritable

        if problem := unwritable(path):
            raise pytest.UsageError(f"--gpubench-results: {problem}")
    config.stash[_SESSION] = _Session(path)
    _keep_storage_per_gpu(config)


def pytest_sessionfinish(session, exitstatus):
    state = session.config.stash.get(_SESSION, None)
    if state is not None:
        state.finish(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)


def pytest_terminal_summary(terminalreporter, config):
    state = config.stash.get(_SESSION, None)
    if state is None or (state.run is None and not state.path):
        return
    write = terminalreporter.write_line
    if state.written is not None:
        n = len(state.run.records)
        write(f"gpubench: {n} gpu_benchmark record(s) -> {state.written} (gpubench report / gate read it)")
    elif state.path:
        write(f"gpubench: no gpu_benchmark record was taken, so {state.path} was not written")
    if state.storage and state.run is not None:
        folder = state.storage.removeprefix("file://")
        write(
            f"pytest-benchmark storage (device time, per GPU model): {folder}; "
            f"compare saved runs with `pytest-benchmark --storage {state.storage} compare`"
        )


def _variant(fn, request) -> str:
    """fn's name, with the test's parameters where it has them: one record per test item."""
    name = getattr(fn, "__name__", "fn").strip("<>")
    callspec = getattr(request.node, "callspec", None)
    return f"{name}[{callspec.id}]" if callspec is not None else name


@pytest.fixture
def gpu_benchmark_options():
    """Keyword arguments every gpu_benchmark call in its scope starts from; override it (in a conftest.py,
    say, to return {"rule": "full"}). A call's own arguments win."""
    return {}


@pytest.fixture
def gpu_benchmark(request, benchmark, gpu_benchmark_options):
    """`gpu_benchmark(fn, *args, **options)`: gpubench.benchmark(fn, *args, **options), once per test,
    with its samples given to pytest-benchmark as device time. The record is named after the test
    (name: the test function, variant: fn's name with the test's parameters) unless the options say."""
    options = dict(gpu_benchmark_options)
    if options.get("timer_factory") is None and _gpu_model() is None:
        pytest.skip(SKIP_REASON)
    from gpubench import api
    from gpubench.bench.run.plan import PlanItem
    from gpubench.bench.run.worker import feed_pytest_benchmark

    state = request.config.stash[_SESSION]
    calls = []

    def run(fn, *args, **kwargs):
        if calls:
            raise RuntimeError("gpu_benchmark can be called once per test, as pytest-benchmark's benchmark")
        calls.append(fn)
        kw = {"name": request.node.originalname, "variant": _variant(fn, request), **options, **kwargs}
        try:
            result = api.benchmark(fn, *args, **kw)
        except api.IncorrectOutput as exc:
            state.add(exc.record, exc.run)  # a wrong kernel is a failed record, and a failed test
            raise
        rec = result.record
        state.add(rec, result.run)
        feed_pytest_benchmark(benchmark, PlanItem(rec.workload, rec.variant, rec.backend, rec.shape,
                                                   rec.dtype, rec.mode), rec)  # fmt: skip
        return result

    return run
