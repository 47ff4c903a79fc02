"""Workloads: kernels, launchers, references and FLOP/byte accounting.

`REGISTRY` maps a workload name to its `Workload`. Importing a workload imports torch and triton;
CuPy is imported only when a CUDA variant runs.
"""

from __future__ import annotations

import importlib
import os

from gpubench.kernels._workload import Tolerance, Variant, Workload, shape_id

__all__ = ["REGISTRY", "Tolerance", "Variant", "Workload", "get", "names", "shape_id"]

# Module names in the order they are listed and run.
_MODULES = ("vector_add", "window_sum", "gemm", "softmax", "layernorm", "layernorm.bwd", "rmsnorm")
# The harness's own self-test workload (a wrong and a faulting variant) joins only on request.
if os.environ.get("GPUBENCH_SELFTEST") == "1":
    _MODULES += ("selftest",)


class _Registry(dict):
    """name -> Workload, loaded on first use; unknown names raise a KeyError listing the known ones."""

    def _load(self):
        if not dict.__len__(self):
            for mod in _MODULES:
                w = importlib.import_module(f"gpubench.kernels.{mod}").WORKLOAD
                dict.__setitem__(self, w.name, w)

    def __getitem__(self, name):
        self._load()
        try:
            return dict.__getitem__(self, name)
        except KeyError:
            raise KeyError(f"unknown workload {name!r}; known: {', '.join(dict.keys(self))}") from None

    def __iter__(self):
        self._load()
        return dict.__iter__(self)

    def __len__(self):
        self._load()
        return dict.__len__(self)

    def __contains__(self, name):
        self._load()
        return dict.__contains__(self, name)

    def keys(self):
        self._load()
        return dict.keys(self)

    def values(self):
        self._load()
        return dict.values(self)

    def items(self):
        self._load()
        return dict.items(self)


REGISTRY: dict[str, Workload] = _Registry()


def get(name: str) -> Workload:
    return REGISTRY[name]


def names() -> list[str]:
    return list(REGISTRY)
