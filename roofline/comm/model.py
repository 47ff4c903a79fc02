"""A collective's predicted time over a topology: alpha-beta forms (Thakur, Rabenseifner and Gropp 2005)
per algorithm, the slowest level limiting a hierarchical ring, the limiting term named.

ring all_reduce:  2(p-1) steps of latency, 2(p-1)/p x S over the bottleneck link's bandwidth
ring all_gather / reduce_scatter / all_to_all: (p-1) steps, (p-1)/p x S
broadcast / reduce (pipelined ring): (p-1) steps, S
send_recv: one step, S
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gpubench.roofline.comm.collectives import Topology, bus_factor, check_collective

_STEPS = {"all_reduce": lambda p: 2 * (p - 1), "send_recv": lambda p: 1}


@dataclass(frozen=True)
class CommPrediction:
    collective: str
    nbytes: int
    ranks: int
    time_s: float
    algorithm: str
    limit: str  # "latency", "intra-node link" or "NIC"
    terms: dict[str, float] = field(default_factory=dict)  # term -> seconds

    @property
    def algbw_gbps(self) -> float:
        return self.nbytes / self.time_s / 1e9 if self.time_s > 0 else 0.0

    @property
    def busbw_gbps(self) -> float:
        return self.algbw_gbps * bus_factor(self.collective, self.ranks)


def predict(
    collective: str, nbytes: int, ranks: int, topology: Topology, ranks_per_node: int | None = None,
    algorithm: str | None = None,
) -> CommPrediction:  # fmt: skip
    """The time of one `collective` of `nbytes` (nccl-tests' size convention) over `ranks` ranks placed
    `ranks_per_node` to a node (default: as many as fit), and what limits it."""
    check_collective(collective)
    if ranks < 1 or nbytes < 0:
        raise ValueError(f"need ranks >= 1 and nbytes >= 0, got {ranks} and {nbytes}")
    if algorithm not in (None, "ring"):
        raise ValueError(f"unknown algorithm {algorithm!r}; known: ring")
    per_node = min(ranks, ranks_per_node or topology.gpus_per_node)
    if ranks == 1:
        return CommPrediction(collective, nbytes, ranks, 0.0, "none", "latency", {})
    link = topology.intra if ranks <= per_node else topology.inter
    if link is None:
        raise ValueError(f"{ranks} ranks span nodes of {topology.name}, which has no inter-node link")
    steps = _STEPS.get(collective, lambda p: p - 1)(ranks)
    moved = nbytes * bus_factor(collective, ranks)
    terms = {"latency": steps * link.latency_s, "bandwidth": moved / (link.model_gbps * 1e9)}
    limit = "latency" if terms["latency"] >= terms["bandwidth"] else (
        "intra-node link" if link is topology.intra else "NIC")  # fmt: skip
    return CommPrediction(collective, nbytes, ranks, sum(terms.values()), "ring", limit, terms)
