"""A collective record's own section: what ran (collective, size, ranks, nodes, backend, what was forced),
its exact-value check, the clock that timed it, the topology that predicts it, and every rank's GPU, link
and telemetry. A record that has it is a collective's: its workload is the collective, its variant the
backend (and the algorithm when forced), its shape {bytes, ranks, nodes}, its mode "in_place" or
"out_of_place"; its algbw and busbw are derived from the timing's median by nccl-tests' rules
(gpubench.opcount.bus_factor), never stored as measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gpubench.results.codec import FieldError, Struct

__all__ = ["CLOCKS", "Collective"]

# "device": CUDA events on each rank's stream, launches queued behind a spin (NCCL);
# "host": the host clock around each call in a barrier-aligned batch (gloo, or --host-overhead).
CLOCKS = ("device", "host")


@dataclass(frozen=True)
class Collective(Struct):
    name: str  # all_reduce, all_gather, ...
    nbytes: int  # nccl-tests' size S
    ranks: int
    nodes: int
    backend: str  # "nccl" or "gloo"
    clock: str
    wrong: int  # elements that differed from the exact expected value, over all ranks
    checked_elements: int
    algorithm: str | None = None  # forced (NCCL_ALGO) or None: the library chose
    protocol: str | None = None  # forced (NCCL_PROTO) or None
    transport: str = ""  # what carried it: "gloo over loopback (TCP)", "NVLink", ...
    topology: dict[str, Any] = field(default_factory=dict)  # what predicts it (roofline.comm's Topology)
    ranks_info: list[dict[str, Any]] = field(default_factory=list)  # per rank: host, GPU, telemetry
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        for name in ("nbytes", "ranks", "nodes", "wrong", "checked_elements"):
            value = getattr(self, name)
            if value < (1 if name in ("ranks", "nodes") else 0):
                raise FieldError(name, f"{value!r} is out of range")
        if self.clock not in CLOCKS:
            raise FieldError("clock", f"{self.clock!r} is not one of {', '.join(CLOCKS)}")
