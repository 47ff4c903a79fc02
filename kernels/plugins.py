"""Users' own workloads: declared by an installed package through the entry-point group
`gpubench.workloads`, or loaded from a file or package folder (`--workload-module PATH`).

A plug-in module exposes `WORKLOAD` (one `Workload`) or `WORKLOADS` (a list of them): the contract the
built-in workloads follow. An entry point may also name a `Workload`, or a list of them, directly. A
plug-in that fails to import, or exposes nothing usable, becomes one line naming it and its error; it
never stops the others from loading.

Paths given to this process reach the processes it starts (the benchmark workers, the interpreter pass)
through the environment variable GPUBENCH_WORKLOAD_MODULES: absolute paths joined by os.pathsep.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from gpubench.kernels.workload import Workload

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "Found",
    "Plugin",
    "discover",
    "env_paths",
    "export_paths",
    "use_modules",
]

ENTRY_POINT_GROUP = "gpubench.workloads"
ENV_VAR = "GPUBENCH_WORKLOAD_MODULES"


@dataclass(frozen=True)
class Plugin:
    workload: Workload
    origin: str  # where it came from, for listings and messages


@dataclass
class Found:
    plugins: list[Plugin] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line each: the plug-in named, and its error


def path_problem(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be a workload module (None when it can): checked before anything is imported."""
    p = Path(path)
    if not p.exists():
        return f"{path}: no such file or folder"
    if p.is_dir():
        return None if (p / "__init__.py").is_file() else f"{path}: a folder without __init__.py"
    return None if p.suffix == ".py" else f"{path}: not a .py file or a package folder"


def env_paths() -> list[str]:
    return [p for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]


def export_paths(paths) -> None:
    """Add `paths` (made absolute) to GPUBENCH_WORKLOAD_MODULES, for the processes started from here."""
    merged = dict.fromkeys([*env_paths(), *(str(Path(p).resolve()) for p in paths)])
    if merged:
        os.environ[ENV_VAR] = os.pathsep.join(merged)


def _import_path(path: str) -> ModuleType:
    """Import a .py file or a package folder under its own name. Its folder goes on sys.path (as
    `python FILE` does), so it can import the modules beside it."""
    p = Path(path).resolve()
    init = p / "__init__.py" if p.is_dir() else p
    name = p.name if p.is_dir() else p.stem
    if not name.isidentifier():
        raise ImportError(f"{name!r} is not a valid module name")
    known = sys.modules.get(name)
    if known is not None:
        if getattr(known, "__file__", None) and Path(known.__file__).resolve() == init:
            return known
        raise ImportError(f"another module named {name!r} is already imported (from {known.__file__})")
    if str(p.parent) not in sys.path:
        sys.path.insert(0, str(p.parent))
    spec = importlib.util.spec_from_file_location(
        name, init, submodule_search_locations=[str(p)] if p.is_dir() else None
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses and relative imports look it up
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _workloads_of(obj) -> list[Workload]:
    """The workloads a plug-in object declares; TypeError naming what is wrong with it."""
    if isinstance(obj, ModuleType):
        if hasattr(obj, "WORKLOADS"):
            obj = obj.WORKLOADS
        elif hasattr(obj, "WORKLOAD"):
            obj = obj.WORKLOAD
        else:
            raise TypeError(f"module {obj.__name__} defines neither WORKLOAD nor WORKLOADS")
    items = [obj] if isinstance(obj, Workload) else obj
    if not isinstance(items, (list, tuple)) or not items:
        raise TypeError(f"expected a Workload or a non-empty list of them, got {type(obj).__name__}")
    for i, w in enumerate(items):
        if not isinstance(w, Workload):
            raise TypeError(f"item {i} is a {type(w).__name__}, not a gpubench.kernels.Workload")
    return list(items)


def _load(found: Found, label: str, origin: str, load) -> None:
    try:
        workloads = _workloads_of(load())
    except (Exception, SystemExit) as exc:  # a broken plug-in must not stop the others
        text = " ".join(str(exc).split()) or "(no message)"
        found.problems.append(f"plug-in {label} ({origin}) not loaded: {type(exc).__name__}: {text}")
        return
    found.plugins += [Plugin(w, origin) for w in workloads]


def discover(paths=(), entry_points: bool = True) -> Found:
    """Every plug-in: the entry points of the installed packages (when `entry_points`), then `paths`
    (each loaded once, however often it is named)."""
    found = Found()
    if entry_points:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            origin = f"entry point {ep.name} = {ep.value}" + (f" of {dist.name}" if dist else "")
            _load(found, repr(ep.name), origin, ep.load)
    for path in dict.fromkeys(str(Path(p).resolve()) for p in paths):
        problem = path_problem(path)
        if problem:
            found.problems.append(f"plug-in module {problem}")
            continue
        _load(found, repr(Path(path).name), f"module {path}", lambda path=path: _import_path(path))
    return found


def load_for_command(paths, prog: str) -> str | None:
    """--workload-module PATHs for command `prog`: a path that cannot be a workload module is returned as
    a usage-error message; plug-ins that cannot load are printed as warnings, one line each, and left out."""
    import sys

    if problem := use_modules(paths):
        return f"--workload-module: {problem}"
    from gpubench.kernels import REGISTRY

    for line in REGISTRY.problems:
        print(f"{prog}: warning: {line}", file=sys.stderr)
    return None


def use_modules(paths) -> str | None:
    """Make the workload modules at `paths` part of gpubench.kernels.REGISTRY, here and in the processes
    started from here. Returns the first path that cannot be one, as a message (a usage error), else None."""
    paths = list(paths or ())
    for path in paths:
        if problem := path_problem(path):
            return problem
    from gpubench.kernels import REGISTRY

    REGISTRY.add_modules(paths)
    export_paths(paths)
    return None
