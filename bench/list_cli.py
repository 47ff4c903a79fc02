"""`gpubench list`: the workloads, their variants (with backend), axes, dtypes and shape sets; plug-in
workloads (entry points of installed packages, `--workload-module PATH`) with where they came from."""

from __future__ import annotations

import sys

PROG = "gpubench list"


def add_parser(subparsers):
    p = subparsers.add_parser(
        "list", help="workloads, variants, axes, dtypes and shape sets", description=__doc__
    )
    add_workload_module_option(p)
    p.set_defaults(func=run)
    return p


def add_workload_module_option(p) -> None:
    """--workload-module, shared by `gpubench list` and `gpubench run`."""
    p.add_argument(
        "--workload-module", nargs="+", metavar="PATH", default=[],
        help="also load the workloads of these files or package folders (each defines WORKLOAD or "
        "WORKLOADS, as the built-in ones do); installed plug-ins (entry points gpubench.workloads) "
        "load anyway",
    )  # fmt: skip


def load_plugins(args, prog: str) -> str | None:
    """Load --workload-module paths (a path that cannot be one is returned, for exit 2); plug-ins that
    cannot load are printed, one line each, and left out."""
    from gpubench.kernels import REGISTRY, plugins

    if problem := plugins.use_modules(getattr(args, "workload_module", None)):
        return f"--workload-module: {problem}"
    for line in REGISTRY.problems:
        print(f"{prog}: warning: {line}", file=sys.stderr)
    return None


def run(args) -> int:
    from gpubench import kernels

    if problem := load_plugins(args, PROG):
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    for w in kernels.REGISTRY.values():
        origin = kernels.REGISTRY.origin(w.name)
        print(f"{w.name}: {w.description}" + (f"   [plug-in: {origin}]" if origin else ""))
        print(f"  axes: {', '.join(w.axes)}   dtypes: {', '.join(w.dtypes)}")
        for vname, v in w.variants.items():
            print(f"  - {vname:<22} [{v.backend}] {v.description}")
        for set_name, shapes in w.shapes.items():
            shown = "; ".join(",".join(f"{k}={v}" for k, v in s.items()) for s in shapes)
            print(f"  shapes[{set_name}]: {shown}")
    return 0
