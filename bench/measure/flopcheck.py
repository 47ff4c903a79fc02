"""Declared FLOP counts checked against torch's own count of the reference (FlopCounterMode).

FlopCounterMode counts the matmul-like operators (mm, bmm, addmm, convolutions, attention): where the
reference of a workload, or of a `gpubench.benchmark` call, runs such operators, their count is an
independent check of the FLOP accounting that every TFLOP/s figure and roofline placement rests on. A
declared count more than 1 % away from it is reported. Where the counter sees nothing (elementwise
kernels, reductions, norms) nothing is claimed either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["TOLERANCE", "FlopCheck", "check_workload", "counted_call", "problems"]

TOLERANCE = 0.01


@dataclass(frozen=True)
class FlopCheck:
    """A declared FLOP count next to FlopCounterMode's count of the reference (None: it counted none)."""

    declared: int
    counted: int | None

    @property
    def countable(self) -> bool:
        return self.counted is not None

    @property
    def rel_diff(self) -> float | None:
        if self.counted is None:
            return None
        return abs(self.declared - self.counted) / self.counted

    @property
    def agrees(self) -> bool:
        return self.counted is None or self.rel_diff <= TOLERANCE

    def to_json(self) -> dict:
        return {"declared": self.declared, "counted": self.counted, "agrees": self.agrees}

    def message(self, what: str) -> str:
        apart = f"{self.rel_diff:.1%} apart; more than {TOLERANCE:.0%} means the count is wrong"
        return (
            f"{what}: declares {self.declared:,} FLOPs, but torch's FlopCounterMode counts "
            f"{self.counted:,} in the reference ({apart})"
        )


def counted_call(fn, *args):
    """(fn(*args), the FLOPs FlopCounterMode counted while it ran, or None where it counted none)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        out = fn(*args)
    total = int(counter.get_total_flops())
    return out, (total if total > 0 else None)


def _dtype(workload) -> str:
    return next((d for d in ("fp32", "fp64", "fp16") if d in workload.dtypes), workload.dtypes[0])


def check_workload(workload, device="cpu", seed: int = 0) -> list[tuple[dict, FlopCheck]]:
    """(shape, check) at each of the workload's test shapes (small: this runs the reference on `device`)."""
    import torch

    device = torch.device(device)
    dtype = _dtype(workload)
    out = []
    for shape in workload.shapes["test"]:
        inputs = workload.make_inputs(shape, dtype, device, seed)
        _, counted = counted_call(workload.reference, *inputs)
        out.append((dict(shape), FlopCheck(int(workload.flops(shape)), counted)))
    return out


def problems(workloads: Iterable) -> list[str]:
    """One line per workload whose declared FLOPs disagree with the count at some test shape."""
    lines = []
    for w in workloads:
        try:
            checks = check_workload(w)
        except Exception:  # a reference that cannot run on the CPU cannot be counted here: no claim
            continue
        bad = [(shape, c) for shape, c in checks if not c.agrees]
        if bad:
            shape, check = bad[0]
            more = f"; {len(bad)} of its {len(checks)} test shapes disagree" if len(bad) > 1 else ""
            lines.append(check.message(f"{w.name} {shape}") + more)
    return lines
