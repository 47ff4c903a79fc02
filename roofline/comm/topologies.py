"""Named systems and users' own topology files as `Topology` objects.

    load_topology("dgx-h100")            one DGX H100 node (8 GPUs on NVSwitch, 8 x 400 Gb/s NICs)
    load_topology("dgx-h100", nodes=16)  sixteen of them
    load_topology("my_cluster.toml")     a file of one of two forms:

        # a node built from the database's parts       # or links given outright
        name = "my-node"                                name = "my-box"
        gpu = "a100_sxm4_80gb"                          gpus_per_node = 4
        gpus_per_node = 8                               [intra]
        nvswitch = true                                 kind = "pcie-gen4"     # nvlink*, pcie*, or a NIC
        nic = "cx6_hdr"                                 gbps = 31.5            # GB/s per GPU per direction
        nics = 4                                        nccl_gbps = 24.0       # optional
        nodes = 2                                       latency_us = 1.0       # optional
                                                        [inter]
                                                        kind = "roce-100g"
                                                        gbps = 12.5
A link's latency is one hop of NCCL's ring/LL over its hardware class unless the file gives one.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from gpubench.roofline.comm.collectives import Link, Topology
from gpubench.roofline.comm.database import System, load_interconnects, system_from_table
from gpubench.roofline.comm.tuning import nccl_constants
from gpubench.roofline.specs import get_spec

TOPOLOGIES = tuple(load_interconnects().systems)
_LINK_KEYS = {"kind", "gbps", "nccl_gbps", "latency_us"}
_FILE_KEYS = {"name", "gpus_per_node", "nodes", "nvls", "nvswitch", "gpu", "intra", "inter", "notes"}


def hop_latency_s(hw: str) -> float:
    """One hop of NCCL's ring with its LL protocol over hardware class `hw`: the smallest step it models."""
    return nccl_constants().latency_s("ring", "LL", hw)


def _arch(gpu: str) -> str:
    try:
        return get_spec(gpu).arch
    except KeyError as e:
        raise ValueError(f"gpu {gpu!r} is not in the spec database: {e.args[0]}") from None


def _nodes(nodes: int | None, default: int = 1) -> int:
    n = default if nodes is None else nodes
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"nodes must be an integer >= 1, got {nodes!r}")
    return n


def system_topology(system: System, nodes: int = 1) -> Topology:
    """The topology of `nodes` nodes of `system`: NVLink within a node where NVSwitches join every GPU (else
    PCIe), the node's NICs shared by its GPUs between nodes."""
    links = load_interconnects().gpus[system.gpu]
    if system.nvswitch and links.nvlink:
        intra = Link(links.nvlink_gbps, hop_latency_s("nvlink"), links.nvlink, links.nvlink_nccl_gbps)
    elif links.pcie:
        intra = Link(links.pcie_gbps, hop_latency_s("pcie"), f"pcie-{links.pcie}", links.pcie_nccl_gbps)
    else:
        raise ValueError(f"system {system.key}: its GPU {system.gpu!r} has neither switched NVLink nor PCIe")
    per_gpu = system.nic_gbps_per_gpu
    inter = Link(per_gpu, hop_latency_s("net"), system.nic or "nic") if per_gpu else None
    return Topology(
        name=system.key, gpus_per_node=system.gpus_per_node, intra=intra, inter=inter, nodes=nodes,
        nvls=system.nvls, source=f"roofline/data/interconnects.toml [systems.{system.key}]: {system.name}",
        gpu=system.gpu, arch=_arch(system.gpu), nvswitch=system.nvswitch, notes=system.notes,
    )  # fmt: skip


def _link(where: str, table: dict) -> Link:
    bad = sorted(set(table) - _LINK_KEYS)
    if bad or "gbps" not in table:
        allowed = sorted(_LINK_KEYS)
        raise ValueError(f"{where}: a link needs 'gbps' and takes only {allowed}; got {sorted(table)}")
    kind = str(table.get("kind", ""))
    probe = Link(float(table["gbps"]), 0.0, kind)
    latency = table["latency_us"] * 1e-6 if "latency_us" in table else hop_latency_s(probe.hw)
    nccl = table.get("nccl_gbps")
    return Link(float(table["gbps"]), latency, kind, None if nccl is None else float(nccl))


def _from_file(path: Path, nodes: int | None) -> Topology:
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"topology file {path}: {e}") from e
    if not table:
        raise ValueError(f"topology file {path} is empty: give a system's fields (docs/collectives.md)")
    name = str(table.get("name", path.stem))
    if "intra" not in table:  # a node built from the database's parts
        try:
            system = system_from_table(name, {k: v for k, v in table.items() if k != "nodes"})
        except ValueError as e:  # name the file as well as the field
            raise ValueError(f"topology file {path}: {e}") from None
        return system_topology(system, _nodes(nodes, table.get("nodes", 1)))
    bad = sorted(set(table) - _FILE_KEYS)
    if bad:
        raise ValueError(f"topology file {path}: unknown fields {bad}; allowed: {sorted(_FILE_KEYS)}")
    gpu = table.get("gpu", "")
    return Topology(
        name=name, gpus_per_node=int(table.get("gpus_per_node", 1)),
        intra=_link(f"{path} [intra]", table["intra"]),
        inter=_link(f"{path} [inter]", table["inter"]) if "inter" in table else None,
        nodes=_nodes(nodes, table.get("nodes", 1)), nvls=bool(table.get("nvls", False)), source=str(path),
        gpu=gpu, arch=_arch(gpu) if gpu else "", nvswitch=bool(table.get("nvswitch", False)),
        notes=tuple(table.get("notes", ())),
    )  # fmt: skip


def load_topology(name_or_path: str | Path, nodes: int | None = None) -> Topology:
    """A named system of the database (TOPOLOGIES), or a TOML file describing your own; `nodes` nodes of it
    (default 1, or what the file says). ValueError names the known systems."""
    systems = load_interconnects().systems
    key = str(name_or_path)
    if key in systems:
        return system_topology(systems[key], _nodes(nodes))
    path = Path(key)
    if path.suffix == ".toml" or path.exists() or "/" in key:  # a path, not a name
        if not path.exists():
            raise ValueError(f"topology file {path} does not exist")
        if not path.is_file():
            raise ValueError(f"topology file {path} is {'a folder' if path.is_dir() else 'not a file'}")
        return _from_file(path, nodes)
    raise ValueError(f"unknown topology {key!r}; known: {', '.join(TOPOLOGIES)}; or a path to a .toml file")
