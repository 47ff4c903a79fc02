"""Workloads: kernels, launchers, references and FLOP/byte accounting.

`REGISTRY` maps a workload name to its `Workload`; it is a read-only mapping that imports the workload
modules on first use (importing a workload imports torch and triton; CuPy is imported only when a CUDA
variant runs).
Users' workloads join it as plug-ins (gpubench.kernels.plugins): the entry points of the installed
packages, and the modules named by path (`add_modules`, or GPUBENCH_WORKLOAD_MODULES in a child process).
A plug-in that cannot load, or whose name is taken, is listed in `problems` and left out.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping

from gpubench.kernels import plugins
from gpubench.kernels.workload import Tolerance, Variant, Workload, shape_id

__all__ = ["REGISTRY", "Tolerance", "Variant", "Workload", "get", "names", "shape_id"]

# Module names in the order they are listed and run.
_MODULES = (
    "vector_add", "window_sum", "gemm", "softmax", "layernorm", "layernorm.bwd", "rmsnorm",
    "attention", "attention.bwd",
    "qmatmul.fp8", "qmatmul.fp8_rowwise", "qmatmul.int8", "qmatmul.int4", "conv2d", "conv2d.fused",
)  # fmt: skip
# The harness's own self-test workload (a wrong and a faulting variant) joins only on request.
if os.environ.get("GPUBENCH_SELFTEST") == "1":
    _MODULES += ("selftest",)


class Registry(Mapping):
    """name -> Workload, loaded on first use; an unknown name raises a KeyError listing the known ones.

    `entry_points`: also load the plug-ins the installed packages declare (group gpubench.workloads)."""

    def __init__(self, modules: tuple[str, ...], entry_points: bool = True):
        self._modules = modules
        self._entry_points = entry_points
        self._paths: list[str] = []
        self._loaded: dict[str, Workload] | None = None
        self._origins: dict[str, str] = {}
        self._problems: list[str] = []

    def add_modules(self, paths) -> None:
        """Workload modules (files or package folders) to load as plug-ins, from the next use on."""
        self._paths += [str(p) for p in paths]
        self._loaded = None

    def _all(self) -> dict[str, Workload]:
        if self._loaded is None:
            loaded = {}
            for mod in self._modules:
                w = importlib.import_module(f"gpubench.kernels.{mod}").WORKLOAD
                loaded[w.name] = w
            self._origins, self._problems = {}, []
            found = plugins.discover([*self._paths, *plugins.env_paths()], self._entry_points)
            for p in found.plugins:
                self._join(loaded, p)
            self._problems[:0] = found.problems
            self._loaded = loaded
        return self._loaded

    def _join(self, loaded: dict[str, Workload], p: plugins.Plugin) -> None:
        name = p.workload.name
        if loaded.get(name) is p.workload:
            return  # the same module reached twice (installed, and named by path)
        if name in loaded:
            taken = f"plug-in {self._origins[name]}" if name in self._origins else "a built-in workload"
            why = f"{taken} has that name; rename it"
            self._problems.append(f"plug-in workload {name!r} ({p.origin}) refused: {why}")
            return
        loaded[name] = p.workload
        self._origins[name] = p.origin

    @property
    def problems(self) -> list[str]:
        """One line per plug-in that could not join: its name, where it came from, and why."""
        self._all()
        return list(self._problems)

    def origin(self, name: str) -> str | None:
        """Where plug-in workload `name` came from; None for a built-in one."""
        self._all()
        return self._origins.get(name)

    def __getitem__(self, name: str) -> Workload:
        try:
            return self._all()[name]
        except KeyError:
            raise KeyError(f"unknown workload {name!r}; known: {', '.join(self._all())}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"Registry({list(self)})"


REGISTRY = Registry(_MODULES)


def get(name: str) -> Workload:
    return REGISTRY[name]


def names() -> list[str]:
    return list(REGISTRY)
