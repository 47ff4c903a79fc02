"""nox sessions. Default: tests and lint (CPU). GPU machines: gpu and bench, which run in the
interpreter that already has CUDA builds of torch, triton and cupy (never a fresh multi-GB torch)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import nox

nox.options.sessions = ["tests", "tests_latest", "lint"]
nox.options.reuse_existing_virtualenvs = True

ROOT = os.path.dirname(os.path.abspath(__file__))
CPU_EXTRAS = ".[cpu,nvrtc,test]"
# The Triton the GPU machines run (torch 2.11's); tests_latest checks the newest release as well.
GPU_TRITON = "triton==3.6.0"


def _interpreter_with_torch() -> str | None:
    """The python that runs nox, if it can import torch (GPU machines ship it preinstalled)."""
    probe = subprocess.run([sys.executable, "-c", "import torch, triton"], capture_output=True)
    return sys.executable if probe.returncode == 0 else None


def _run_here(session: nox.Session, *args: str, **extra_env: str) -> None:
    """Run the suite from this checkout with the interpreter that runs nox."""
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])), **extra_env}
    session.run(sys.executable, *args, env=env, external=True)


# pytest-xdist spreads the tests over the machine's cores (CI has two); `-- -n 0` runs them in one process.
PARALLEL = ("-n", "auto")


@nox.session
def tests(session: nox.Session) -> None:
    """CPU tests with the GPU machines' Triton: interpreter correctness, NVRTC, schema, reports, gate."""
    session.install("-e", CPU_EXTRAS, GPU_TRITON)
    session.run("python", "-m", "pytest", "-q", *PARALLEL, *session.posargs)


@nox.session(default=False)
def quick(session: nox.Session) -> None:
    """The CPU tests without those marked `slow` (Triton interpreter runs, ahead-of-time and host compiles,
    subprocess-heavy runs): quick feedback while editing. CI runs every test (`tests`)."""
    session.install("-e", CPU_EXTRAS, GPU_TRITON)
    session.run("python", "-m", "pytest", "-q", *PARALLEL, "-m", "not slow", *session.posargs)


@nox.session
def tests_latest(session: nox.Session) -> None:
    """The CPU tests that touch Triton (marked `triton`: the kernels in the interpreter, the compile gate,
    the workloads), with the newest Triton release (what a fresh install gets). The pure-Python rest runs
    in `tests`: no Triton release changes it."""
    session.install("-e", CPU_EXTRAS)
    session.install("--upgrade", "triton")
    session.run("python", "-m", "pytest", "-q", *PARALLEL, "-m", "triton", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole tree."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session(venv_backend="none", default=False)
def gpu(session: nox.Session) -> None:
    """GPU correctness tests (every variant, CuPy included) in this interpreter; needs a CUDA GPU."""
    if not _interpreter_with_torch():
        session.error("this interpreter has no torch/triton: run `nox -s gpu` with the GPU machine's python")
    _run_here(
        session,
        "-m",
        "pytest",
        "tests/gpu",
        "-m",
        "gpu",
        "-o",
        "addopts=",
        "-q",
        "-rfEs",
        *session.posargs,
        TRITON_INTERPRET="0",  # compiled Triton on the GPU, not the CPU suite's interpreter
    )


@nox.session(venv_backend="none", default=False)
def bench(session: nox.Session) -> None:
    """Correctness-check and time every kernel (`gpubench run`); arguments pass through, e.g.
    `nox -s bench -- --profile full`. Without torch here, runs the CPU pass in a virtualenv instead."""
    if _interpreter_with_torch():
        _run_here(session, "-m", "gpubench.cli", "run", *session.posargs)
    else:
        session.log("no torch in this interpreter: running the CPU pass in the bench_cpu virtualenv")
        session.notify("bench_cpu", posargs=session.posargs)


@nox.session(default=False)
def bench_cpu(session: nox.Session) -> None:
    """`gpubench run` in a CPU virtualenv: without a GPU it checks correctness and times nothing."""
    session.install("-e", CPU_EXTRAS)
    session.run("gpubench", "run", *session.posargs)


@nox.session(default=False)
def report(session: nox.Session) -> None:
    """Render the HTML report (default: the committed reference results) into report/."""
    session.install("-e", ".")
    args = session.posargs or ["--out", "report"]
    session.run("gpubench", "report", *args)


@nox.session(default=False)
def gate(session: nox.Session) -> None:
    """Regression gate: `nox -s gate -- BASELINE.json CANDIDATE.json [--markdown]`; exit 1 on a regression."""
    if len(session.posargs) < 2:
        session.error("usage: nox -s gate -- BASELINE.json CANDIDATE.json [gpubench gate options]")
    session.install("-e", ".")
    session.run("gpubench", "gate", *session.posargs)


@nox.session(venv_backend="none", default=False)
def micro(session: nox.Session) -> None:
    """Micro-benchmarks that measure this GPU's ceilings; writes a ceilings file (needs a GPU)."""
    if not _interpreter_with_torch():
        session.error("this interpreter has no torch: run `nox -s micro` with the GPU machine's python")
    _run_here(session, "-m", "gpubench.cli", "micro", *session.posargs)


@nox.session(venv_backend="none", default=False)
def clean(session: nox.Session) -> None:
    """Remove build and result artefacts (not the committed reference data)."""
    for path in ("report", "results", ".benchmarks", "build"):
        shutil.rmtree(os.path.join(ROOT, path), ignore_errors=True)
