"""A collective record's place on the collective roofline, computed when a file is read, by the one
function every tool uses: the topology the record names, the model's prediction for it (algorithm,
protocol, time, busbw, limiting term), the wire's busbw ceiling, and measured over predicted."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gpubench.results import Record
from gpubench.roofline.comm.collectives import Link, Topology
from gpubench.roofline.comm.model import CommPrediction, predict


def topology_to_json(t: Topology) -> dict[str, Any]:
    """What a record stores to be predicted again by any reader: the links, not the database's name only."""
    link = lambda x: None if x is None else asdict(x)  # noqa: E731
    return {
        "name": t.name,
        "gpus_per_node": t.gpus_per_node,
        "nodes": t.nodes,
        "intra": link(t.intra),
        "inter": link(t.inter),
        "nvls": t.nvls,
        "nvswitch": t.nvswitch,
        "gpu": t.gpu,
        "arch": t.arch,
        "source": t.source,
    }


def topology_from_json(data: dict[str, Any]) -> Topology:
    """The Topology a record stored (ValueError when it is not one)."""
    try:
        inter = data.get("inter")
        return Topology(
            name=str(data["name"]),
            gpus_per_node=int(data["gpus_per_node"]),
            intra=Link(**data["intra"]),
            inter=Link(**inter) if inter else None,
            nodes=int(data.get("nodes", 1)),
            nvls=bool(data.get("nvls", False)),
            source=str(data.get("source", "")),
            gpu=str(data.get("gpu", "")),
            arch=str(data.get("arch", "")),
            nvswitch=bool(data.get("nvswitch", False)),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a topology: {exc}") from None


@dataclass(frozen=True)
class CommPlacement:
    prediction: CommPrediction
    topology: str
    measured_s: float | None

    @property
    def predicted_over_measured(self) -> float | None:
        return self.prediction.time_s / self.measured_s if self.measured_s else None

    def to_json(self) -> dict[str, Any]:
        p = self.prediction
        return {
            "topology": self.topology,
            "algorithm": p.algorithm,
            "protocol": p.protocol,
            "limit": p.limit,
            "chosen_by": p.chosen_by,
            "time_s": p.time_s,
            "busbw_GBps": p.busbw_gbps,
            "algbw_GBps": p.algbw_gbps,
            "ceiling_busbw_GBps": p.ceiling_busbw_gbps,
            "terms": p.terms,
            "predicted_over_measured": self.predicted_over_measured,
        }


def place_collective(rec: Record) -> CommPlacement | None:
    """The prediction for a collective record over the topology it stored; None for any other record, or
    one without a usable topology."""
    c = rec.collective
    if c is None or not c.topology:
        return None
    try:
        topo = topology_from_json(c.topology)
        # The run's ranks sit on its own nodes: the stored topology may describe more nodes than it used
        topo = Topology(**{**topo.__dict__, "nodes": max(topo.nodes, c.nodes)})
        pred = predict(
            c.name,
            c.nbytes,
            c.ranks,
            topo,
            ranks_per_node=-(-c.ranks // c.nodes),
            algorithm=c.algorithm,
            protocol=c.protocol,
            backend=c.backend,
        )
    except ValueError:
        return None
    return CommPlacement(pred, topo.name, rec.median if rec.ok else None)
