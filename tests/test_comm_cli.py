"""`gpubench comm`: the predict-only path (no torch, no GPU), its JSON rows, and bad input refused with
exit 2 naming the problem before anything starts."""

import json
import subprocess
import sys

import pytest

from gpubench.bench.commands import comm_cli, comm_measure
from gpubench.bench.fleet.gpus import Gpu
from tests.support.procs import REPO

ROW_KEYS = {"collective", "bytes", "ranks", "backend", "time_s", "algbw_GBps", "busbw_GBps",
            "predicted_busbw_GBps", "algorithm", "limit"}  # fmt: skip


def test_predict_needs_no_torch_and_prints_one_json_row_per_size():
    code = (
        "import sys, json\n"
        "from gpubench.bench.commands import comm_cli\n"
        "rc = comm_cli.main(['--predict', '--topology', 'dgx-h100', '--ranks', '8', '--json', '-b', '8',"
        " '-e', '16G', '-f', '2'])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "sys.exit(rc)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(rows) == 32 and all(ROW_KEYS <= set(r) for r in rows)  # 8 B .. 16 GiB by 2
    by_size = {r["bytes"]: r for r in rows}
    assert by_size[1 << 30]["algorithm"] == "nvls/Simple" and by_size[1 << 30]["limit"] == "intra-node link"
    assert by_size[8]["limit"] == "latency" and by_size[8]["time_s"] is None  # predicted, not measured


def test_predict_table_forced_ring(capsys):
    argv = ["--predict", "--topology", "dgx-h200", "--algorithm", "ring", "-b", "1G", "-e", "1G"]
    assert comm_cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "ring/Simple" in out and "pred busbw" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--collective", "allreduce", "--predict", "--topology", "dgx-h100"], "unknown collective 'allreduce'"),
    (["--collective", "all_gather", "--ranks", "3", "-b", "8", "-e", "8", "--predict", "--topology",
      "dgx-h100"], "all_gather of 8 B: not a whole number of 3 ranks' fp32 chunks"),
    (["--predict", "--topology", "dgx-h100", "--ranks", "16"], "need 2 nodes; dgx-h100 has 1"),
    (["--predict"], "--predict applies only with --topology"),
    (["--predict", "--topology", "dgx-h100", "-f", "inf"], "-f/--stepfactor: 'inf' is not a finite number"),
    (["--predict", "--topology", "dgx-h100", "-e", "1e400"], "'1e400' is not a finite size"),
    (["--predict", "--topology", "dgx-h100", "--out", "x.json"], "--predict and --out cannot be given"),
    (["--quick", "--timeout", "2"], "--quick and --timeout cannot be given together"),
    (["--predict", "--topology", "dgx-h900"], "unknown topology 'dgx-h900'"),
    (["--backend", "gloo", "--algorithm", "ring"], "gloo picks its own"),
    (["--collective", "broadcast", "--algorithm", "tree", "--predict", "--topology", "dgx-a100"],
     "NCCL has no tree broadcast"),
    (["--collective", "all_reduce", "--mode", "out_of_place", "--predict", "--topology", "dgx-a100"],
     "offers all_reduce only in_place"),
    (["-b", "1X", "--predict", "--topology", "dgx-a100"], "'1X' is not a size"),
    (["--nodes", "2", "--backend", "gloo"], "--nodes 2: not inside a Slurm allocation"),
])  # fmt: skip
def test_bad_input_exits_2_naming_it(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("SLURM_NNODES", raising=False)
    monkeypatch.delenv("SLURM_JOB_NUM_NODES", raising=False)
    assert comm_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gpubench comm: error: ") and message in err and "Traceback" not in err


def test_a_factor_past_the_largest_size_ends_the_sweep(capsys):
    # 8 x 1e308 overflows a float: the sweep stops at the size past -e before it is made a whole number
    assert comm_cli.main(["--predict", "--topology", "dgx-h100", "-b", "8", "-e", "64", "-f", "1e308"]) == 0
    assert capsys.readouterr().out.count("all_reduce") == 1


def test_a_node_count_slurm_did_not_grant_exits_2(capsys, monkeypatch):
    monkeypatch.setenv("SLURM_NNODES", "2")
    assert comm_cli.main(["--nodes", "4", "--backend", "nccl"]) == 2
    assert "--nodes 4: Slurm granted 2 node(s) (SLURM_NNODES=2)" in capsys.readouterr().err


def test_more_ranks_than_gpus_and_nccl_without_a_gpu_exit_2(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(comm_measure, "visible_gpus", lambda: [])
    assert comm_cli.main(["--backend", "nccl", "--out", str(tmp_path / "x.json")]) == 2
    assert "--backend nccl needs a GPU; none is visible" in capsys.readouterr().err
    one = [Gpu(0, "GPU-0000", "NVIDIA H100 80GB HBM3")]
    monkeypatch.setattr(comm_measure, "visible_gpus", lambda: one)
    assert comm_cli.main(["--backend", "nccl", "--ranks", "2", "--out", str(tmp_path / "x.json")]) == 2
    assert "--ranks 2: more ranks than GPUs (1 node(s) x 1 visible GPU(s))" in capsys.readouterr().err


def test_an_unknown_algorithm_is_refused_by_argparse(capsys):
    assert comm_cli.main(["--algorithm", "bcube"]) == 2
    assert "invalid choice: 'bcube'" in capsys.readouterr().err


def test_the_system_of_a_gpu_predicts_its_records():
    from gpubench.bench.comm.sweep import system_of

    assert system_of("NVIDIA H100 80GB HBM3", 1).name == "dgx-h100"
    assert system_of("NVIDIA GeForce RTX 4090", 1) is None


def test_the_cpu_main_job_runs_a_small_gloo_sweep_only_for_the_default_selection(monkeypatch, capsys):
    from gpubench.bench.commands import run_cli

    ran = []
    assert run_cli.collective_sweep(lambda cmd, env: ran.append(cmd) or 0) == 0
    (cmd,) = ran
    assert cmd[cmd.index("comm") + 1 :][:4] == ["--backend", "gloo", "--ranks", "2"] and "--quick" in cmd
    assert "gloo over loopback, 2 processes on this CPU" in capsys.readouterr().out
    # the sweep's arguments are valid: the same command, predicting instead of measuring, exits 0
    args = cmd[cmd.index("comm") + 1 :]
    assert "--out" not in args  # the file goes where gpubench comm puts one: results/
    args.remove("--quick")  # a measuring option that --predict refuses
    assert comm_cli.main([*args, "--predict", "--topology", "dgx-h100", "--json"]) == 0
