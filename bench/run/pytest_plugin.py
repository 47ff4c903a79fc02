"""pytest plugin that turns a gpubench plan into pytest-benchmark items
(`-p gpubench.bench.run.pytest_plugin`).

Each plan item becomes one test; its pytest-benchmark statistics are device time. The machine info in
pytest-benchmark's saved files names the GPU, and `gpubench run` stores them per GPU model. A worker
whose orchestrator has gone (killed, crashed) ends itself rather than run on as an orphan.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from gpubench.bench.run.plan import PlanItem

ORPHAN_EXIT = 70  # the worker's exit status when its orchestrator vanished


def _exit_when_orphaned(parent: int, poll_s: float = 0.5) -> None:
    def watch():
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(ORPHAN_EXIT)

    threading.Thread(target=watch, name="gpubench-orphan-watch", daemon=True).start()


def pytest_addoption(parser):
    group = parser.getgroup("gpubench")
    group.addoption("--gpubench-plan", help="JSON file with the items to run")
    group.addoption("--gpubench-journal", help="JSON-lines file the records are appended to")
    group.addoption("--gpubench-profile", default="quick", help="stopping rule of this profile")


def pytest_configure(config):
    if config.getoption("--gpubench-journal", default=None):
        _exit_when_orphaned(os.getppid())


def pytest_generate_tests(metafunc):
    if "gpubench_item" in metafunc.fixturenames:
        path = metafunc.config.getoption("--gpubench-plan")
        raw = json.loads(open(path).read()) if path else []
        items = [PlanItem.from_json(i) for i in raw]
        metafunc.parametrize("gpubench_item", items, ids=[i.id for i in items])


@pytest.fixture(scope="session")
def gpubench_ctx(request):
    import torch

    from gpubench.bench.measure.device import device_info, software_versions
    from gpubench.bench.run.plan import PROFILES
    from gpubench.bench.run.worker import Journal, WorkerContext

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: the benchmarks need a GPU")
    journal = Journal(request.config.getoption("--gpubench-journal"))
    ctx = WorkerContext(journal, PROFILES[request.config.getoption("--gpubench-profile")].rule)
    info = device_info(ctx.device)
    ctx.gpu_uuid = info.get("uuid")
    journal.write("device", device=info, software=software_versions())
    return ctx


def pytest_benchmark_update_machine_info(config, machine_info):
    try:
        import torch

        if torch.cuda.is_available():
            p = torch.cuda.get_device_properties(torch.cuda.current_device())
            machine_info["gpu"] = {
                "name": p.name,
                "compute_capability": f"{p.major}.{p.minor}",
                "sm_count": p.multi_processor_count,
                "cuda": torch.version.cuda,
            }
    except Exception as exc:  # machine info must never break a run
        machine_info["gpu"] = {"error": str(exc)}
