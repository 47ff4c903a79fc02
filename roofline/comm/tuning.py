"""NCCL's published cost-model constants (roofline/data/nccl_tuning.toml, from NCCL's src/graph/tuning.cc and
search.cc): latencies per algorithm, protocol and hardware class, NVLS efficiency, per-channel caps."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from gpubench.roofline.specs import Document

PROTOCOLS = ("LL", "LL128", "Simple")
ALGORITHMS = ("ring", "tree", "nvls", "nvls_tree", "pat")


@dataclass(frozen=True)
class NcclConstants:
    base_latency_us: Mapping[str, tuple[float, ...]]  # algorithm -> per protocol
    hw_latency_us: Mapping[str, Mapping[str, tuple[float, ...]]]  # hw class -> algorithm -> per protocol
    nvls_efficiency: Mapping[str, float]  # architecture -> share of NVLink an NVLS channel gets
    channel_gbps: Mapping[str, tuple[float, ...]]  # architecture (or "default") -> speeds tried
    max_nvls_channels: int
    caps: Mapping[str, Mapping[str, tuple[float, ...]]]  # cap -> architecture -> [1 node, 2, more]
    tree_correction: Mapping[str, tuple[float, ...]]  # protocol -> factor by log2(bytes / 64)
    ring_plateau_latency_factor: float
    net_overhead_us: float
    sources: tuple[Document, ...]

    def latency_s(self, algorithm: str, protocol: str, hw: str | None = None) -> float:
        """The base latency of (algorithm, protocol), or with `hw` the per-hop latency over that class."""
        p = PROTOCOLS.index(protocol)
        table = self.base_latency_us if hw is None else self.hw_latency_us[hw]
        return table[algorithm][p] * 1e-6

    def cap_gbps(self, cap: str, arch: str, nodes: int) -> float | None:
        """A per-channel (for LL: total) bandwidth cap for `arch` at `nodes` nodes; None: not published."""
        row = self.caps[cap].get(arch)
        return None if row is None else row[min(nodes, 3) - 1]

    def speeds(self, arch: str) -> tuple[float, ...]:
        return self.channel_gbps.get(arch, self.channel_gbps["default"])

    def tree_factor(self, protocol: str, nbytes: int) -> float:
        """NCCL's tree all-reduce correction at this size (1.0 outside its table)."""
        row, chunks = self.tree_correction[protocol], nbytes >> 6
        log_size = chunks.bit_length() - 1  # log2 rounded down; -1 below 64 B
        return row[log_size] if 0 <= log_size < len(row) else 1.0


def cap_arch(arch: str) -> str:
    """The row of NCCL's per-architecture tables an architecture uses (its compCapIndex)."""
    rows = {"blackwell": "blackwell", "hopper": "hopper", "volta": "volta", "turing": "volta"}
    return rows.get(arch, "ampere")


def _rows(table: Mapping) -> Mapping[str, tuple[float, ...]]:
    for name, row in table.items():
        if len(row) != len(PROTOCOLS):
            raise ValueError(f"nccl_tuning.toml: row {name!r} needs one value per protocol {PROTOCOLS}")
    return MappingProxyType({k: tuple(v) for k, v in table.items()})


@functools.cache
def nccl_constants() -> NcclConstants:
    """The constants, parsed once."""
    raw = tomllib.loads(resources.files("gpubench.roofline").joinpath("data/nccl_tuning.toml").read_text())
    docs = {i: Document(id=i, **d) for i, d in raw["documents"].items()}
    model = raw["model"]
    caps = {c: MappingProxyType({a: tuple(r) for a, r in rows.items()}) for c, rows in raw["caps"].items()}
    return NcclConstants(
        base_latency_us=_rows(raw["base_latency_us"]),
        hw_latency_us=MappingProxyType({hw: _rows(t) for hw, t in raw["hw_latency_us"].items()}),
        nvls_efficiency=MappingProxyType(dict(model["nvls_efficiency"])),
        channel_gbps=MappingProxyType({a: tuple(v) for a, v in model["channel_gbps"].items()}),
        max_nvls_channels=int(model["max_nvls_channels"]),
        caps=MappingProxyType(caps),
        tree_correction=MappingProxyType({p: tuple(raw["tree_correction"][p]) for p in PROTOCOLS}),
        ring_plateau_latency_factor=float(raw["refinements"]["ring_plateau_latency_factor"]),
        net_overhead_us=float(raw["refinements"]["net_overhead_us"]),
        sources=tuple(docs[i] for i in model["sources"]),
    )
