"""Workload plug-ins (kernels.plugins, the registry): a workload package outside the repository (the
example in tests/data/plugin_example, copied away) is found through its entry point or by path, listed,
planned, checked in the CPU pass (its deliberately wrong Triton variant named, exit 1), measured by the
worker, reported and gated like a built-in; broken plug-ins are named and do not stop the others."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from gpubench import cli, kernels, results
from gpubench.bench.measure.stopping import StoppingRule
from gpubench.bench.run import worker as worker_mod
from gpubench.bench.run.plan import Profile, build_plan
from gpubench.kernels import plugins
from tests.test_measure import STEADY, FakeTelemetry, FakeTimer, Journal

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "tests" / "data" / "plugin_example"
RULE = StoppingRule(min_samples=10, max_samples=40, min_time_s=0.0, rel_noise=0.01, timeout_s=5.0)
BUILTINS = kernels._MODULES


def gpubench_cli(*args, cwd, pythonpath=(), timeout=300):
    """`python -m gpubench.cli ARGS` in a fresh process that sees only the suite and `pythonpath`."""
    env = {k: v for k, v in os.environ.items() if k not in (plugins.ENV_VAR, "TRITON_INTERPRET")}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), str(REPO)])
    return subprocess.run([sys.executable, "-m", "gpubench.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)  # fmt: skip


@pytest.fixture(autouse=True)
def forget_plugin_modules(tmp_path, monkeypatch):
    """Plug-in modules loaded from this test's folder leave sys.modules and sys.path with it."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    for name, mod in list(sys.modules.items()):
        if str(getattr(mod, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


@pytest.fixture
def example(tmp_path) -> Path:
    """The example plug-in package, outside the repository."""
    return Path(
        shutil.copytree(EXAMPLE, tmp_path / "plugin_example", ignore=shutil.ignore_patterns("__pycache__"))
    )


def _registry(*paths) -> kernels.Registry:
    reg = kernels.Registry(BUILTINS, entry_points=False)
    reg.add_modules([str(p) for p in paths])
    return reg


@pytest.mark.slow
def test_the_cpu_pass_checks_a_plugin_and_names_its_wrong_variant(example):
    p = gpubench_cli("run", "--workload-module", str(example / "scale_kernels"), "--workload", "scale",
                     cwd=example)  # fmt: skip
    assert p.returncode == 1, p.stdout + p.stderr
    assert "  ok   scale/triton: 6 cases correct" in p.stdout
    assert "  FAIL scale/triton_shifted: 0 cases correct" in p.stdout
    assert "WRONG: scale/triton_shifted" in p.stdout and "scale/torch" in p.stdout  # listed, not checked


@pytest.mark.slow
def test_entry_points_are_discovered_and_a_broken_one_is_named(example, tmp_path):
    """A dist-info on sys.path, as `pip install` of the example would leave it, plus a broken entry."""
    site = tmp_path / "site"
    info = site / "scale_kernels-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: scale-kernels\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(
        "[gpubench.workloads]\nscale = scale_kernels\nbroken = scale_kernels_missing_module\n"
    )
    p = gpubench_cli("list", cwd=tmp_path, pythonpath=[site, example])
    assert p.returncode == 0, p.stderr
    assert (
        "scale: y = alpha * x (a plug-in workload)   [plug-in: entry point scale = scale_kernels of"
        in p.stdout
    )
    assert p.stdout.startswith("vector_add:") and "gemm:" in p.stdout  # the built-ins are all there
    (line,) = p.stderr.splitlines()
    assert line.startswith("gpubench list: warning: plug-in 'broken' (entry point broken = ")
    assert "ModuleNotFoundError: No module named 'scale_kernels_missing_module'" in line


def test_a_plugin_file_can_declare_several_workloads(tmp_path):
    (tmp_path / "pair.py").write_text(
        "import dataclasses\nfrom gpubench.kernels.vector_add import WORKLOAD as V\n"
        "WORKLOADS = [dataclasses.replace(V, name='add_a'), dataclasses.replace(V, name='add_b')]\n"
    )
    reg = _registry(tmp_path / "pair.py")
    assert list(reg)[-2:] == ["add_a", "add_b"] and reg.problems == []
    assert reg.origin("add_a") == f"module {tmp_path / 'pair.py'}" and reg.origin("gemm") is None


BROKEN = {
    "raises.py": ("raise RuntimeError('no CUDA toolkit here')\n", "RuntimeError: no CUDA toolkit here"),
    "empty.py": ("X = 1\n", "TypeError: module empty defines neither WORKLOAD nor WORKLOADS"),
    "not_a_workload.py": ("WORKLOAD = 'scale'\n", "TypeError: expected a Workload"),
    "impostor.py": (
        "import dataclasses\nfrom gpubench.kernels.vector_add import WORKLOAD as V\n"
        "WORKLOAD = dataclasses.replace(V, description='not the real one')\n",
        "refused: a built-in workload has that name; rename it",
    ),
}


def test_broken_plugins_are_named_and_the_others_still_load(tmp_path, example):
    for name, (code, _) in BROKEN.items():
        (tmp_path / name).write_text(code)
    reg = _registry(*(tmp_path / n for n in BROKEN), example / "scale_kernels")
    assert "scale" in reg and reg["vector_add"].description != "not the real one"
    problems = reg.problems
    assert len(problems) == len(BROKEN)
    for name, (_, error) in BROKEN.items():
        (line,) = [p for p in problems if name in p]
        assert error in line, line


def test_two_plugins_with_one_name_keep_the_first(tmp_path, example):
    (tmp_path / "again.py").write_text(
        "import dataclasses\nfrom scale_kernels import WORKLOAD as S\nWORKLOAD = dataclasses.replace(S)\n"
    )
    reg = _registry(example / "scale_kernels", tmp_path / "again.py")
    assert reg.origin("scale").endswith("scale_kernels")
    (line,) = reg.problems
    assert "'scale'" in line and "again.py" in line and "refused: plug-in module" in line


def test_the_same_module_named_twice_loads_once(example):
    reg = _registry(example / "scale_kernels", example / "scale_kernels" / ".." / "scale_kernels")
    assert reg.problems == [] and list(reg).count("scale") == 1


def test_paths_reach_child_processes_through_the_environment(example, monkeypatch):
    monkeypatch.setenv(plugins.ENV_VAR, "")  # restored after the test
    plugins.export_paths([example / "scale_kernels"])
    assert plugins.env_paths() == [str((example / "scale_kernels").resolve())]
    reg = kernels.Registry(BUILTINS, entry_points=False)  # what a worker's registry is
    assert "scale" in reg


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "nope.py", "no such file or folder"),
        (
            lambda d: (d / "notes.txt").write_text("x") and d / "notes.txt",
            "not a .py file or a package folder",
        ),
        (lambda d: (d / "pkg").mkdir() or d / "pkg", "a folder without __init__.py"),
    ],
)
@pytest.mark.parametrize("command", ["list", "run"])
def test_a_path_that_cannot_be_a_module_is_a_usage_error(tmp_path, capsys, command, make, message):
    path = make(tmp_path)
    assert cli.main([command, "--workload-module", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"gpubench {command}: error: --workload-module: {path}: {message}"


def test_a_plugin_is_planned_measured_reported_and_gated(example, tmp_path, monkeypatch, capsys):
    reg = _registry(example / "scale_kernels")
    profile = Profile("test", "test", ("fp32",), ("cold",), RULE, "the plug-in's test shapes")
    plan = build_plan(profile, ["scale"], ["triton", "triton_shifted"], registry=reg)
    assert [i.id for i in plan][:2] == ["scale/triton/n=1/fp32/cold", "scale/triton_shifted/n=1/fp32/cold"]
    monkeypatch.setattr(worker_mod, "kernels", SimpleNamespace(get=reg.__getitem__))
    device = results.Device(name="NVIDIA H200", uuid="GPU-plugin-test")
    files = {}
    for label, scale in (("baseline", 1.0), ("candidate", 2.0)):
        samples = [x * scale for x in STEADY]
        ctx = worker_mod.WorkerContext(Journal(), RULE, torch.device("cpu"), telemetry=FakeTelemetry(),
                                       timer_factory=lambda d, m, s=samples: FakeTimer(s, m),
                                       gpu_uuid=device.uuid)  # fmt: skip
        run = results.Run(device, results.Software(), results.RunInfo(profile="test"), status="complete")
        for item in plan:
            run.add(worker_mod.run_item(item, ctx))
        files[label] = results.write(run, tmp_path / f"{label}.json")
    recs = {(r.variant, r.status) for r in results.read(files["baseline"]).records}
    assert recs == {("triton", "ok"), ("triton_shifted", "failed")}
    assert cli.main(["report", str(files["baseline"]), "--out", str(tmp_path / "report")]) == 0
    assert "scale" in (tmp_path / "report" / "index.html").read_text()
    capsys.readouterr()
    assert cli.main(["gate", str(files["baseline"]), str(files["candidate"])]) == 1  # 2x slower
    out = capsys.readouterr().out
    assert "REGRESSION: 3 of 3 records SLOWER" in out and "SLOWER   scale/triton[n=4097|fp32|cold]" in out
    assert "scale/triton_shifted[n=1|fp32|cold]: baseline failed, candidate failed" in out
    assert cli.main(["gate", str(files["baseline"]), str(files["baseline"])]) == 0
    assert "PASS: no regression in 3 records (3 SAME" in capsys.readouterr().out


def test_the_docs_show_the_example_files_as_they_are():
    doc = (REPO / "docs" / "custom-kernels.md").read_text()
    shown = re.findall(r"^`([\w./-]+)`:\n\n```\w+\n(.*?)^```$", doc, flags=re.M | re.S)
    files = {"pyproject.toml", "scale_kernels/__init__.py", "scale_kernels/triton_scale.py", "time_scale.py",
             "benchmarks/bench_scale.py"}  # fmt: skip
    assert {path for path, _ in shown} == files
    for path, text in shown:
        assert text == (EXAMPLE / path).read_text(), f"docs/custom-kernels.md shows an old {path}"


@pytest.mark.gpu
@pytest.mark.skipif(
    not torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") != "0",
    reason="needs a CUDA GPU and compiled Triton (TRITON_INTERPRET=0)",
)
def test_the_documented_plugin_is_timed_on_a_gpu(example):
    p = gpubench_cli("run", "--workload-module", str(example / "scale_kernels"), "--workload", "scale",
                     "--out", "scale.json", cwd=example, timeout=600)  # fmt: skip
    assert p.returncode == 1, p.stdout + p.stderr  # the deliberately wrong variant fails its record
    recs = {r.variant: r for r in results.read(example / "scale.json").records}
    assert recs["triton"].ok and recs["torch"].ok and recs["triton"].achieved_gbs > 0
    wrong = recs["triton_shifted"]
    assert wrong.status == "failed" and wrong.reason.startswith("incorrect:")
