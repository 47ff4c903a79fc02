"""`gpubench list`: the workloads, their variants (with backend), axes, dtypes and shape sets."""

from __future__ import annotations


def add_parser(subparsers):
    p = subparsers.add_parser("list", help="workloads, variants, axes, dtypes and shape sets")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from gpubench import kernels

    for w in kernels.REGISTRY.values():
        print(f"{w.name}: {w.description}")
        print(f"  axes: {', '.join(w.axes)}   dtypes: {', '.join(w.dtypes)}")
        for vname, v in w.variants.items():
            print(f"  - {vname:<22} [{v.backend}] {v.description}")
        for set_name, shapes in w.shapes.items():
            shown = "; ".join(",".join(f"{k}={v}" for k, v in s.items()) for s in shapes)
            print(f"  shapes[{set_name}]: {shown}")
    return 0
