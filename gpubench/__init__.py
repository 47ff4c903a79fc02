"""gpubench: GPU kernel benchmarks with device-side timing, NVML telemetry, rooflines and a regression gate.

The suite's parts live under this one namespace: `gpubench.kernels` (workloads), `gpubench.bench` (the
harness), `gpubench.roofline` (spec database and performance model), `gpubench.reports` (reading results
files: tables, plots, HTML, comparison, gate) and `gpubench.results` (the results and ceilings formats).
Importing `gpubench` itself is cheap: it imports neither torch nor any of those parts.
`gpubench.benchmark(fn, *args, ...)` times a function of your own (gpubench.api), imported on first use.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["__version__", "benchmark", "check"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gpubench")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = _version()

# In a source checkout (the repository root holds kernels/, bench/, roofline/, reports/ next to this
# folder) the parts are found beside it, so `python -m gpubench.cli` works from a checkout without an
# install, as the GPU machines' nox sessions run it. An installed copy has its parts inside this folder.
_ROOT = Path(__file__).resolve().parent.parent
if (_ROOT / "pyproject.toml").is_file() and all(
    (_ROOT / part / "__init__.py").is_file() for part in ("kernels", "bench", "roofline", "reports")
):
    __path__.append(str(_ROOT))  # noqa: F821 (a package's __path__)


def __getattr__(name: str):
    # gpubench.benchmark / gpubench.check load the harness (and, when called, torch) only when used.
    if name in ("benchmark", "check"):
        from gpubench import api

        return getattr(api, name)
    raise AttributeError(f"module 'gpubench' has no attribute {name!r}")
