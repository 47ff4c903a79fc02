"""A collective's predicted time over a topology, the algorithm (and protocol) it runs with, and the term that
limits it: latency, the intra-node link, or the NIC.

backend "nccl" (default): NCCL's own cost model per algorithm and protocol (nccl_model.py); the algorithm is
NCCL's choice by that model unless one is forced (as NCCL_ALGO / NCCL_PROTO force it), and the prediction
says which. Any other backend (gloo): the alpha-beta forms of alphabeta.py over the slowest level the ranks
span, ring unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gpubench.roofline.comm import alphabeta, nccl_model
from gpubench.roofline.comm.collectives import Topology, bus_factor, check_collective
from gpubench.roofline.comm.tuning import PROTOCOLS, nccl_constants

NCCL_ALGORITHMS = ("ring", "tree", "nvls", "nvls_tree", "pat", "p2p")


@dataclass(frozen=True)
class CommPrediction:
    collective: str
    nbytes: int
    ranks: int
    time_s: float
    algorithm: str
    limit: str  # "latency", "intra-node link" or "NIC"
    terms: dict[str, float] = field(default_factory=dict)  # term -> seconds
    protocol: str = ""  # NCCL's LL, LL128 or Simple; "" for other backends
    backend: str = "nccl"
    # "model": NCCL's choice as its cost model makes it; "forced": asked for; "only": nothing to choose from
    # (NCCL's point-to-point operations); "default": another backend's usual algorithm
    chosen_by: str = "model"
    ceiling_busbw_gbps: float | None = None  # the wire rate of the level that bounds the bus bandwidth
    alternatives: dict[str, float] = field(default_factory=dict)  # "algo/proto" -> seconds, others weighed
    channels: int | None = None  # NCCL's channels (an SM each while it runs); None where not modelled

    @property
    def algbw_gbps(self) -> float:
        return self.nbytes / self.time_s / 1e9 if self.time_s > 0 else 0.0

    @property
    def busbw_gbps(self) -> float:
        return self.algbw_gbps * bus_factor(self.collective, self.ranks)

    @property
    def label(self) -> str:
        """'nvls/Simple (NCCL's choice, model)' and the like: what ran and who chose it."""
        what = f"{self.algorithm}/{self.protocol}" if self.protocol else self.algorithm
        nccl_choice = self.chosen_by == "model" and self.backend == "nccl"
        who = "NCCL's choice, model" if nccl_choice else self.chosen_by
        return f"{what} ({who})"


def _ceiling(topology: Topology, lay: nccl_model.Layout) -> float:
    """The wire's busbw ceiling: the intra-node link, or across nodes the node's NICs if they are slower."""
    if lay.nodes == 1:
        return topology.intra.gbps
    return min(topology.intra.gbps, topology.inter.gbps * lay.ppn)


def _check(collective: str, nbytes: int, ranks: int, backend: str, protocol: str | None) -> None:
    check_collective(collective)
    if isinstance(ranks, bool) or not isinstance(ranks, int) or ranks < 1 or nbytes < 0:
        raise ValueError(f"need ranks >= 1 and nbytes >= 0, got {ranks} and {nbytes}")
    if protocol not in (None, *PROTOCOLS):
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    if protocol is not None and backend != "nccl":
        raise ValueError(f"protocols are NCCL's; backend {backend!r} has none")


def predict(
    collective: str, nbytes: int, ranks: int, topology: Topology, ranks_per_node: int | None = None,
    algorithm: str | None = None, protocol: str | None = None, backend: str = "nccl",
) -> CommPrediction:  # fmt: skip
    """The time of one `collective` of `nbytes` (nccl-tests' size convention) over `ranks` ranks placed
    `ranks_per_node` to a node (default: as many as fit), by `backend`, and what limits it. `algorithm` and
    `protocol` force a choice, as NCCL_ALGO and NCCL_PROTO do."""
    _check(collective, nbytes, ranks, backend, protocol)
    lay = nccl_model.layout(topology, ranks, ranks_per_node)
    if ranks == 1:
        return CommPrediction(collective, nbytes, 1, 0.0, "none", "latency", {}, backend=backend)
    if backend != "nccl":
        return _alpha_beta(collective, nbytes, lay, topology, algorithm or "ring", backend,
                           "forced" if algorithm else "default")  # fmt: skip
    known = nccl_model.ALGORITHMS_OF[collective]
    if algorithm is not None and algorithm not in known:
        raise ValueError(f"unknown algorithm {algorithm!r} for {collective}; NCCL's: {', '.join(known)}")
    cands, why = nccl_model.candidates(collective, lay, topology, algorithm, protocol)
    if not cands:
        asked = f"{algorithm or 'any'}/{protocol or 'any'}"
        raise ValueError(f"no {asked} {collective} on {topology.name} with {ranks} ranks: {'; '.join(why)}")
    k = nccl_constants()
    timed = []
    for cand in cands:
        terms = cand.terms(nbytes, k)
        terms["latency"] *= nccl_model.ring_plateau(cand, collective, nbytes, lay)
        timed.append((sum(terms.values()), cand, terms))
    time_s, best, terms = min(timed, key=lambda t: t[0])
    limit = "latency" if terms["latency"] >= terms["bandwidth"] else best.link
    return CommPrediction(
        collective, nbytes, ranks, time_s, best.algorithm, limit, terms, best.protocol, "nccl",
        "forced" if (algorithm or protocol) else "only" if best.algorithm == "p2p" else "model",
        _ceiling(topology, lay),
        {f"{c.algorithm}/{c.protocol}": t for t, c, _ in timed},
        best.channels,
    )  # fmt: skip


def _alpha_beta(collective, nbytes, lay, topology, algorithm, backend, chosen_by) -> CommPrediction:
    if algorithm not in alphabeta.ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; known: {', '.join(alphabeta.ALGORITHMS)}")
    link = topology.intra if lay.nodes == 1 else topology.inter
    steps, moved = alphabeta.steps_and_bytes(collective, algorithm, lay.ranks, nbytes)
    algorithm = alphabeta.label(collective, algorithm)
    terms = {"latency": steps * link.latency_s, "bandwidth": moved / (link.gbps * 1e9)}
    limit = "latency" if terms["latency"] >= terms["bandwidth"] else (
        "intra-node link" if lay.nodes == 1 else "NIC")  # fmt: skip
    return CommPrediction(collective, nbytes, lay.ranks, sum(terms.values()), algorithm, limit, terms,
                          backend=backend, chosen_by=chosen_by, ceiling_busbw_gbps=link.gbps)  # fmt: skip
