"""The collectives, nccl-tests' bandwidth rules (owned by gpubench.opcount), and the topology a collective
runs over."""

from __future__ import annotations

from dataclasses import dataclass

from gpubench.opcount import COLLECTIVES, algbw, bus_factor, check_collective

__all__ = ["COLLECTIVES", "HW_CLASSES", "Link", "Topology", "algbw", "bus_factor", "check_collective"]

# The hardware class of a link, as NCCL's tuning model names it (its per-hop latencies differ by class).
HW_CLASSES = ("nvlink", "pcie", "net")


@dataclass(frozen=True)
class Link:
    """One GPU's share of a level of the network: GB/s per direction (the wire's ceiling), the latency of one
    step, and what NCCL's topology model credits it with (`nccl_gbps`; None: the wire rate). `kind` names the
    link ("nvlink4", "pcie-gen5", "cx7_ndr", "loopback"); its prefix gives the hardware class."""

    gbps: float
    latency_s: float
    kind: str = ""
    nccl_gbps: float | None = None

    def __post_init__(self):
        if not self.gbps > 0 or not self.latency_s >= 0:
            raise ValueError(f"link {self.kind or '?'}: need gbps > 0 and latency_s >= 0")
        if self.nccl_gbps is not None and not self.nccl_gbps > 0:
            raise ValueError(f"link {self.kind or '?'}: nccl_gbps must be > 0 or None")

    @property
    def model_gbps(self) -> float:
        """The bandwidth a prediction uses: NCCL's credit where known, else the wire rate."""
        return self.nccl_gbps if self.nccl_gbps is not None else self.gbps

    @property
    def hw(self) -> str:
        """NCCL's hardware class: 'nvlink', 'pcie' or 'net' (NICs, and anything else between hosts)."""
        kind = self.kind.lower()
        return "nvlink" if kind.startswith("nvlink") else "pcie" if kind.startswith("pcie") else "net"


@dataclass(frozen=True)
class Topology:
    """A cluster as a collective sees it: `gpus_per_node` GPUs joined by `intra` (NVLink/NVSwitch or
    PCIe), nodes joined by `inter` (the NICs, as GB/s per GPU: the node's NICs shared by its GPUs);
    `nvls`: NVLink SHARP in the switches. `gpu` is the GPU's key in the spec database and `arch` its
    architecture (NCCL's constants differ by architecture); `nvswitch`: every GPU of a node reaches every
    other at its full NVLink rate."""

    name: str
    gpus_per_node: int
    intra: Link
    inter: Link | None = None
    nodes: int = 1
    nvls: bool = False
    source: str = ""
    gpu: str = ""
    arch: str = ""
    nvswitch: bool = False
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        if self.gpus_per_node < 1 or self.nodes < 1:
            raise ValueError(f"topology {self.name}: gpus_per_node and nodes must be >= 1")
        if self.nodes > 1 and self.inter is None:
            raise ValueError(f"topology {self.name}: {self.nodes} nodes need an inter-node link")

    @property
    def gpus(self) -> int:
        return self.gpus_per_node * self.nodes
