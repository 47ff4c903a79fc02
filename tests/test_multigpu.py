"""`gpubench run --gpus`: GPUs chosen by index or UUID among those visible, one worker process per GPU
pinned to it by CUDA_VISIBLE_DEVICES=<uuid>, one results file whose records name their GPU, a worker
that dies costing only its own item on its own GPU, progress per GPU, and a stop ending every worker.
On the CPU with stand-in GPUs and the stand-in worker (tests/support/fake_worker.py, pinned)."""

import os
import signal
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from gpubench import results
from gpubench.bench.fleet import gpus as gpumod
from gpubench.bench.fleet.gpus import Gpu, GpuSelectionError, parse_spec, select, visible
from gpubench.bench.fleet.items import write_items
from gpubench.bench.fleet.multigpu import available_gpus, run_on_gpus, split_plan
from gpubench.bench.run.plan import PROFILES, Plan, PlanItem
from gpubench.bench.run.runner import worker_command
from tests.support.procs import alive, stop_after
from tests.test_cli import gpubench, usage_error

pytestmark = pytest.mark.slow  # stand-in worker processes and gpubench subprocesses

REPO = Path(__file__).resolve().parent.parent
FAKE = Path(__file__).parent / "support" / "fake_worker.py"
DRIVER = Path(__file__).parent / "support" / "fake_gpubench_run.py"
GPUS = [Gpu(i, f"GPU-{i}0000000-aaaa", "Fake GPU", f"0000:{i:02x}:00.0") for i in range(4)]


def _cmd(gpu):
    return lambda plan_file, journal: [sys.executable, str(FAKE), str(plan_file), str(journal), "--pinned"]


def _plan(variants):
    return Plan([PlanItem("w", v, "torch", {"n": n}, "fp32", "cold") for n, v in enumerate(variants)])


def _run(tmp_path, variants, gpus):
    lines = []
    out = tmp_path / "r.json"
    code = run_on_gpus(
        PROFILES["quick"],
        _plan(variants),
        gpus,
        str(out),
        str(tmp_path / "st"),
        None,
        worker_cmd=_cmd,
        echo=lines.append,
        work=tmp_path / "work",
        registry=defaultdict(lambda: None),
    )
    return code, results.read(out), lines


# ----------------------------------------------------------------------------------------- choosing GPUs


def test_parse_spec_accepts_all_indices_and_uuids_and_names_what_is_wrong():
    assert parse_spec("all") == "all"
    assert parse_spec("0, 2") == ["0", "2"]
    assert parse_spec("GPU-1234,3") == ["GPU-1234", "3"]
    for bad, msg in (
        ("", "expected 'all'"),
        ("0,,1", "expected 'all'"),
        ("x", "neither"),
        ("-1", "neither"),
        ("1,1", "more than once"),
    ):
        with pytest.raises(GpuSelectionError, match=msg):
            parse_spec(bad)


def test_select_by_index_among_the_visible_and_by_uuid_prefix():
    assert select("all", GPUS) == GPUS
    assert select("2,0", GPUS) == [GPUS[2], GPUS[0]]
    assert select("GPU-3", GPUS) == [GPUS[3]]
    with pytest.raises(GpuSelectionError, match="no GPU 7 among the 4 visible.*gpu0"):
        select("7", GPUS)
    with pytest.raises(GpuSelectionError, match="more than one"):
        select("GPU-", GPUS)
    with pytest.raises(GpuSelectionError, match="the same GPU twice"):
        select(f"1,{GPUS[1].uuid}", GPUS)
    with pytest.raises(GpuSelectionError, match="no GPU is visible"):
        select("all", [])


def test_cuda_visible_devices_limits_and_orders_what_is_visible():
    assert visible(GPUS, None) == GPUS
    assert visible(GPUS, "") == []
    assert visible(GPUS, "3,1") == [GPUS[3], GPUS[1]]
    assert visible(GPUS, f"{GPUS[2].uuid[:8]},0") == [GPUS[2], GPUS[0]]
    assert visible(GPUS, "1,9,2") == [GPUS[1]]  # as CUDA: the list ends at the first unknown entry
    got = available_gpus("1", nvml=lambda: GPUS, environ={"CUDA_VISIBLE_DEVICES": "2,3"})
    assert got == [GPUS[3]]  # index 1 of what Slurm left visible


def test_without_nvml_there_is_no_gpu_to_find():
    try:
        import pynvml

        pynvml.nvmlInit()
        pytest.skip("NVML works on this machine")
    except Exception:
        pass
    with pytest.raises(GpuSelectionError, match="no GPU found"):
        gpumod.nvml_gpus()


def test_each_worker_is_pinned_to_its_gpu_by_uuid():
    assert GPUS[1].env() == {"CUDA_VISIBLE_DEVICES": GPUS[1].uuid}
    assert GPUS[1].save_name == "gpu1-10000000"  # pytest-benchmark names unique per physical GPU
    cmd = worker_command(PROFILES["quick"], Path("/tmp/s"), save_name="gpu1")(Path("p"), Path("j"))
    assert "--benchmark-save=gpu1" in cmd and "--benchmark-autosave" not in cmd
    assert "--benchmark-autosave" in worker_command(PROFILES["quick"], Path("/tmp/s"))(Path("p"), Path("j"))


# ----------------------------------------------------------------------------------------- running


def test_one_results_file_with_every_record_naming_its_gpu(tmp_path):
    variants = [f"v{n}" for n in range(10)]
    shards, _ = split_plan(_plan(variants), GPUS[:3], PROFILES["quick"], registry=defaultdict(lambda: None))
    assigned = {item.variant: gpu.uuid for gpu, items in shards for item in items}
    code, run, lines = _run(tmp_path, variants, GPUS[:3])
    assert code == 0 and run.status == "complete"
    assert [r.variant for r in run.records] == variants  # in plan order, whatever order GPUs finished in
    assert [d.uuid for d in run.gpus] == [g.uuid for g in GPUS[:3]]
    assert {d.sm_count for d in run.gpus} == {4}  # the device each worker reported
    # the stand-in reports the GPU its CUDA_VISIBLE_DEVICES names: each record ran where the split put it
    assert {r.variant: r.gpu_uuid for r in run.records} == assigned
    assert {run.device_of(r).uuid for r in run.records} == {g.uuid for g in GPUS[:3]}
    for gpu, items in shards:
        mine = [line for line in lines if line.startswith(f"{gpu.label}: [")]
        assert len(mine) == len(items) and mine[-1].startswith(f"{gpu.label}: [{len(items)}/{len(items)}]")


def test_a_dying_worker_costs_only_its_own_item_on_its_own_gpu(tmp_path):
    variants = ["a", "b", "abort", "c", "d", "e", "f", "g"]
    code, run, lines = _run(tmp_path, variants, GPUS[:2])
    assert code == 1 and run.status == "complete"
    assert [(r.variant, r.status) for r in run.records if not r.ok] == [("abort", "failed")]
    dead = run.records[2]
    assert "worker process died" in dead.reason
    same_gpu = [r for r in run.records if r.gpu_uuid == dead.gpu_uuid and r is not dead]
    assert same_gpu and all(r.ok for r in same_gpu)  # its GPU's later items ran in a fresh worker
    assert dead.gpu_uuid in {g.uuid for g in GPUS[:2]}
    assert any("FAILED" in line and line.startswith("gpu") for line in lines)


def test_one_gpu_gives_the_shape_of_a_plain_run(tmp_path):
    code, run, _ = _run(tmp_path, ["a", "b"], GPUS[:1])
    assert code == 0 and run.gpus == []
    assert run.device.uuid == GPUS[0].uuid and {r.gpu_uuid for r in run.records} == {GPUS[0].uuid}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_ends_every_gpus_worker_and_keeps_what_finished(tmp_path, sig):
    out, pids = tmp_path / "r.json", tmp_path / "pids"
    items = write_items(tmp_path / "items.json", _plan(["a", "b", "sleep", "sleep"]).items)
    env = {**os.environ, "PYTHONPATH": str(REPO), "FAKE_WORKER_PIDS": str(pids)}
    args = [
        "--items",
        str(items),
        "--out",
        str(out),
        "--gpus",
        "all",
        "--profile",
        "quick",
        "--storage",
        str(tmp_path / "st"),
    ]
    code, stdout, stderr = stop_after([str(DRIVER), *args], out, 2, sig, env)
    assert code == 130, stdout + stderr
    assert "Traceback" not in stderr + stdout and "2 of 4 records kept" in stdout
    run = results.read(out)
    assert run.status == "interrupted" and sorted(r.variant for r in run.records) == ["a", "b"]
    assert len({r.gpu_uuid for r in run.records}) == 2  # one finished item on each GPU
    workers = [int(p) for p in pids.read_text().split()]
    assert len(workers) == 2 and not any(alive(p) for p in workers), "a worker was left running"


# ----------------------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gpus", "0,,1"], "--gpus '0,,1': expected 'all'"),
        (["--gpus", "first"], "neither a GPU index nor a GPU UUID"),
        (["--balance-from", "x.json"], "--balance-from applies only with --gpus"),
        (["--items", "x.json", "--workload", "vector_add"], "--items and --workload cannot be given"),
        (["--items", "missing.json"], "--items missing.json: cannot be read"),
    ],
)
def test_bad_multi_gpu_arguments_exit_2_naming_the_problem(args, message):
    err = usage_error(gpubench("run", *args))
    assert message in err and len(err.strip().splitlines()) == 1


def test_bad_item_files_exit_2_naming_the_item(tmp_path):
    bad = tmp_path / "items.json"
    write_items(bad, [PlanItem("vector_add", "nope", "triton", {"n": 1024}, "fp32", "cold")])
    err = usage_error(gpubench("run", "--items", str(bad), "--dry-run"))
    assert "item 0" in err and "no variant 'nope'" in err
    bad.write_text("[]")
    assert "non-empty JSON list" in usage_error(gpubench("run", "--items", str(bad)))


def test_an_item_file_is_the_plan(tmp_path):
    items = write_items(
        tmp_path / "items.json", [PlanItem("vector_add", "torch", "torch", {"n": 1024}, "fp32", "warm")]
    )
    p = gpubench("run", "--items", str(items), "--dry-run")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "vector_add/torch/n=1024/fp32/warm" and "1 items" in p.stdout


def test_gpus_all_without_a_gpu_exits_2_before_anything_runs(tmp_path):
    try:
        gpumod.nvml_gpus()
        pytest.skip("this machine has NVML")
    except GpuSelectionError:
        pass
    p = gpubench("run", "--gpus", "all", "--workload", "vector_add", "--out", str(tmp_path / "r.json"))
    assert "no GPU found" in usage_error(p)
    assert not (tmp_path / "r.json").exists()
