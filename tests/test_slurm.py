"""`gpubench submit` through submitit: the plan split into a job array, each job a `gpubench run --items`
writing its own file, merged at the end; a job that fails is listed with its items and --resume runs
only those. End to end with submitit's local executor and a stand-in `gpubench run`
(tests/support/fake_gpubench_run.py: the real multi-GPU execution on stand-in GPUs and workers)."""

import argparse
import json
import sys
from pathlib import Path

import pytest

from gpubench import results
from gpubench.bench.commands import submit_cli
from gpubench.bench.fleet import slurm
from gpubench.bench.fleet.split import item_key
from gpubench.bench.run.plan import PROFILES, PlanItem, build_plan
from gpubench.cli import main
from gpubench.reports import merge_cli
from gpubench.results.submission import Shard, Submission, read_submission, write_submission

REPO = Path(__file__).resolve().parent.parent
STAND_IN = [sys.executable, str(Path(__file__).parent / "support" / "fake_gpubench_run.py")]


def _args(*argv):
    p = argparse.ArgumentParser()
    submit_cli.add_parser(p.add_subparsers())
    return p.parse_args(["submit", *argv])


@pytest.fixture
def job_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the jobs' interpreters import the suite and the stand-in
    monkeypatch.setenv("FAKE_FAIL_SHARD", "r1-001")
    monkeypatch.setenv("FAKE_FAIL_FLAG", str(tmp_path / "failed-once"))
    return tmp_path


@pytest.mark.slow
def test_a_job_array_end_to_end_with_a_failed_job_and_resume(job_env, capsys):
    folder = job_env / "sub"
    argv = [
        "--local",
        "--workload",
        "vector_add",
        "--array",
        "3",
        "--folder",
        str(folder),
        "--storage",
        str(job_env / "st"),
    ]
    code = submit_cli.submit(_args(*argv), command=STAND_IN)
    out = capsys.readouterr().out
    assert code == 1, out
    plan_keys = {item_key(i) for i in build_plan(PROFILES["quick"], ["vector_add"]).items}
    sub = read_submission(folder)
    assert [s.state for s in sub.shards] == ["COMPLETED", "FAILED", "COMPLETED"]
    assert "the run of shard r1-001 exited 3" in sub.shards[1].error
    failed = {k.label for k in sub.shards[1].keys()}
    assert f"missing: {len(failed)} item(s) of r1-001 (job {sub.shards[1].job_id}, FAILED" in out
    assert all(f"  {label}" in out for label in failed)
    merged = results.read(folder / "merged.json")
    assert merged.status == "partial" and {r.key for r in merged.records} == plan_keys - set(
        sub.shards[1].keys()
    )
    assert len(merged.gpus) == 2  # each job ran on the stand-in's two GPUs
    # gpubench merge DIR says the same, later
    assert merge_cli.main([str(folder)]) == 1
    assert f"{len(failed)} item(s) missing" in capsys.readouterr().out
    first = (folder / "results" / "r1-000.json").read_bytes()

    code = submit_cli.submit(_args("--local", "--resume", "--folder", str(folder)), command=STAND_IN)
    out = capsys.readouterr().out
    assert code == 0, out
    sub = read_submission(folder)
    again = [s for s in sub.shards if s.round == 2]  # split as the first round was: --array 3
    assert [s.name for s in again] == ["r2-000", "r2-001", "r2-002"] and sub.options["array"] == 3
    assert sorted(k.label for s in again for k in s.keys()) == sorted(failed)  # only what was missing
    assert {s.state for s in again} == {"COMPLETED"}
    assert sub.extra["run_args"]["storage"] == str((job_env / "st").resolve())  # kept from the first round
    merged = results.read(folder / "merged.json")
    assert merged.status == "complete" and sorted(r.key for r in merged.records) == sorted(plan_keys)
    assert (folder / "results" / "r1-000.json").read_bytes() == first  # finished jobs are not rerun
    assert submit_cli.submit(_args("--local", "--resume", "--folder", str(folder)), command=STAND_IN) == 0
    assert "nothing is missing" in capsys.readouterr().out


class _Job:
    def __init__(self, job_id, state, error=None):
        self.job_id, self.state, self._error = job_id, state, error

    def done(self):
        return True

    def exception(self):
        return None if self._error is None else RuntimeError(self._error)


def test_timed_out_and_failed_jobs_are_recorded_with_the_schedulers_word(tmp_path, capsys):
    items = [PlanItem("vector_add", "torch", "torch", {"n": n}, "fp32", "cold") for n in (1024, 2048, 4096)]
    sub = Submission(profile="quick")
    shards = [
        Shard(f"r1-00{k}", 1, [i.to_json()], job_id=f"77_{k}", state="submitted") for k, i in enumerate(items)
    ]
    sub.shards = shards
    write_submission(sub, tmp_path)
    trace = "Traceback (most recent call last):\n  ...\nRuntimeError: boom\n  - /x/77_2_0_log.err\n"
    jobs = [
        _Job("77_0", "COMPLETED"),
        _Job("77_1", "TIMEOUT", "job timed out"),
        _Job("77_2", "FINISHED", trace),
    ]
    slurm.wait_for(sub, tmp_path, shards, jobs, echo=print, poll_s=0)
    got = read_submission(tmp_path)
    assert [(s.state, s.error) for s in got.shards] == [
        ("COMPLETED", None),
        ("TIMEOUT", "job timed out"),
        ("FAILED", "RuntimeError: boom; log: /x/77_2_0_log.err"),
    ]
    assert merge_cli.main([str(tmp_path)]) == 1  # no job wrote results: all three items missing
    out = capsys.readouterr().out
    assert "missing: 1 item(s) of r1-001 (job 77_1, TIMEOUT: job timed out)" in out
    assert "nothing merged (3 items missing)" in out


def test_the_cluster_options_reach_the_sbatch_script(tmp_path, monkeypatch):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{__import__('os').environ['PATH']}")
    opts = slurm.ClusterOptions(
        "slurm",
        partition="gpu",
        gpus_per_node=8,
        nodes=2,
        array=4,
        timeout_min=30,
        account="acc",
        constraint="h100",
    )
    script = slurm.make_executor(tmp_path, opts)._executor._make_submission_file_text("python -m x", "u")
    for line in (
        "--partition=gpu",
        "--gpus-per-node=8",
        "--nodes=2",
        "--ntasks-per-node=1",
        "--time=30",
        "--account=acc",
        "--constraint=h100",
    ):
        assert f"#SBATCH {line}\n" in script
    assert "partition" not in slurm.ClusterOptions("local").parameters()


def test_a_job_of_several_nodes_runs_one_part_per_node(tmp_path, monkeypatch):
    items = [PlanItem("vector_add", "torch", "torch", {"n": n}, "fp32", "cold") for n in range(1, 6)]
    shard = Shard("r1-000", 1, [i.to_json() for i in items])
    record = tmp_path / "argv.json"
    code = (
        "import json, os, sys; json.dump(sys.argv[2:], open(sys.argv[1], 'w')); "
        "sys.exit(int(os.environ['RC']))"
    )
    job = slurm.ShardJob(
        tmp_path, shard, ["--profile", "quick"], {}, [sys.executable, "-c", code, str(record)]
    )
    parts = []
    for rank in (0, 1):
        monkeypatch.setattr(slurm.ShardJob, "_task", lambda self, r=rank: (r, 2))
        monkeypatch.setenv("RC", "1")  # a kernel failed: the run still ran its items
        assert job() == {
            "shard": f"r1-000.task{rank}",
            "exit": 1,
            "items": len(json.loads((tmp_path / "shards" / f"r1-000.task{rank}.json").read_text())),
        }
        argv = json.loads(record.read_text())
        assert argv[argv.index("--out") + 1] == str(tmp_path / "results" / f"r1-000.task{rank}.json")
        assert argv[argv.index("--gpus") + 1] == "all" and argv[-2:] == ["--profile", "quick"]
        parts += json.loads(Path(argv[argv.index("--items") + 1]).read_text())
    assert sorted(p["shape"]["n"] for p in parts) == [1, 2, 3, 4, 5]
    monkeypatch.setenv("RC", "130")
    with pytest.raises(RuntimeError, match="exited 130"):
        job()


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "say where the jobs run: --slurm or --local"),
        (["--slurm", "--local"], "say where the jobs run"),
        (["--local", "--array", "0"], "--array: 0 jobs is out of range: it must be at least 1"),
        (["--local", "--timeout", "-5"], "--timeout: -5 minutes is out of range"),
        (["--local", "--partition", "gpu"], "--local and --partition cannot be given together"),
        (["--local", "--nodes", "2"], "--nodes must be 1"),
        (["--local", "--resume"], "--resume needs --folder DIR"),
        (["--local", "--resume", "--folder", "F", "--workload", "gemm"], "drop --workload"),
        (["--local", "--resume", "--folder", "F", "--profile", "full"], "drop --profile"),
        (["--local", "--resume", "--folder", "{tmp}/none"], "no submission there"),
        (["--local", "--folder", "{tmp}/done"], "already holds a submission: use --resume"),
        (["--local", "--folder", "{tmp}", "--workload", "nope"], "unknown workload(s) nope"),
        (
            ["--local", "--folder", "{tmp}", "--balance-from", "{tmp}/missing.json"],
            "missing.json: no such file",
        ),
        (["--local", "--folder", "{tmp}", "--out", "{tmp}"], "--out: "),
    ],
)
def test_bad_submissions_exit_2_naming_the_problem(argv, message, tmp_path, capsys):
    (tmp_path / "done").mkdir()
    write_submission(Submission(profile="quick"), tmp_path / "done")
    code = main(["submit", *[a.replace("{tmp}", str(tmp_path)) for a in argv]])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "shards").exists()  # nothing written


def test_slurm_needs_a_login_node(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(submit_cli.shutil, "which", lambda name: None)
    assert main(["submit", "--slurm", "--folder", str(tmp_path / "s"), "--workload", "vector_add"]) == 2
    assert "sbatch not found" in capsys.readouterr().err


def test_local_without_a_usable_gpu_is_refused_before_any_job(tmp_path, capsys, monkeypatch):
    """The jobs' `gpubench run --gpus all` would fail in each job's log; submit says so first."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU visible, on any machine
    folder = tmp_path / "s"
    assert main(["submit", "--local", "--folder", str(folder), "--workload", "vector_add"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gpubench submit: error: --local: the jobs run `gpubench run --gpus all`"), err
    assert "no GPU" in err and len(err.strip().splitlines()) == 1
    assert not (folder / "manifest.json").exists()
