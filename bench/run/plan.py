"""Bench profiles and the plan: the ordered list of (workload, variant, shape, dtype, mode) items.

The plan is built, and every name in it checked, before anything is measured: a workload, variant or
dtype that does not exist is an error naming the known ones, and a selection that matches nothing is
an error too, never an empty run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from gpubench.bench.measure.stopping import StoppingRule
from gpubench.fmt import shape_label
from gpubench.kernels.compiled import NAME as COMPILED
from gpubench.results import MODES


class PlanError(ValueError):
    """A selection that names something unknown, or that matches nothing."""


@dataclass(frozen=True)
class Extra:
    """Items a profile adds to its product of shape set x dtypes x modes: `workload` at `shapes` (each
    one of the workload's own shapes, from any of its sets), in `dtypes` and `modes`. A selection
    filters them like every other item; an extra of a workload the registry lacks is left out."""

    workload: str
    shapes: tuple[dict[str, int], ...]
    dtypes: tuple[str, ...]
    modes: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    name: str
    shape_set: str  # which of the workload's shape sets; falls back to the first "bench" shapes
    dtypes: tuple[str, ...] | None  # None: every dtype of the workload
    modes: tuple[str, ...]
    rule: StoppingRule
    description: str
    extras: tuple[Extra, ...] = ()
    # Variants the profile leaves out unless asked for by name (--variant), with why.
    leave_out: tuple[str, ...] = ()
    leave_out_why: str = ""


def _square(n: int) -> dict[str, int]:
    return {"M": n, "N": n, "K": n}


PROFILES = {
    "quick": Profile(
        "quick",
        "quick",
        ("fp32", "bf16"),
        ("cold",),
        StoppingRule(min_samples=10, max_samples=300, min_time_s=0.02, rel_noise=0.01, timeout_s=1.5),
        "a few shapes per workload, fp32 and bf16, cold L2, plus fp16 GEMM and a few warm L2-resident "
        "records: a few minutes on one GPU",
        extras=(
            Extra("gemm", (_square(4096), _square(8192)), ("fp16",), ("cold",)),  # the target squares
            # Working sets of 12 and 8 MiB: warm, they sit on the L2 roof (the kernels' own limit shows),
            # and at a few microseconds a sample they are timed by CUDA-graph replay.
            Extra("vector_add", ({"n": 1 << 20},), ("fp32",), ("warm",)),
            Extra("window_sum", ({"n": 1 << 20, "radius": 16},), ("fp32",), ("warm",)),
        ),
        # A max-autotune compile of one GEMM shape alone can take tens of seconds (kernels/compiled.py):
        # the torch.compile baselines would not leave the quick profile a few minutes.
        leave_out=(COMPILED,),
        leave_out_why="its compiles and autotuning take minutes; ask for it with --variant or --profile full",
    ),
    "full": Profile(
        "full",
        "bench",
        None,
        ("cold", "warm"),
        StoppingRule(min_samples=20, max_samples=1000, min_time_s=0.05, rel_noise=0.005, timeout_s=3.0),
        # About 3,100 items since attention and the quantised matmuls joined: far more than ten minutes
        # on one GPU (not yet timed); `--gpus all` splits it, --workload narrows it.
        "every bench shape, dtype and both L2 modes: a long run (split it with --gpus all)",
    ),
}


@dataclass(frozen=True)
class PlanItem:
    workload: str
    variant: str
    backend: str
    shape: dict[str, int]
    dtype: str
    mode: str

    @property
    def id(self) -> str:
        return f"{self.workload}/{self.variant}/{shape_label(self.shape)}/{self.dtype}/{self.mode}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanItem:
        return cls(**{k: data[k] for k in ("workload", "variant", "backend", "shape", "dtype", "mode")})


@dataclass
class Plan:
    items: list[PlanItem]
    notes: list[str] = field(default_factory=list)  # what the selection left out, and why

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)


def unique(names: Iterable[str] | None) -> list[str] | None:
    """The names in their first order, each once (a repeated name asks for nothing more)."""
    return list(dict.fromkeys(names)) if names else None


def _check_known(kind: str, asked: list[str] | None, known: Iterable[str]) -> None:
    known = list(dict.fromkeys(known))
    unknown = [a for a in asked or () if a not in known]
    if unknown:
        raise PlanError(f"unknown {kind}(s) {', '.join(unknown)}; known: {', '.join(known)}")


def build_plan(
    profile: Profile, workloads=None, variants=None, dtypes=None, modes=None, registry=None
) -> Plan:
    """Items in run order; PlanError for an unknown name or a selection that matches nothing."""
    if registry is None:
        from gpubench import kernels

        registry = kernels.REGISTRY
    workloads, variants, dtypes, modes = map(unique, (workloads, variants, dtypes, modes))
    _check_known("workload", workloads, registry)
    chosen = [registry[name] for name in workloads or registry]
    _check_known("variant", variants, (v for w in chosen for v in w.variants))
    _check_known("dtype", dtypes, (d for w in chosen for d in w.dtypes))
    _check_known("mode", modes, MODES)
    plan, seen = Plan([]), set()
    left_out = set() if variants else set(profile.leave_out)
    if left_out & {v for w in chosen for v in w.variants}:
        plan.notes.append(f"profile {profile.name} leaves out {', '.join(sorted(left_out))}: "
                          f"{profile.leave_out_why}")  # fmt: skip
    for w in chosen:
        vnames = [v for v in w.variants if (not variants or v in variants) and v not in left_out]
        if not vnames:
            plan.notes.append(f"{w.name}: none of the variants asked for ({', '.join(variants)})")
            continue
        if dtypes:
            dts = [d for d in w.dtypes if d in dtypes]
            if not dts:
                plan.notes.append(f"{w.name}: none of the dtypes asked for (it has {', '.join(w.dtypes)})")
                continue
        else:  # the profile's dtypes; a workload with none of them runs its first
            dts = [d for d in w.dtypes if profile.dtypes is None or d in profile.dtypes] or [w.dtypes[0]]
        shapes = w.shapes.get(profile.shape_set) or list(w.shapes["bench"])[:2]
        product = [(shape, dts, modes or profile.modes) for shape in shapes]
        for shape, ex_dtypes, ex_modes in product + _extras(profile, w, dtypes, modes):
            for dtype in ex_dtypes:
                for vname in vnames:
                    for mode in ex_modes:
                        item = PlanItem(w.name, vname, w.variants[vname].backend, dict(shape), dtype, mode)
                        if item.id not in seen:
                            seen.add(item.id)
                            plan.items.append(item)
    if not plan.items:
        raise PlanError("the selection matches nothing: " + "; ".join(plan.notes))
    return plan


def _extras(profile: Profile, w, dtypes, modes) -> list[tuple[dict, list[str], list[str]]]:
    """(shape, dtypes, modes) of the profile's extras for workload `w`, filtered by the selection."""
    out = []
    for extra in profile.extras:
        if extra.workload != w.name:
            continue
        known = [dict(s) for shapes in w.shapes.values() for s in shapes]
        for shape in extra.shapes:
            if dict(shape) not in known:
                raise PlanError(f"profile {profile.name}: {dict(shape)} is none of {w.name}'s shapes")
            dts = [d for d in extra.dtypes if d in w.dtypes and (not dtypes or d in dtypes)]
            mds = [m for m in extra.modes if not modes or m in modes]
            if dts and mds:
                out.append((shape, dts, mds))
    return out
