"""`gpubench list`: the workloads, their variants (with backend and role), axes, dtypes and shape sets;
plug-in workloads (entry points of installed packages, `--workload-module PATH`) with where they came from."""

from __future__ import annotations

from gpubench.cliargs import add_workload_module_option
from gpubench.exits import usage_error
from gpubench.fmt import shape_label
from gpubench.kernels.plugins import load_for_command

PROG = "gpubench list"


def add_parser(subparsers):
    p = subparsers.add_parser(
        "list", help="workloads, variants, axes, dtypes and shape sets", description=__doc__
    )
    add_workload_module_option(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from gpubench import kernels

    if problem := load_for_command(args.workload_module, PROG):
        return usage_error(PROG, problem)
    for w in kernels.REGISTRY.values():
        origin = kernels.REGISTRY.origin(w.name)
        print(f"{w.name}: {w.description}" + (f"   [plug-in: {origin}]" if origin else ""))
        print(f"  axes: {', '.join(w.axes)}   dtypes: {', '.join(w.dtypes)}")
        for vname, v in w.variants.items():
            print(f"  - {vname:<22} [{v.backend}, {v.role}] {v.description}")
        for set_name, shapes in w.shapes.items():
            shown = "; ".join(shape_label(s) for s in shapes)
            print(f"  shapes[{set_name}]: {shown}")
    return 0
