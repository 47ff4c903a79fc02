"""The orchestrator: a worker that dies costs only the item it was running; the rest still run, the
results file is written after every record, progress is shown, and a stop (SIGTERM, Ctrl-C) ends the
worker too, keeps every finished record in a file marked "interrupted" and leaves nothing behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gpubench import results
from gpubench.bench.run.orchestrate import Orchestrator
from gpubench.bench.run.plan import PlanItem
from gpubench.results import Device, Run, RunInfo, Software
from tests.support.procs import alive, stop_after

pytestmark = pytest.mark.slow  # each test starts stand-in worker processes

FAKE = Path(__file__).parent / "support" / "fake_worker.py"
DRIVER = Path(__file__).parent / "support" / "fake_run.py"
REPO = Path(__file__).resolve().parent.parent


def _plan(variants):
    return [PlanItem("w", v, "torch", {"n": i}, "fp32", "cold") for i, v in enumerate(variants)]


def _run(tmp_path, variants, env=None):
    run = Run(Device(name="?"), Software(), RunInfo(profile="test"))
    out = tmp_path / "r.json"
    lines = []
    if env:
        os.environ.update(env)
    try:
        orch = Orchestrator(
            _plan(variants),
            run,
            lambda p, j: [sys.executable, str(FAKE), str(p), str(j)],
            lambda r: results.write(r, out),
            tmp_path / "work",
            lines.append,
        )
        status = orch.execute()
    finally:
        for k in env or {}:
            os.environ.pop(k)
    return status, run, out, lines


def test_all_items_run(tmp_path):
    status, run, out, lines = _run(tmp_path, ["a", "b", "c"])
    assert status == "complete"
    assert [r.variant for r in run.records] == ["a", "b", "c"]
    assert run.device.name == "Fake GPU" and run.software.torch == "fake"
    assert len(results.read(out).records) == 3  # real writer, real reader
    assert lines[0].startswith("[1/3] w/a") and "GB/s" in lines[0]


def test_aborting_worker_loses_only_its_item(tmp_path):
    status, run, out, _ = _run(tmp_path, ["a", "abort", "b", "abort", "c"])
    assert status == "complete"
    got = [(r.variant, r.status) for r in run.records]
    assert got == [("a", "ok"), ("abort", "failed"), ("b", "ok"), ("abort", "failed"), ("c", "ok")]
    assert all("worker process died" in r.reason for r in run.records if r.status == "failed")
    assert len(results.read(out).records) == 5


def test_poisoned_context_restarts_worker(tmp_path):
    status, run, _, lines = _run(tmp_path, ["poison", "a", "poison", "b"])
    assert [(r.variant, r.status) for r in run.records] == [
        ("poison", "failed"), ("a", "ok"), ("poison", "failed"), ("b", "ok"),
    ]  # fmt: skip
    assert "illegal memory access" in run.records[0].reason
    assert any("restarting the worker" in line for line in lines)


def test_a_worker_that_dies_before_its_first_item(tmp_path):
    status, run, _, _ = _run(tmp_path, ["a", "b"], {"FAKE_DIE_ONCE": str(tmp_path / "died")})
    assert status == "complete"
    assert [(r.variant, r.status) for r in run.records] == [("a", "failed"), ("b", "ok")]
    assert "exit 7" in run.records[0].reason


def test_a_malformed_record_from_the_worker_fails_its_item(tmp_path):
    status, run, _, _ = _run(tmp_path, ["garbage", "a"])
    assert [(r.variant, r.status) for r in run.records] == [("garbage", "failed"), ("a", "ok")]
    assert "malformed" in run.records[0].reason


def test_duplicate_ids_refused(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        Orchestrator(_plan(["a"]) * 2, None, None, None, tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_ends_the_worker_and_keeps_what_finished(tmp_path, sig):
    out, work, pids = tmp_path / "r.json", tmp_path / "work", tmp_path / "pids"
    env = {**os.environ, "PYTHONPATH": str(REPO), "FAKE_WORKER_PIDS": str(pids)}
    argv = [str(DRIVER), str(out), str(work), "a", "b", "sleep", "c"]
    code, stdout, stderr = stop_after(argv, out, 2, sig, env)
    assert code == 130, stdout + stderr
    assert "Traceback" not in stderr and "Traceback" not in stdout
    assert "2 of 4 records kept" in stdout
    run = results.read(out)
    assert run.status == "interrupted" and [r.variant for r in run.records] == ["a", "b"]
    assert run.run.finished is not None
    worker = int(pids.read_text().split()[0])
    assert not alive(worker), "the worker was left running"
    assert not work.exists(), "the temporary work folder was left behind"


def test_a_killed_orchestrators_worker_ends_itself(tmp_path):
    """SIGKILL leaves no chance to clean up: the worker notices its parent is gone and exits."""
    from gpubench.bench.run import pytest_plugin

    code = (
        "import os, sys, time\n"
        "from gpubench.bench.run.pytest_plugin import _exit_when_orphaned\n"
        "if os.fork() == 0:\n"
        "    _exit_when_orphaned(os.getppid(), poll_s=0.05)\n"
        "    print(os.getpid(), flush=True)\n"
        "    time.sleep(30)\n"
        "    sys.exit(0)\n"
        "time.sleep(30)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline and alive(child):
        time.sleep(0.05)
    assert not alive(child) and pytest_plugin.ORPHAN_EXIT == 70
