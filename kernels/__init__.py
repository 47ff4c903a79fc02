"""Workloads: kernels, launchers, references and FLOP/byte accounting.

`REGISTRY` maps a workload name to its `Workload`; it is a read-only mapping that imports the workload
modules on first use (importing a workload imports torch and triton; CuPy is imported only when a CUDA
variant runs).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping

from gpubench.kernels._workload import Tolerance, Variant, Workload, shape_id

__all__ = ["REGISTRY", "Tolerance", "Variant", "Workload", "get", "names", "shape_id"]

# Module names in the order they are listed and run.
_MODULES = ("vector_add", "window_sum", "gemm", "softmax", "layernorm", "layernorm.bwd", "rmsnorm")
# The harness's own self-test workload (a wrong and a faulting variant) joins only on request.
if os.environ.get("GPUBENCH_SELFTEST") == "1":
    _MODULES += ("selftest",)


class Registry(Mapping):
    """name -> Workload, loaded on first use; an unknown name raises a KeyError listing the known ones."""

    def __init__(self, modules: tuple[str, ...]):
        self._modules = modules
        self._loaded: dict[str, Workload] | None = None

    def _all(self) -> dict[str, Workload]:
        if self._loaded is None:
            loaded = {}
            for mod in self._modules:
                w = importlib.import_module(f"gpubench.kernels.{mod}").WORKLOAD
                loaded[w.name] = w
            self._loaded = loaded
        return self._loaded

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
