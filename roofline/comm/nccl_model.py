"""NCCL's cost model over a Topology, per algorithm and protocol, after NCCL's src/graph/tuning.cc (its
constants: roofline/data/nccl_tuning.toml). NCCL predicts time = latency + bytes / bandwidth for every
enabled (algorithm, protocol) and runs the fastest; so does this model, and it says which one it picked.

What the model takes from the topology, not from NCCL's graph search:
- a GPU's bus bandwidth is its links' NCCL credit (18 NVLink4 links x 20.6 GB/s = 370.8 GB/s); across nodes
  a ring or tree also fits through the node's NICs (its ranks' share of them, rails assumed);
- ring and tree channels: the search's first solution, at the fastest speed of its list that fits two
  channels in the GPU's bandwidth, doubled as NCCL doubles fast channels; this only sets per-channel caps;
- NVLS: one channel per GPU of the node (at most 32), each at the fastest speed s with (channels + 1) x s
  within the GPU's NVLink (the channel's head GPU moves twice its share), as the NVLS search checks.
Each channel is one thread block of NCCL's kernel, so a collective holds that many SMs while it runs (what
it takes from a kernel it overlaps); the prediction reports the count.
Not modelled: CollNet (in-network reduction through IB SHARP switches), NVLS across nodes (needs it).
All-to-all and send/recv are NCCL point-to-point operations that tuning.cc does not model: the suite times
them as one Simple ring step of latency plus the bytes over the link they cross.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gpubench.roofline.comm.collectives import Topology
from gpubench.roofline.comm.tuning import PROTOCOLS, NcclConstants, cap_arch, nccl_constants

INTRA, NIC = "intra-node link", "NIC"
# Which algorithms NCCL's tuning models for each collective (tuning.cc skips the others).
ALGORITHMS_OF = {
    "all_reduce": ("ring", "tree", "nvls", "nvls_tree"),
    "all_gather": ("ring", "nvls", "pat"),
    "reduce_scatter": ("ring", "nvls", "pat"),
    "broadcast": ("ring",),
    "reduce": ("ring",),
    "all_to_all": ("p2p",),
    "send_recv": ("p2p",),
}
_MAX_RING_CHANNELS = 32  # MAXCHANNELS / 2: rings are laid out in pairs of directions


@dataclass(frozen=True)
class Layout:
    """Ranks on a topology: how many nodes and ranks per node, and the bandwidth each level gives a GPU."""

    ranks: int
    nodes: int
    ppn: float
    arch: str
    intra_hw: str
    intra_gbps: float  # one GPU's intra-node bus bandwidth, NCCL's credit
    nic_gpu_gbps: float | None  # one GPU's share of its node's NICs (None on one node)

    @property
    def bus_gbps(self) -> tuple[float, str]:
        """What a ring or tree gets per GPU, and the link that sets it."""
        if self.nodes == 1:
            return self.intra_gbps, INTRA
        node_nics = self.nic_gpu_gbps * self.ppn  # a ring crosses each node boundary once per channel
        return (node_nics, NIC) if node_nics < self.intra_gbps else (self.intra_gbps, INTRA)


def layout(topology: Topology, ranks: int, ranks_per_node: int | None = None) -> Layout:
    per_node = min(ranks, ranks_per_node or topology.gpus_per_node)
    if per_node > topology.gpus_per_node:
        raise ValueError(f"{per_node} ranks per node exceed {topology.name}'s {topology.gpus_per_node} GPUs")
    nodes = math.ceil(ranks / per_node)
    if nodes > topology.nodes:
        raise ValueError(f"{ranks} ranks at {per_node} per node need {nodes} nodes; {topology.name} has "
                         f"{topology.nodes} (load_topology(..., nodes=N))")  # fmt: skip
    if nodes > 1 and topology.inter is None:
        raise ValueError(f"{ranks} ranks span nodes of {topology.name}, which has no inter-node link")
    nic = topology.inter.model_gbps if nodes > 1 else None
    intra = topology.intra
    return Layout(ranks, nodes, ranks / nodes, topology.arch, intra.hw, intra.model_gbps, nic)


@dataclass(frozen=True)
class Candidate:
    """One (algorithm, protocol): NCCL's latency and algorithm bandwidth for it, and what bounds it."""

    algorithm: str
    protocol: str
    latency_s: float
    alg_gbps: float  # bytes / (alg_gbps * 1e9) is the bandwidth term
    link: str  # the link that bounds its bandwidth: INTRA or NIC
    tree_corrected: bool = False
    # NCCL's channels, one thread block (one SM) each while the collective runs; None: point-to-point
    # operations, whose channel count tuning.cc does not set
    channels: int | None = None

    def terms(self, nbytes: int, k: NcclConstants) -> dict[str, float]:
        gbps = self.alg_gbps * (k.tree_factor(self.protocol, nbytes) if self.tree_corrected else 1.0)
        return {"latency": self.latency_s, "bandwidth": nbytes / (gbps * 1e9)}


def ring_channels(bus_gbps: float, arch: str, k: NcclConstants) -> int:
    speeds = k.speeds(arch)
    speed = next((s for s in speeds if 2 * s <= bus_gbps), speeds[-1])
    channels = max(1, int(bus_gbps // speed))
    # ncclTopoDupChannels: fast channels are doubled (not on Hopper+ below 50 GB/s with more than 4 channels)
    if speed >= 25.0 and not (arch in ("hopper", "blackwell") and speed < 50.0 and channels > 4):
        channels *= 2
    return min(channels, _MAX_RING_CHANNELS)


def _steps(collective: str, n: int) -> int:
    if collective == "all_reduce":
        return 2 * (n - 1)
    return n - 1 if collective in ("all_gather", "reduce_scatter") else n


def _cap(k: NcclConstants, cap: str, lay: Layout) -> float:
    return k.cap_gbps(cap, cap_arch(lay.arch), lay.nodes) or math.inf


def _ring_tree_bus(collective: str, algo: str, proto: str, lay: Layout, k: NcclConstants) -> float:
    """NCCL's busBw for a ring or tree with this protocol ("Various model refinements" in tuning.cc)."""
    bus, _ = lay.bus_gbps
    channels = ring_channels(bus, lay.arch, k)
    ll_max = k.cap_gbps("ll_max_gbps", cap_arch(lay.arch) if lay.nodes == 1 else "multinode_intel", lay.nodes)
    if algo == "ring":
        if proto == "LL":
            return min(ll_max, bus * 0.5)
        if proto == "LL128":
            return min(bus * 0.92, channels * _cap(k, "ring_ll128_per_channel_gbps", lay))
        return bus
    if collective == "all_reduce":
        bus = min(bus * 0.92, channels * _cap(k, "tree_per_channel_gbps", lay))
    if proto == "LL":
        return min(bus / 3.8, ll_max)
    if proto == "LL128":
        keep = 7.0 / 9.0 if lay.nodes == 1 else 120.0 / 128.0
        return min(bus * keep, channels * _cap(k, "tree_ll128_per_channel_gbps", lay))
    return bus


def _nvls_bus(collective: str, algo: str, lay: Layout, topology: Topology, k: NcclConstants) -> tuple:
    """NCCL's busBw for NVLS / NVLS tree, and the link that bounds it."""
    channels = min(k.max_nvls_channels, int(lay.ppn))
    speed = next((s for s in k.speeds(lay.arch) if (channels + 1) * s <= lay.intra_gbps), None)
    if channels < 2 or speed is None:
        return 0.0, INTRA
    intra = speed * k.nvls_efficiency[lay.arch] * (channels - 1) / channels
    intra *= 2.0 if collective == "all_reduce" else (lay.ppn - 1) / lay.ppn
    if lay.nodes == 1:
        return channels * intra, INTRA
    inter = lay.nic_gpu_gbps * lay.ppn / channels * (2 if lay.nodes <= 2 else 1)
    per_channel = min(intra, inter, _cap(k, "nvls_tree_per_channel_gbps", lay))
    return channels * per_channel, NIC if per_channel == inter else INTRA


def _log2i(n: int) -> int:
    return max(0, int(n).bit_length() - 1)


def _hop_s(k: NcclConstants, algo: str, proto: str, hw: str, topology: Topology, level: str) -> float:
    """NCCL's per-hop latency, scaled by how the topology's link compares with NCCL's hop for its class."""
    link = topology.intra if level == "intra" else topology.inter
    default = k.latency_s("ring", "LL", link.hw)
    scale = link.latency_s / default if default > 0 else 1.0
    return k.latency_s(algo, proto, hw) * scale


def _latency(collective: str, algo: str, proto: str, lay: Layout, topology: Topology, k: NcclConstants):
    """NCCL's latency of (algo, proto) for this collective and layout, in seconds."""
    base = k.latency_s(algo, proto)
    intra = _hop_s(k, algo, proto, lay.intra_hw, topology, "intra")
    inter = 0.0
    if lay.nodes > 1:  # with one rank per node the latencies are fully exposed: NCCL uses the tree's
        inter = _hop_s(k, "tree" if lay.ppn == 1 else algo, proto, "net", topology, "inter")
    n, nodes, local = lay.ranks, lay.nodes, int(lay.ppn)
    if algo == "ring":
        if collective in ("broadcast", "reduce"):  # pipelined over channels laid out alike: one hop
            return base + (inter if nodes > 1 else intra)
        if nodes > 1:  # every step of a multi-node ring posts to the network
            intra = max(intra, k.net_overhead_us * 1e-6 * (3 if proto == "Simple" else 1))
        inter_steps = 0 if nodes == 1 else 2 * (nodes - 1) if collective == "all_reduce" else nodes - 1
        steps = _steps(collective, n)
        return base + (steps - inter_steps) * intra + inter_steps * inter
    if algo == "tree":
        return base + 2 * ((local - 1) * intra + _log2i(nodes) * inter)
    if algo == "nvls":
        return intra + inter
    if algo == "nvls_tree":
        return base + intra + 2 * _log2i(nodes) * inter
    return base + _log2i(nodes) * inter / 3.5 + n * 2.8e-6  # PAT: a log part and, still, a linear one


def _enabled(collective: str, algo: str, proto: str, lay: Layout, topology: Topology, k: NcclConstants):
    """None if NCCL would consider (algo, proto) here, else why not."""
    if proto == "LL128" and lay.intra_hw != "nvlink":
        return "LL128 runs only over NVLink"
    if algo in ("nvls", "nvls_tree", "pat") and proto != "Simple":
        return f"{algo} has only the Simple protocol"
    if algo in ("nvls", "nvls_tree"):
        if not (topology.nvls and topology.nvswitch and lay.arch in k.nvls_efficiency):
            return f"{topology.name} has no NVLink SHARP (NVLS)"
        if algo == "nvls" and lay.nodes > 1:
            return "NVLS across nodes needs CollNet (IB SHARP), which is not modelled"
        if algo == "nvls_tree" and lay.nodes == 1:
            return "NVLS tree is for more than one node"
    if algo == "pat" and (lay.ppn != 1 or lay.nodes == 1):
        return "PAT runs with one GPU per node only"
    return None


def _collective_candidate(collective, algo, proto, lay, topology, k) -> Candidate | None:
    if algo in ("nvls", "nvls_tree"):
        bus, link = _nvls_bus(collective, algo, lay, topology, k)
    else:
        bus, link = _ring_tree_bus(collective, algo, proto, lay, k), lay.bus_gbps[1]
        bus *= 0.75 if algo == "pat" else 1.0
    if bus <= 0:
        return None
    if algo == "tree":
        alg = bus * 0.5
    elif algo in ("ring", "nvls", "nvls_tree") and not (algo != "ring" and collective != "all_reduce"):
        alg = bus * lay.ranks / _steps(collective, lay.ranks)
    else:  # NVLS and PAT all-gather / reduce-scatter: NCCL keeps the bus bandwidth as is
        alg = bus
    latency = _latency(collective, algo, proto, lay, topology, k)
    if algo in ("nvls", "nvls_tree"):
        channels = min(k.max_nvls_channels, int(lay.ppn))
    else:
        channels = ring_channels(lay.bus_gbps[0], lay.arch, k)
    return Candidate(algo, proto, latency, alg, link, algo == "tree", channels)


def _p2p_candidate(collective: str, lay: Layout, topology: Topology, k: NcclConstants) -> Candidate:
    step = k.latency_s("ring", "Simple")
    if collective == "send_recv":  # rank r sends to r + 1: across nodes the boundary pair uses a NIC
        if lay.nodes > 1:
            return Candidate("p2p", "Simple", step + _hop_s(k, "ring", "Simple", "net", topology, "inter"),
                             lay.nic_gpu_gbps, NIC)  # fmt: skip
        hop = _hop_s(k, "ring", "Simple", lay.intra_hw, topology, "intra")
        return Candidate("p2p", "Simple", step + hop, lay.intra_gbps, INTRA)
    n, local = lay.ranks, lay.ppn  # all-to-all: S/n to each peer, local peers over the intra link
    local_s_per_byte = (local - 1) / n / lay.intra_gbps
    remote_s_per_byte = (n - local) / n / lay.nic_gpu_gbps if lay.nodes > 1 else 0.0
    worst = max(local_s_per_byte, remote_s_per_byte)
    link = NIC if remote_s_per_byte >= local_s_per_byte and lay.nodes > 1 else INTRA
    hop = _hop_s(k, "ring", "LL", lay.intra_hw, topology, "intra")
    return Candidate("p2p", "Simple", step + (n - 1) * hop, 1.0 / worst, link)


def candidates(collective: str, lay: Layout, topology: Topology, algorithm: str | None = None,
               protocol: str | None = None) -> tuple[list[Candidate], list[str]]:  # fmt: skip
    """Every (algorithm, protocol) NCCL would weigh here (restricted to `algorithm` / `protocol` where
    forced), and why the others are out."""
    k = nccl_constants()
    if collective in ("all_to_all", "send_recv"):
        return [_p2p_candidate(collective, lay, topology, k)], []
    out, why = [], []
    for algo in ALGORITHMS_OF[collective]:
        if algorithm not in (None, algo):
            continue
        for proto in PROTOCOLS:
            if protocol not in (None, proto):
                continue
            reason = _enabled(collective, algo, proto, lay, topology, k)
            cand = None if reason else _collective_candidate(collective, algo, proto, lay, topology, k)
            if cand is None:
                why.append(f"{algo}/{proto}: {reason or 'no bandwidth on this topology'}")
            else:
                out.append(cand)
    return out, why


def ring_plateau(cand: Candidate, collective: str, nbytes: int, lay: Layout) -> float:
    """NCCL's multi-node ring all-reduce plateau: a larger latency once each channel carries >= 64 B/rank."""
    k = nccl_constants()
    if cand.algorithm != "ring" or cand.protocol != "Simple" or lay.nodes == 1 or collective != "all_reduce":
        return 1.0
    channels = ring_channels(lay.bus_gbps[0], lay.arch, k)
    return k.ring_plateau_latency_factor if nbytes / (channels * lay.ranks) >= 64 else 1.0
