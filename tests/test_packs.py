"""The GPU packs (bench.packs) on the CPU: every pack's plan fits a lent GPU session, with estimates
derived from counts; the estimates are not below what the GPU runs committed under reports/ took; which
packs a GPU model owes, from what is committed; and a rehearsal that runs every pack end to end through
the real runner, its GPU parts stood in for (tests/support/fake_pack_python.py), then checks the archive it
leaves, so that a slip in a pack costs no GPU minutes."""

import json
import re
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gpubench import kernels, results
from gpubench.bench.packs import cli as pack_cli
from gpubench.bench.packs import costs as pack_costs
from gpubench.bench.packs import runner as pack_run
from gpubench.bench.packs import steps as pack_steps
from gpubench.bench.packs import table as packs
from gpubench.bench.packs.costs import Cost
from gpubench.bench.packs.steps import Step, Where
from gpubench.bench.run.plan import PROFILES, PlanItem

REPO = Path(__file__).resolve().parent.parent
H100 = "NVIDIA H100 80GB HBM3"
STAND_IN = [sys.executable, str(Path(__file__).parent / "support" / "fake_pack_python.py")]
NEW_FILES = [
    f"tests/gpu/test_{n}_gpu.py" for n in ("attention", "qmatmul", "transformer", "truth", "window_sum")
]
# The GPU test files whose results are committed for both GPUs (reports/reference/*/gpu-tests*.xml).
RUN_FILES = [f"tests/gpu/test_{n}_gpu.py" for n in ("basic", "gemm", "norms", "micro")]
NEVER_RUN = len(list((REPO / "tests" / "gpu").glob("test_*_gpu.py"))) - len(RUN_FILES)


@pytest.fixture(scope="module")
def plans():
    at = pack_cli.where(H100, [sys.executable])
    return {p.name: pack_run.plan(p, at) for p in packs.PACKS}


def test_every_pack_fits_a_lent_gpu_session(plans):
    # each pack under 7 minutes, and two of them after the machine's start within the session's budget
    assert packs.PACK_LIMIT_S <= 7 * 60 and 2 * packs.PACK_LIMIT_S + packs.START_S <= packs.BUDGET_S
    assert list(plans)[:5] == ["correctness", "bench-new", "micro", "truth", "bench-all"]  # by value
    for name, rows in plans.items():
        total = sum(r.cost.seconds for r in rows)
        assert 0 < total <= packs.PACK_LIMIT_S, f"{name}: {total:.0f} s"
        assert all(r.skip is None and r.cost.seconds > 0 and r.cost.basis for r in rows), name
    steps = {r.step.name: r for r in plans["correctness"]}
    files = steps["tests_new"].step.files(pack_cli.where(H100, [sys.executable]))
    assert set(NEW_FILES) <= set(files) and not set(RUN_FILES) & set(files) and len(files) == NEVER_RUN
    assert "over 8 workers" in steps["tests_new"].cost.basis  # pytest-xdist, as the GPU machines have


def test_the_estimates_are_not_below_what_the_gpus_took():
    """The GPU-test and benchmark estimates of what the committed reference runs did, against the time
    those runs took (junit's testsuite time; a results file's start and finish)."""
    reg = kernels.REGISTRY
    old = pack_steps.run_before(pack_cli.where(H100, [sys.executable]))
    assert old == ["tests/gpu/test_basic_gpu.py", "tests/gpu/test_gemm_gpu.py", "tests/gpu/test_norms_gpu.py"]
    tested = pack_costs.tests_cost(pack_costs.collect_gpu_tests(old), reg, workers=6)  # they ran with -n 6
    for folder in ("NVIDIA-H100-80GB-HBM3", "NVIDIA-H200"):
        ref = REPO / "reports" / "reference" / folder
        took = float(ET.parse(ref / "gpu-tests.xml").getroot().find("testsuite").get("time"))
        assert tested.seconds >= took, (folder, tested, took)
        run = results.read(ref / "results-quick.json")
        items = [
            PlanItem(r.workload, r.variant, r.backend, dict(r.shape), r.dtype, r.mode) for r in run.records
        ]
        took = (_utc(run.run.finished) - _utc(run.run.started)).total_seconds()
        est = pack_costs.bench_cost(items, PROFILES["quick"].rule, run.gpu, reg)
        assert 100 < took <= est.seconds, (folder, est, took)


def _utc(stamp: str):
    from datetime import datetime

    return datetime.fromisoformat(stamp)


def _repo(tmp_path: Path, gpu_tests: list[str]) -> Where:
    (tmp_path / "tests" / "gpu").mkdir(parents=True)
    for name in gpu_tests:
        (tmp_path / "tests" / "gpu" / name).write_text("")
    at = Where(H100, tmp_path, tmp_path / "out", [sys.executable], "20260101T000000Z", kernels.REGISTRY)
    at.ref.mkdir(parents=True)
    at.calib.mkdir(parents=True)
    return at


def _junit(path: Path, *modules: str) -> None:
    cases = "".join(f'<testcase classname="{m}" name="t" time="0.1"/>' for m in modules)
    path.write_text(f'<testsuites><testsuite name="pytest" tests="1">{cases}</testsuite></testsuites>')


def test_what_a_gpu_model_owes_follows_what_is_committed(tmp_path):
    committed = pack_cli.where(H100, [sys.executable])
    due = dict((p.name, why) for p, why in packs.owed(committed))
    assert due["correctness"] == f"{NEVER_RUN} GPU test files never run on it"
    assert due["micro"] == "its ceilings predate the burst and sustained rates"
    assert due["truth"] == "0 of the 11 A/A runs committed"
    assert due["bench-all"].startswith("103 of 289 items")
    at = _repo(tmp_path, ["test_a_gpu.py", "test_b_gpu.py", "test_micro_gpu.py"])
    _junit(at.ref / "gpu-tests.xml", "tests.gpu.test_a_gpu")
    assert pack_steps.never_run(at) == ["tests/gpu/test_b_gpu.py"]
    assert pack_steps.run_before(at) == ["tests/gpu/test_a_gpu.py"]
    correctness = packs.by_name("correctness")
    assert correctness.owed_because(at) == "1 GPU test files never run on it"
    _junit(at.ref / "gpu-tests-new.xml", "tests.gpu.test_b_gpu.TestClass")
    assert correctness.owed_because(at) is None and pack_steps.never_run(at) == []
    micro = packs.by_name("micro")
    (at.ref / "ceilings.json").write_text(json.dumps({"ceilings": {"peaks_burst": {"bf16": 700.0}}}))
    assert micro.owed_because(at) is None
    for n in range(11):
        (at.calib / f"aa-x-{n:02d}.json").write_text("{}")
    assert packs.by_name("truth").owed_because(at) == "no record profiled under Nsight Compute"
    (at.calib / "ncu-x.json").write_text("{}")
    assert packs.by_name("truth").owed_because(at) is None


def test_a_pack_takes_the_owed_items_its_time_holds_and_leaves_the_rest_owed(tmp_path):
    """bench-new and bench-compile: whole (workload, variant, shape, dtype) groups, in order, while the
    estimate holds; a group alone over the limit still runs (it can run nowhere else)."""
    items = [PlanItem("w", v, "torch", {"n": n}, "bf16", m) for n in (1, 2) for v in ("a", "b")
             for m in ("cold", "warm")]  # fmt: skip
    per_item = lambda some: Cost(10.0 * len(some), "10 s an item")  # noqa: E731
    assert pack_costs.within(items, 45, per_item) == items[:4]  # two groups of two: 40 s; a third is 60 s
    assert pack_costs.within(items, 5, per_item) == items[:2]
    assert pack_costs.within([], 5, per_item) == []
    at = pack_cli.where(H100, [sys.executable])
    new = packs.new_items(at)
    assert new and {i.workload for i in new} <= set(kernels.REGISTRY) - {"vector_add", "gemm"}
    run = next(s for s in packs.by_name("bench-new").steps if s.name == "results-kernels")
    assert run.cost(at).seconds <= packs.PACK_LIMIT_S - packs.DEVICE.cost(at).seconds
    assert "torch.compile" in run.cost(at).basis  # conv2d's torch_compile items compile
    compiled = packs.compiled_items(at)
    assert compiled and {i.variant for i in compiled} == {"torch_compile"}


class _Sleep(Step):
    def command(self, at):
        return [sys.executable, "-c", "import sys, time; time.sleep(30); sys.exit(int(sys.argv[1]))", "0"]

    def cost(self, at):
        return Cost(1.0, "a test step")


class _Exit(_Sleep):
    def command(self, at):
        return [sys.executable, "-c", "import sys; sys.exit(3)"]


class _Broken(_Sleep):
    def command(self, at):
        raise RuntimeError("no command")


def test_a_step_is_stopped_at_its_limit_and_the_pack_goes_on_within_its_own(tmp_path):
    at = _repo(tmp_path, [])
    at.out.mkdir()
    steps = (_Broken("broken"), _Exit("fails"), _Sleep("sleeps"), _Exit("late"))
    pack = packs.Pack("test", "a test pack", steps, lambda at: None)
    limit = pack_run.RESERVE_S + pack_run.MIN_STEP_S + 1  # room for one step of 2 s (1 s x MARGIN), no more
    archive, statuses = pack_run.run_pack(pack, at, tmp_path, "abc", limit_s=limit, echo=lambda line: None)
    assert statuses == {"broken": "error", "fails": "failed(rc=3)", "sleeps": "timeout", "late": "not-run"}
    assert [p.name for p in tmp_path.glob("*.tar.gz")] == [archive.name]
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        steps = tar.extractfile(f"{top}/steps.txt").read().decode().splitlines()
    assert [line.split()[1] for line in steps[1:5]] == [statuses[s.name] for s in pack.steps]
    assert "RuntimeError: no command" in steps[1]


@pytest.mark.slow
def test_every_pack_rehearsed_end_to_end_leaves_one_archive(plans, tmp_path):
    for pack in packs.PACKS:
        staged, dest = tmp_path / pack.name / "stage", tmp_path / pack.name / "out"
        staged.mkdir(parents=True)
        dest.mkdir()
        at = Where(
            H100, REPO, staged, STAND_IN, "20260101T000000Z", kernels.REGISTRY, pack_steps.has("xdist")
        )
        # the stand-ins' times on a busy CPU say nothing of the GPU's: the limits are not under test here
        archive, statuses = pack_run.run_pack(pack, at, dest, "0123abcd", 3600, lambda line: None, margin=100)
        assert set(statuses.values()) == {"ok"}, (pack.name, statuses, (staged / "steps.txt").read_text())
        assert list(dest.iterdir()) == [archive] and archive.stat().st_size <= pack_run.MAX_ARCHIVE_BYTES
        _check_archive(pack, archive, at)
        if pack.name == "truth":
            repo = tmp_path / "repo"
            assert pack_cli.commit_archive(str(archive), repo, echo=lambda line: None) == 0
            placed = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file())
            assert "reports/calibration/NVIDIA-H100-80GB-HBM3/aa-20260101T000000Z-06.json" in placed
            assert len(placed) == 10 and results.read(repo / placed[0]).records


def _check_archive(pack, archive: Path, at: Where) -> None:
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        top = f"{pack.name}-NVIDIA-H100-80GB-HBM3-20260101T000000Z"
        assert {n.split("/")[0] for n in names} == {top}
        read = lambda name: tar.extractfile(f"{top}/{name}").read().decode()  # noqa: E731
        assert read("commit.txt") == "0123abcd\n"
        steps = read("steps.txt").splitlines()
        assert steps[0].startswith(f"pack {pack.name}; GPU {H100}; commit 0123abcd")
        assert [line.split()[:2] for line in steps[1 : 1 + len(pack.steps)]] == [
            [s.name, "ok"] for s in pack.steps
        ]
        for step in pack.steps:
            assert f"{top}/logs/{step.name}.log" in names
            assert all(f"{top}/{o}" in names for o in step.outputs(at)), step.name
        places = json.loads(read("commit.json"))
        assert places == {k: at.place(v) for s in pack.steps for k, v in s.keep.items()}
        assert all(p.startswith("reports/") for p in places.values())


def test_the_plan_command_lists_every_pack_and_what_each_gpu_owes(plans, capsys):
    assert pack_cli.main(["--plan"]) == 0
    out = capsys.readouterr().out
    for pack in packs.PACKS:
        assert f". {pack.name}: {pack.about}" in out
    assert f"NVIDIA H200: owed: {NEVER_RUN} GPU test files never run on it" in out
    assert f"of {packs.PACK_LIMIT_S} s" in out
    new = next(r for r in plans["correctness"] if r.step.name == "tests_new")
    assert "- tests_new" in out and new.cost.basis in out  # the count behind the estimate
    assert re.match(r"\d+ tests, \d+ Triton keys", new.cost.basis)


def test_the_command_refuses_a_bad_argument_in_one_line(tmp_path, capsys):
    for argv, words in (
        ([], "give PACK and OUT"),
        (["nope", str(tmp_path), "--gpu", H100], "no pack 'nope'; the packs: correctness, bench-new"),
        (["correctness", str(tmp_path / "missing"), "--gpu", H100], "no such folder"),
        (["correctness", str(tmp_path), "--gpu", H100, "--limit", "nan"], "--limit must be"),
        (["--commit", str(tmp_path / "x.tar.gz")], "not a pack's archive"),
    ):
        assert pack_cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("scripts/gpu_pack.py: error:") and words in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing left behind
