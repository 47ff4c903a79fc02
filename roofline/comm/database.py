"""The interconnect database (roofline/data/interconnects.toml): each GPU's links, keyed like gpus.toml, and
the systems users run (a node's GPUs, switches and NICs), every figure with its source."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gpubench.roofline.specs import Document

_GPU_KEYS = {"nvlink", "nvlink_links", "pcie", "pcie_lanes", "nvls", "notes", "sources"}
_SYSTEM_KEYS = {"name", "gpu", "gpus_per_node", "nvswitch", "nvls", "nic", "nics", "notes", "sources"}


def _frozen(d: Mapping | None = None) -> Mapping:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class GPULinks:
    """One GPU's links: NVLink (generation, links, GB/s per link per direction; what NCCL credits a link
    with), PCIe (generation, lanes, GB/s per direction after line encoding; NCCL's credit) and NVLS."""

    key: str
    nvlink: str | None
    nvlink_links: int
    nvlink_gbps_per_link: float | None
    nvlink_nccl_gbps_per_link: float | None
    pcie: str | None
    pcie_lanes: int
    pcie_gbps: float | None
    pcie_nccl_gbps: float | None
    nvls: bool
    sources: Mapping[str, tuple[Document, ...]] = field(default_factory=_frozen)
    notes: tuple[str, ...] = ()

    @property
    def nvlink_gbps(self) -> float | None:
        """The GPU's NVLink bandwidth per direction, all links together."""
        return self.nvlink_links * self.nvlink_gbps_per_link if self.nvlink else None

    @property
    def nvlink_nccl_gbps(self) -> float | None:
        return self.nvlink_links * self.nvlink_nccl_gbps_per_link if self.nvlink else None


@dataclass(frozen=True)
class System:
    """A node users run: its GPU (a gpus.toml key), how many, whether NVSwitches join them (and reduce
    in-network: NVLS), and its east-west NICs."""

    key: str
    name: str
    gpu: str
    gpus_per_node: int
    nvswitch: bool
    nvls: bool
    nic: str | None
    nic_name: str | None
    nic_gbits: float | None
    nics: int
    sources: Mapping[str, tuple[Document, ...]] = field(default_factory=_frozen)
    notes: tuple[str, ...] = ()

    @property
    def nic_gbps_per_gpu(self) -> float | None:
        """The node's NIC bandwidth per direction, GB/s, shared out to its GPUs."""
        if not self.nic_gbits or not self.nics:
            return None
        return self.nics * self.nic_gbits / 8 / self.gpus_per_node


@dataclass(frozen=True)
class Interconnects:
    gpus: Mapping[str, GPULinks]
    systems: Mapping[str, System]
    documents: Mapping[str, Document]
    kinds: Mapping[str, Mapping[str, Mapping]]  # "nvlink" / "pcie" / "nics" -> name -> its table


def _read(path: str | None) -> dict[str, Any]:
    if path is None:
        text = resources.files("gpubench.roofline").joinpath("data/interconnects.toml").read_text()
        return tomllib.loads(text)
    return tomllib.loads(Path(path).read_text())


def _sources(where: str, table: dict, docs: Mapping[str, Document]) -> Mapping[str, tuple[Document, ...]]:
    out = {}
    for fld, ids in table.get("sources", {}).items():
        unknown = [i for i in ids if i not in docs]
        if unknown:
            raise ValueError(f"{where}: sources.{fld} names unknown documents {unknown}")
        out[fld] = tuple(docs[i] for i in ids)
    return _frozen(out)


def _check_keys(where: str, table: dict, allowed: set[str]) -> None:
    bad = sorted(set(table) - allowed)
    if bad:
        raise ValueError(f"{where}: unknown fields {bad}; allowed: {sorted(allowed)}")


def _kind(where: str, kinds: dict, name: str | None, what: str) -> dict:
    if name is None:
        return {}
    if name not in kinds:
        raise ValueError(f"{where}: unknown {what} {name!r}; known: {', '.join(sorted(kinds))}")
    return kinds[name]


def _gpu(key: str, t: dict, raw: dict, docs: Mapping[str, Document]) -> GPULinks:
    where = f"gpus.{key}"
    _check_keys(where, t, _GPU_KEYS)
    nv = _kind(where, raw.get("nvlink", {}), t.get("nvlink"), "NVLink generation")
    pcie = _kind(where, raw.get("pcie", {}), t.get("pcie"), "PCIe generation")
    lanes = int(t.get("pcie_lanes", 16 if pcie else 0))
    nvlink_links = int(t.get("nvlink_links", 0))
    if nv and nvlink_links < 1:
        raise ValueError(f"{where}: an NVLink generation needs nvlink_links >= 1")
    return GPULinks(
        key=key,
        nvlink=t.get("nvlink"),
        nvlink_links=nvlink_links,
        nvlink_gbps_per_link=nv.get("gbps_per_link"),
        nvlink_nccl_gbps_per_link=nv.get("nccl_gbps_per_link"),
        pcie=t.get("pcie"),
        pcie_lanes=lanes,
        # GT/s per lane x lanes x line encoding / 8 bits: GB/s per direction.
        pcie_gbps=pcie["gt_per_s"] * lanes * pcie["encoding"] / 8 if pcie else None,
        pcie_nccl_gbps=pcie["nccl_gbps_per_lane"] * lanes if pcie else None,
        nvls=bool(t.get("nvls", False)),
        sources=_sources(where, t, docs),
        notes=tuple(t.get("notes", ())),
    )


def _system(key: str, t: dict, raw: dict, gpus: Mapping[str, GPULinks], docs: Mapping) -> System:
    where = f"systems.{key}"
    _check_keys(where, t, _SYSTEM_KEYS)
    for required in ("name", "gpu", "gpus_per_node"):
        if required not in t:
            raise ValueError(f"{where}: missing {required!r}")
    if t["gpu"] not in gpus:
        raise ValueError(f"{where}: gpu {t['gpu']!r} has no [gpus.{t['gpu']}] table of links")
    nic = _kind(where, raw.get("nics", {}), t.get("nic"), "NIC")
    if t.get("nvls") and not gpus[t["gpu"]].nvls:
        raise ValueError(f"{where}: nvls = true, but its GPU {t['gpu']!r} has no NVLS")
    return System(
        key=key, name=t["name"], gpu=t["gpu"], gpus_per_node=int(t["gpus_per_node"]),
        nvswitch=bool(t.get("nvswitch", False)), nvls=bool(t.get("nvls", False)),
        nic=t.get("nic"), nic_name=nic.get("name"), nic_gbits=nic.get("gbits"), nics=int(t.get("nics", 0)),
        sources=_sources(where, t, docs), notes=tuple(t.get("notes", ())),
    )  # fmt: skip


@functools.lru_cache(maxsize=4)
def _load(path: str | None) -> Interconnects:
    raw = _read(path)
    docs = {i: Document(id=i, **d) for i, d in raw.get("documents", {}).items()}
    for section in ("nvlink", "pcie", "nics"):
        for name, table in raw.get(section, {}).items():
            _sources(f"{section}.{name}", table, docs)
    gpus = {k: _gpu(k, t, raw, docs) for k, t in raw.get("gpus", {}).items()}
    systems = {k: _system(k, t, raw, gpus, docs) for k, t in raw.get("systems", {}).items()}
    sections = ("nvlink", "pcie", "nics")
    kinds = {s: _frozen({k: _frozen(v) for k, v in raw.get(s, {}).items()}) for s in sections}
    return Interconnects(_frozen(gpus), _frozen(systems), _frozen(docs), _frozen(kinds))


def load_interconnects(path: str | Path | None = None) -> Interconnects:
    """The interconnect database (parsed once and cached); `path`: another file of the same form."""
    return _load(str(path) if path is not None else None)


def gpu_links(key: str) -> GPULinks | None:
    """The links of the GPU with gpus.toml key `key`, or None where the database has none."""
    return load_interconnects().gpus.get(key)



def system_from_table(key: str, table: dict) -> System:
    """A system described like a [systems.*] table of the database (a user's own node, from a file): its GPU,
    NIC kind and sources resolve against the database."""
    db = load_interconnects()
    raw = {section: {k: dict(v) for k, v in kinds.items()} for section, kinds in db.kinds.items()}
    return _system(key, table, raw, db.gpus, db.documents)
