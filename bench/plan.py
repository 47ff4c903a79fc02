"""Bench profiles and the plan: the ordered list of (workload, variant, shape, dtype, mode) items."""

from __future__ import annotations

from dataclasses import dataclass

from gpubench.bench.stats import StoppingRule


@dataclass(frozen=True)
class Profile:
    name: str
    shape_set: str  # which of the workload's shape sets; falls back to the first "bench" shapes
    dtypes: tuple[str, ...] | None  # None: every dtype of the workload
    modes: tuple[str, ...]
    rule: StoppingRule
    description: str


PROFILES = {
    "quick": Profile(
        "quick",
        "quick",
        ("fp32", "bf16"),
        ("cold",),
        StoppingRule(min_samples=10, max_samples=300, min_time_s=0.02, rel_noise=0.01, timeout_s=1.5),
        "a few shapes per workload, fp32 and bf16, cold L2: a few minutes on one GPU",
    ),
    "full": Profile(
        "full",
        "bench",
        None,
        ("cold", "warm"),
        StoppingRule(min_samples=20, max_samples=1000, min_time_s=0.05, rel_noise=0.005, timeout_s=3.0),
        "every bench shape, dtype and both L2 modes: within ten minutes on one GPU",
    ),
}


def item_id(workload: str, variant: str, shape: dict, dtype: str, mode: str) -> str:
    dims = ",".join(f"{k}={v}" for k, v in shape.items())
    return f"{workload}/{variant}/{dims}/{dtype}/{mode}"


def build_plan(profile: Profile, workloads=None, variants=None, dtypes=None, modes=None) -> list[dict]:
    """Items in run order. Unknown workload or variant names raise KeyError naming the known ones."""
    from gpubench import kernels

    names = list(workloads) if workloads else kernels.names()
    items = []
    for name in names:
        w = kernels.get(name)
        if variants:
            unknown = [
                v
                for v in variants
                if v not in w.variants and not any(v in x.variants for x in kernels.REGISTRY.values())
            ]
            if unknown:
                raise KeyError(f"unknown variant(s) {unknown}; {name} has: {', '.join(w.variants)}")
        shapes = w.shapes.get(profile.shape_set) or list(w.shapes["bench"])[:2]
        wanted = dtypes or profile.dtypes
        dts = [d for d in w.dtypes if wanted is None or d in wanted] or [w.dtypes[0]]
        for shape in shapes:
            for dtype in dts:
                for vname, v in w.variants.items():
                    if variants and vname not in variants:
                        continue
                    for mode in modes or profile.modes:
                        items.append(
                            {
                                "id": item_id(name, vname, dict(shape), dtype, mode),
                                "workload": name,
                                "variant": vname,
                                "backend": v.backend,
                                "shape": dict(shape),
                                "dtype": dtype,
                                "mode": mode,
                            }
                        )
    return items
