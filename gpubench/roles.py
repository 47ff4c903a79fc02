"""What a variant is in its workload's comparisons. A workload's variants declare it, each record carries
it, and the reports read it from the record, never from the variant's name.

Standard library only: the kernels declare roles, the results format checks them, the reports read them.
"""

from __future__ import annotations

__all__ = ["BASELINE", "KERNEL", "ROLES", "UNFUSED", "check_role"]

KERNEL = "kernel"  # an implementation judged against the workload's baselines (the default)
BASELINE = "baseline"  # what the others are judged against: torch's own kernel, cuBLAS, SDPA
UNFUSED = "unfused"  # the same maths as separate kernels: every other variant is compared with it
ROLES = (KERNEL, BASELINE, UNFUSED)


def check_role(role: str, what: str = "role") -> str:
    if role not in ROLES:
        raise ValueError(f"{what} must be one of {', '.join(ROLES)}, got {role!r}")
    return role
