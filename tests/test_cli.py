"""The gpubench command on a machine without a GPU: every argument is checked before anything runs (a
bad one exits 2 naming it and the known choices), the CPU pass honours the selection and says what it
left out, a missing dependency is one line naming what to install, and Ctrl-C prints no traceback."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gpubench import __version__
from gpubench.kernels import REGISTRY
from tests.support.procs import alive

pytestmark = pytest.mark.slow  # each test runs the gpubench command in a subprocess

REPO = Path(__file__).resolve().parent.parent


def gpubench(*args, cwd=None, pre=""):
    code = f"{pre}\nimport sys\nfrom gpubench.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd or REPO, timeout=600
    )


def usage_error(p) -> str:
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr and p.stderr.strip(), p.stderr
    return p.stderr


@pytest.fixture
def no_gpu():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")


def test_list_names_workloads_variants_axes_and_shapes():
    p = gpubench("list")
    assert p.returncode == 0, p.stderr
    for text in (
        "vector_add",
        "window_sum",
        "cuda_shared",
        "triton_blocked",
        "axes: n, radius",
        "shapes[test]",
    ):
        assert text in p.stdout
    # each variant with its backend and role: the convolutions, and every workload's torch.compile baseline
    lines = p.stdout.splitlines()
    assert "conv2d: 2-D convolution" in p.stdout and "conv2d_bias_relu: Conv + bias + ReLU" in p.stdout
    assert any("- unfused" in x and "[torch, unfused]" in x for x in lines)
    compiled = [x for x in lines if x.strip().startswith("- torch_compile")]
    assert len(compiled) == len(REGISTRY) and all("[torch, baseline] torch.compile (" in x for x in compiled)


def test_help_and_version():
    p = gpubench("--help")
    assert p.returncode == 0
    for sub in ("list", "device", "run", "report", "gate", "compare", "export", "specs", "micro", "tiling"):
        assert sub in p.stdout
    assert "Exit codes" in p.stdout
    p = gpubench("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"gpubench {__version__}"


def test_run_help_lists_the_known_choices():
    p = gpubench("run", "--help")
    assert p.returncode == 0
    text = " ".join(p.stdout.split())
    assert "known: vector_add, window_sum, gemm" in text  # workloads
    assert "known: fp32, fp16, bf16" in text  # dtypes
    assert "{quick,full}" in text and "{cold,warm}" in text


@pytest.mark.parametrize(
    "args, names",
    [
        (["--dtype", "bogus"], ["unknown dtype(s) bogus", "known: fp32, fp16, bf16"]),
        (
            ["--dtype", "tf32", "--workload", "vector_add"],
            ["unknown dtype(s) tf32", "known: fp32, fp16, bf16"],
        ),
        (
            ["--dtype", "tf32", "--workload", "vector_add", "gemm", "--variant", "triton_blocked"],
            ["unknown variant(s) triton_blocked"],
        ),
        (
            ["--workload", "vector_add", "--variant", "cuda_shared"],
            ["unknown variant(s) cuda_shared", "known: triton, cuda_simple"],
        ),
        (["--workload", "vector_add", "gemm", "--dtype", "tf32"], []),
        (
            [
                "--workload",
                "window_sum",
                "vector_add",
                "--variant",
                "cuda_shared",
                "--dtype",
                "fp16",
                "--mode",
                "warm",
                "--dry-run",
            ],
            [],
        ),
        (["--workload", "vector_ad"], ["unknown workload(s) vector_ad", "known: vector_add"]),
        (["--variant", "nope"], ["unknown variant(s) nope"]),
        (["--profile", "slow"], ["invalid choice: 'slow'", "'quick', 'full'"]),
        (["--mode", "lukewarm"], ["invalid choice: 'lukewarm'", "'cold', 'warm'"]),
    ],
)
def test_bad_selections_exit_2_naming_the_choices(args, names):
    p = gpubench("run", *args, "--dry-run")
    if not names:  # a valid selection: tf32 exists for gemm, and the plan says what it left out
        assert p.returncode == 0, p.stderr
        assert "left out:" in p.stdout
        return
    err = usage_error(p)
    for text in names:
        assert text in err


def test_a_selection_that_matches_nothing_exits_2():
    """Every name is known, but no workload has both: vector_add has no tf32, gemm no cuda_vec."""
    err = usage_error(
        gpubench(
            "run", "--workload", "vector_add", "gemm", "--variant", "cuda_vec", "--dtype", "tf32", "--dry-run"
        )
    )
    assert "the selection matches nothing" in err
    assert "vector_add: none of the dtypes asked for (it has fp32, fp16, bf16)" in err
    assert "gemm: none of the variants asked for (cuda_vec)" in err


def test_duplicates_are_removed():
    once = gpubench("run", "--workload", "vector_add", "--dtype", "fp32", "--dry-run")
    twice = gpubench("run", "--workload", "vector_add", "vector_add", "--dtype", "fp32", "fp32", "--dry-run")
    assert once.returncode == twice.returncode == 0
    # quick shapes (2) x variants (4), cold, and the warm extra at n = 2^20 x variants (4)
    assert once.stdout == twice.stdout and once.stdout.splitlines()[-1].startswith("12 items")


def test_dry_run_prints_the_plan():
    p = gpubench("run", "--dry-run", "--workload", "window_sum", "--dtype", "fp32", "--mode", "cold", "warm")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "window_sum/cuda_shared/n=67108864,radius=64/fp32/warm" in lines
    assert "window_sum/torch/n=1048576,radius=16/fp32/warm" in lines  # the profile's warm extra
    # quick shapes (4) x variants (5) x dtypes (1) x modes (2), and the warm L2-resident shape x variants
    assert lines[-1].startswith("45 items")


@pytest.mark.parametrize(
    "make, what",
    [
        (lambda t: t, "is a directory"),
        (lambda t: (t / "file").write_text("") or t / "file" / "r.json", "cannot write into"),
    ],
)
def test_an_unwritable_out_exits_2_before_anything_runs(tmp_path, make, what):
    err = usage_error(gpubench("run", "--workload", "vector_add", "--out", str(make(tmp_path))))
    assert "--out" in err and what in err and "interpreter pass" not in err


def test_a_dry_run_checks_the_files_a_run_checks_and_creates_nothing(tmp_path):
    run = ("run", "--workload", "vector_add", "--dry-run")
    err = usage_error(gpubench(*run, "--out", str(tmp_path)))
    assert "--out" in err and "is a directory" in err
    err = usage_error(gpubench(*run, "--ceilings", str(tmp_path / "c.json")))
    assert "--ceilings" in err and "no such file" in err
    p = gpubench(*run, "--out", str(tmp_path / "new" / "r.json"))
    assert p.returncode == 0 and not (tmp_path / "new").exists(), p.stderr


def test_a_missing_or_foreign_ceilings_file_exits_2(tmp_path):
    err = usage_error(gpubench("run", "--workload", "vector_add", "--ceilings", str(tmp_path / "c.json")))
    assert "--ceilings" in err and "no such file" in err
    results_file = REPO / "reports" / "reference" / "NVIDIA-H200" / "results-quick.json"
    err = usage_error(gpubench("run", "--workload", "vector_add", "--ceilings", str(results_file)))
    assert "not a gpubench ceilings file" in err


def test_a_missing_dependency_is_one_line_naming_the_extra():
    block = "import sys; sys.modules['torch'] = None"
    for args in (["list"], ["run", "--dry-run"]):
        err = usage_error(gpubench(*args, pre=block))
        assert err.count("\n") == 1 and "needs torch" in err and "gpubench[cpu]" in err
    assert gpubench("specs", "H100", pre=block).returncode == 0  # the analytical half needs no torch
    err = usage_error(
        gpubench(
            "export",
            str(REPO / "reports/reference/NVIDIA-H200/results-quick.json"),
            "--csv",
            pre="import sys; sys.modules['pandas'] = None",
        )
    )
    assert "needs pandas" in err


def test_device_without_gpu(no_gpu):
    p = gpubench("device")
    assert p.returncode == 0, p.stderr
    assert "GPU: none" in p.stdout and "torch" in p.stdout


def test_cpu_pass_honours_the_selection_and_says_what_it_left_out(no_gpu, tmp_path):
    p = gpubench(
        "run",
        "--workload",
        "vector_add",
        "--variant",
        "triton",
        "cuda_vec",
        "--dtype",
        "fp32",
        "--out",
        str(tmp_path / "r.json"),
        "--mode",
        "warm",
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "no CUDA GPU visible" in out and "nothing is timed" in out
    assert "ok   vector_add/triton" in out and "0 wrong" in out
    assert "not checked here (cupy: CuPy needs a CUDA GPU): vector_add/cuda_vec" in out
    assert "Not used without a GPU: --mode, --out" in out
    assert "window_sum" not in out and "softmax" not in out  # only the selected workload
    assert "vector_add.cu" in out or "NVRTC check skipped" in out
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "results").exists()


def _cpu_pass_started(tmp_path) -> subprocess.Popen:
    """`gpubench run` without a GPU, three seconds into its interpreter pass."""
    code = "import sys\nfrom gpubench.cli import main\nsys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "run", "--workload", "softmax", "layernorm"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )
    line = ""
    deadline = time.time() + 120
    while "Running the CPU checks" not in line and time.time() < deadline:
        line = proc.stdout.readline()
    time.sleep(3)  # inside the interpreter pass
    return proc


def test_ctrl_c_in_the_cpu_pass_prints_one_line(no_gpu, tmp_path):
    proc = _cpu_pass_started(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and "Traceback" not in out
    assert "interrupted" in err


def test_sigint_to_the_main_process_alone_stops_the_cpu_pass_at_once(no_gpu, tmp_path):
    """The interpreter pass runs in a group of its own: a SIGINT to `gpubench run` alone stops it there
    and then (SIGTERM), instead of waiting for it to end on its own."""
    from gpubench.bench.run.orchestrate import STOP_GRACE_S

    proc = _cpu_pass_started(tmp_path)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    sent = time.time()
    proc.send_signal(signal.SIGINT)
    err = ""
    while "interrupted" not in err and (line := proc.stderr.readline()):
        err += line
    took = time.time() - sent
    out, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err + rest, out + err + rest
    # The child dies at the SIGTERM; a child that ignored it would hold the stop for the whole grace
    # period before its SIGKILL (and the old wait for it to end on its own was 10 s).
    assert took < STOP_GRACE_S, f"stopping took {took:.1f} s"
    assert len(children) == 1 and not alive(int(children[0])), "the interpreter pass was left running"
