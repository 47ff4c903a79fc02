"""A launcher resolved on its first call, so that importing a workload loads neither torch nor triton."""

from __future__ import annotations

import importlib


class Lazy:
    """`package.module.attr`, imported when first called (a workload names it as `Lazy(__package__, ...)`)."""

    def __init__(self, package: str, module: str, attr: str):
        self.path, self.attr, self._fn = f"{package}.{module}", attr, None
        self.__name__ = attr

    def __call__(self, *args):
        if self._fn is None:
            self._fn = getattr(importlib.import_module(self.path), self.attr)
        return self._fn(*args)
