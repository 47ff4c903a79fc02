"""Collective communication on the roofline: how long an all-reduce (and friends) takes over a topology,
and what limits it (latency, the intra-node link, the NIC). Pure Python, no torch.

The contract the rest of the suite builds on (the measured collectives, the training planner):
    Topology                   GPUs per node, nodes, the intra-node link and the NIC per GPU
    bus_factor(c, ranks)       nccl-tests' busbw / algbw factor for collective c (one owner)
    predict(c, nbytes, ranks, topology, ranks_per_node=None, algorithm=None) -> CommPrediction
    load_topology(name_or_path, nodes=None) -> Topology    a named system (TOPOLOGIES) or your own file
nbytes follows nccl-tests: one rank's buffer for all_reduce, broadcast, reduce and send/recv; the whole
(gathered) array for all_gather, reduce_scatter and all_to_all.
"""

from gpubench.roofline.comm.collectives import COLLECTIVES, Link, Topology, algbw, bus_factor
from gpubench.roofline.comm.database import GPULinks, System, gpu_links, load_interconnects
from gpubench.roofline.comm.model import CommPrediction, predict
from gpubench.roofline.comm.topologies import TOPOLOGIES, load_topology

__all__ = [
    "COLLECTIVES", "TOPOLOGIES", "CommPrediction", "GPULinks", "Link", "System", "Topology", "algbw",
    "bus_factor", "gpu_links", "load_interconnects", "load_topology", "predict",
]  # fmt: skip
