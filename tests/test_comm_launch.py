"""The collective launcher: a rank that dies or hangs is named, the others are stopped, nothing is left
running, and what rank 0 finished is kept. Driven by a torch-free stand-in worker, so it takes seconds."""

import os
from pathlib import Path

import pytest

from gpubench.bench.comm.launch import launch
from gpubench.bench.comm.rendezvous import RendezvousError, check_nodes, first_host, rendezvous
from tests.support.procs import REPO, alive

WORKER = "tests.support.fake_comm_worker"
ITEMS = [{"n": i} for i in range(4)]


def _env(fault: str | None = None) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    if fault:
        env["FAKE_COMM_FAULT"] = fault
    return env


def test_every_rank_finishes_and_rank_0s_records_come_back(tmp_path):
    got = launch({"items": ITEMS}, 3, tmp_path, hang_s=30, worker=WORKER, env=_env())
    assert got.failure is None and got.exit_codes == [0, 0, 0]
    assert got.records == ITEMS


def test_a_rank_that_dies_is_named_and_finished_records_are_kept(tmp_path):
    got = launch({"items": ITEMS}, 3, tmp_path, hang_s=30, worker=WORKER, env=_env("die:1:2"))
    assert got.failure.startswith("rank 1 exited with status 3: rank 1: dying on purpose")
    assert len(got.records) >= 1 and got.records[0] == ITEMS[0]
    assert not any(alive(pid) for pid in got.pids)


def test_a_rank_that_hangs_is_named_within_the_timeout(tmp_path):
    got = launch({"items": ITEMS}, 2, tmp_path, hang_s=2, worker=WORKER, env=_env("hang:1:1"))
    assert "no progress for 2 s: rank 1 at 'done item 0'" in got.failure
    assert "rank 0" not in got.failure.split(":", 1)[1]  # only the rank furthest behind is named
    assert got.records == ITEMS  # rank 0 got through, alone (the stand-in does not wait)
    assert not any(alive(pid) for pid in got.pids)


def test_rendezvous_from_torchrun_variables_and_from_slurm():
    rv = rendezvous(
        {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "3", "MASTER_ADDR": "h", "MASTER_PORT": "1"}
    )
    assert (rv.rank, rv.world, rv.local_rank, rv.master_addr, rv.master_port, rv.source) == (
        3,
        8,
        3,
        "h",
        1,
        "env",
    )
    slurm = {
        "SLURM_PROCID": "9",
        "SLURM_NTASKS": "16",
        "SLURM_LOCALID": "1",
        "SLURM_NNODES": "2",
        "SLURM_JOB_NODELIST": "gpu[07-08]",
        "SLURM_JOB_ID": "123",
    }
    rv = rendezvous(slurm)
    assert (rv.rank, rv.world, rv.local_rank, rv.nodes, rv.source) == (9, 16, 1, 2, "slurm")
    assert rv.master_addr == first_host("gpu[07-08]") and rv.master_port == 29500 + 123
    with pytest.raises(RendezvousError, match="SLURM_NTASKS is not set"):
        rendezvous({"SLURM_PROCID": "0"})
    with pytest.raises(RendezvousError, match="neither RANK/WORLD_SIZE"):
        rendezvous({})
    assert check_nodes(4, 2) == "asked for 4 nodes; the allocation has 2 (SLURM_NNODES)"
    assert check_nodes(2, 2) is None


def test_first_host_of_a_slurm_node_list_without_scontrol():
    assert first_host("node1") == "node1"
    assert first_host("gpu[03-05,09],cpu1").startswith("gpu03")


def test_a_collective_job_through_submitit_local(tmp_path, monkeypatch, capsys):
    """`gpubench submit --local --gpus-per-node 2 --comm ...`: one job of two tasks, each a rank (rank,
    world and rendezvous from submitit's view of the job), rank 0's journal made into one results file."""
    import argparse

    from gpubench import results
    from gpubench.bench.commands import comm_submit, submit_cli

    monkeypatch.setenv("PYTHONPATH", str(REPO))
    p = argparse.ArgumentParser()
    submit_cli.add_parser(p.add_subparsers())
    argv = [
        "submit",
        "--local",
        "--gpus-per-node",
        "2",
        "--folder",
        str(tmp_path / "sub"),
        "--comm",
        "--backend",
        "gloo",
        "--collective",
        "all_reduce",
        "all_gather",
        "-b",
        "1K",
        "-e",
        "2K",
    ]
    code = comm_submit.submit_comm(p.parse_args(argv), worker=WORKER)
    assert code == 0, capsys.readouterr().err
    run = results.read(tmp_path / "sub" / "comm.json")
    assert run.status == "complete" and len(run.records) == 2 + 2 * 2  # all_gather: two modes
    assert {r.collective.ranks for r in run.records} == {2}
    bad = [
        "submit",
        "--local",
        "--gpus-per-node",
        "2",
        "--folder",
        str(tmp_path / "b"),
        "--comm",
        "--ranks",
        "3",
    ]
    assert comm_submit.submit_comm(p.parse_args(bad), worker=WORKER) == 2
    assert "--ranks 3: the job has 1 node(s) x 2 task(s)" in capsys.readouterr().err


def test_sigterm_stops_every_rank_and_keeps_the_finished_records(tmp_path):
    """A cancelled job's SIGTERM: the sweep's file says interrupted and holds what finished; no rank runs."""
    import signal
    import subprocess
    import sys
    import time

    from gpubench import results

    out, scratch = tmp_path / "comm.json", tmp_path / "scratch"
    scratch.mkdir()
    script = (
        "from pathlib import Path\n"
        "from gpubench.bench.comm.plan import build\n"
        "from gpubench.bench.comm.sweep import SweepOptions, sweep\n"
        "items = build(['all_reduce'], 1024, 1 << 20, 2, ['fp32'], None, 2)\n"
        f"sweep(SweepOptions(items, 'gloo', 2, worker='{WORKER}', hang_s=600), Path(r'{out}'))\n"
    )
    env = {**_env("hang:1:3"), "TMPDIR": str(scratch)}  # the sweep's work folder lands in scratch
    proc = subprocess.Popen(
        [sys.executable, "-c", script], env=env, cwd=REPO, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 60
    journal = lambda: [p for p in scratch.glob("gpubench-comm-*/journal.jsonl")]  # noqa: E731
    while time.time() < deadline and not (journal() and len(journal()[0].read_text().splitlines()) >= 3):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    run = results.read(out)
    assert run.status == "interrupted" and len(run.records) >= 3  # the stand-in's rank 0 does not wait
    left = [p for p in Path("/proc").glob("[0-9]*") if str(scratch) in _cmdline(p)]
    assert not left, "a worker outlived the sweep"


def _cmdline(proc_dir: Path) -> str:
    try:
        return (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
